"""Test session setup: Airflow on a throw-away AIRFLOW_HOME (SQLite), no example DAGs, no real AWS."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

# Airflow reads its configuration at import time, so this runs before any test module imports it.
_HOME = tempfile.mkdtemp(prefix="asf-ifg-airflow-")
_EXAMPLE_DAGS = Path(__file__).resolve().parent.parent / "dags"
#: Tests write their own DAG files here; dag.test() only runs DAGs it finds in a configured bundle.
TEST_DAGS = Path(_HOME) / "test_dags"
TEST_DAGS.mkdir()
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_EXAMPLE_DAGS)
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {
            "name": name,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(path)},
        }
        for name, path in (("examples", _EXAMPLE_DAGS), ("tests", TEST_DAGS))
    ]
)
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
for _name in (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AIRFLOW_CONN_EARTHDATA_DEFAULT",
    "AIRFLOW_CONN_AWS_DEFAULT",
    "NETRC",
):
    os.environ.pop(_name, None)
# A test must never find the developer's own ~/.netrc.
os.environ["NETRC"] = str(Path(_HOME) / "no.netrc")


@pytest.fixture
def netrc_for(tmp_path, monkeypatch) -> Callable[..., str]:
    """Write a .netrc with a login for the sandbox's EDL host and point NETRC at it."""
    from airflow_asf_ifg.sandbox.config import SANDBOX_PASSWORD, SANDBOX_USER

    def write(sandbox, login: str = SANDBOX_USER, password: str = SANDBOX_PASSWORD) -> str:
        path = tmp_path / "netrc"
        path.write_text(f"machine {urlsplit(sandbox.urls.edl).hostname} login {login} password {password}\n")
        path.chmod(0o600)
        monkeypatch.setenv("NETRC", str(path))
        return str(path)

    return write


@pytest.fixture
def stats(asf_sandbox) -> Callable[[], dict]:
    """Read the sandbox's stats over HTTP."""

    def read() -> dict:
        return requests.get(f"{asf_sandbox.urls.sandbox}/__sandbox__/stats", timeout=10).json()

    return read


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A fresh SQLite metadata database in the session's AIRFLOW_HOME."""
    from airflow.utils import db

    db.resetdb()


@pytest.fixture
def api_server(airflow_db, monkeypatch):
    """Airflow's API server app (simple auth manager, everyone admin) in a test client, and a user's token."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "a-secret-for-the-test-api-server-" + "x" * 40)
    with TestClient(create_app()) as client:
        token = client.get("/auth/token").json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def dag_from_source(airflow_db, request) -> Callable[[str], object]:
    """Write DAG source into the tests' bundle and return the DAG it defines (its id is the test's name)."""

    def load(source: str):
        name = re.sub(r"\W+", "_", request.node.name).strip("_")
        path = TEST_DAGS / f"{name}.py"
        path.write_text(textwrap.dedent(source).replace("__DAG_ID__", name))
        spec = importlib.util.spec_from_file_location(f"test_dag_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.dag

    return load


def xcom_value(dag_run, task_id: str, key: str = "return_value", map_index: int = -1):
    """A task's XCom value from the metadata database after ``dag.test()`` (the demo's own reader)."""
    from airflow_asf_ifg.sandbox.demo import task_result

    return task_result(dag_run, task_id, key, map_index)


def task_states(dag_run) -> dict[str, str]:
    """task_id (with [map_index] when mapped) → state, after ``dag.test()``."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id)
        ).all()
        return {(t.task_id if t.map_index < 0 else f"{t.task_id}[{t.map_index}]"): str(t.state) for t in rows}
