"""Start the sandbox as its own process for a benchmark and read the lines it prints (not a benchmark itself)."""

from __future__ import annotations

import signal
import subprocess
import sys


def start_sandbox(*arguments: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Run ``python -m airflow_asf_ifg.sandbox serve --format env ARGUMENTS``; return it and its lines at READY.

    :param arguments: ``serve`` options.
    """
    # --format env: plain NAME=value lines for a machine to read (the default prints shell exports).
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_asf_ifg.sandbox", "serve", "--format", "env", *arguments],
        stdout=subprocess.PIPE,
        text=True,
    )
    printed: dict[str, str] = {}
    for line in process.stdout:  # type: ignore[union-attr]
        if line.strip() == "READY":
            return process, printed
        name, _, value = line.strip().partition("=")
        printed[name] = value
    raise RuntimeError(f"the sandbox exited with {process.wait()} before READY")


def stop_sandbox(process: subprocess.Popen[str]) -> None:
    """SIGTERM the sandbox and wait for it.

    :param process: from :func:`start_sandbox`.
    """
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
