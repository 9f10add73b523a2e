"""``make demo-events`` as a new user runs it: airflow standalone, a publication, the product in the bucket."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(600)


def test_the_events_demo_shows_a_published_product_landing(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "airflow_asf_ifg.sandbox.demo_events"],
        capture_output=True,
        text=True,
        timeout=560,
        cwd=tmp_path,  # nothing of the checkout's own Airflow home or DAG folder is used
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert re.search(r"landed \d+\.\d s after it was published;\n\s+its MD5 matches CMR's", done.stdout), done.stdout
