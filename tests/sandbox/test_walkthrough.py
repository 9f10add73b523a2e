"""The demo's walkthrough of the 2018 page's steps runs end to end against its own sandbox."""

from __future__ import annotations

import os
import subprocess
import sys


def test_walkthrough_prints_every_step_and_verifies_the_download():
    env = {k: v for k, v in os.environ.items() if k != "NETRC"}
    result = subprocess.run(
        [sys.executable, "-m", "airflow_asf_ifg.sandbox.walkthrough"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for number in range(1, 8):
        assert f"== Step {number}:" in result.stdout
    assert "matches CMR" in result.stdout
    assert "status: {'status': 'available'" in result.stdout  # an archived product was retrieved
    assert "Done: the sandbox is stopped." in result.stdout
    credentials_line = next(line for line in result.stdout.splitlines() if "SecretAccessKey=" in line)
    assert "…" in credentials_line  # secrets are shown masked
