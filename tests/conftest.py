"""Test session setup: Airflow on a throw-away AIRFLOW_HOME (SQLite), no example DAGs, no real AWS."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Airflow reads its configuration at import time, so this runs before any test module imports it.
_HOME = tempfile.mkdtemp(prefix="asf-ifg-airflow-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parent.parent / "dags")
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
              "AIRFLOW_CONN_EARTHDATA_DEFAULT", "AIRFLOW_CONN_AWS_DEFAULT", "NETRC"):
    os.environ.pop(_name, None)
# A test must never find the developer's own ~/.netrc.
os.environ["NETRC"] = str(Path(_HOME) / "no.netrc")
