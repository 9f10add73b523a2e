"""How long the sandbox takes to be READY and how much memory it holds, beside the bare import as a baseline.

Runs ``python -m airflow_asf_ifg.sandbox serve`` several times per setting in fresh processes and prints
medians: seconds to READY, and peak resident memory (VmHWM) at READY, for small and large products.
Usage: ``python benchmarks/sandbox_startup.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import time


def peak_rss_mib(pid: int) -> float:
    """Peak resident set size of a process in MiB (Linux ``VmHWM``).

    :param pid: the process id.
    """
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def time_to_ready(args: list[str]) -> tuple[float, float]:
    """Start ``serve`` with ``args``; return (seconds until READY, peak RSS MiB at READY).

    :param args: extra ``serve`` arguments.
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_asf_ifg.sandbox", "serve", *args], stdout=subprocess.PIPE, text=True
    )
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            if line.strip() == "READY":
                return time.perf_counter() - started, peak_rss_mib(process.pid)
        raise RuntimeError(f"serve {args} exited with {process.wait()} before READY")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def time_import() -> tuple[float, float]:
    """Baseline: a fresh interpreter that only imports the sandbox's server module."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import airflow_asf_ifg.sandbox.server"], check=True)
    return time.perf_counter() - started, float("nan")


def main() -> None:
    """Measure every setting and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    settings = [
        ("baseline: import only", None),
        ("serve, 60 granules x 256 KiB", ["--granules", "12"]),
        ("serve, 60 granules x 8 MiB", ["--granules", "12", "--product-bytes", str(8 * 1024 * 1024)]),
        ("serve, 300 granules x 64 KiB", ["--granules", "60", "--product-bytes", str(64 * 1024)]),
    ]
    print(f"sandbox startup, median of {runs} runs (fresh process each)")
    print(f"{'setting':<34} {'seconds':>9} {'peak RSS MiB':>13}")
    baseline = None
    for name, args in settings:
        results = [time_import() if args is None else time_to_ready(args) for _ in range(runs)]
        seconds = statistics.median(r[0] for r in results)
        rss = statistics.median(r[1] for r in results)
        baseline = baseline or seconds
        ratio = f"  ({seconds / baseline:.1f}x baseline)" if args else ""
        memory = "-" if args is None else f"{rss:.0f}"
        print(f"{name:<34} {seconds:>9.2f} {memory:>13}{ratio}")


if __name__ == "__main__":
    main()
