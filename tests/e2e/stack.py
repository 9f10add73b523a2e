"""Real Airflow processes for the end-to-end suite: api-server, scheduler, dag-processor, triggerer (LocalExecutor)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from airflow_asf_ifg.sandbox.demo import airflow_environment
from airflow_asf_ifg.sandbox.ports import free_port

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
USER = "admin"
#: A viewer whom the stack's auth manager lets read no DAG at all (tests/e2e/auth_manager.py).
OUTSIDER = "outsider"


class AirflowStack:
    """Airflow's processes on a temporary AIRFLOW_HOME, stopped (process groups and all) by :meth:`stop`.

    :param home: the AIRFLOW_HOME (created).
    :param dags: the DAG folder (the ``examples`` bundle).
    :param extra_environment: more variables, e.g. the connections.
    """

    def __init__(self, home: Path, dags: Path, extra_environment: dict[str, str]) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.outsider_password = secrets.token_urlsafe(12)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        passwords = {USER: self.password, OUTSIDER: self.outsider_password}
        (home / "simple_auth_manager_passwords.json").write_text(json.dumps(passwords))
        self.environment = {
            **os.environ,
            **airflow_environment(str(home), dags),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            # The simple auth manager, with the outsider limited to no DAG (PYTHONPATH: it lives in tests/).
            "AIRFLOW__CORE__AUTH_MANAGER": "tests.e2e.auth_manager.DagReadersAuthManager",
            "ASF_IFG_TEST_DAG_READERS": f"{OUTSIDER}=",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin,{OUTSIDER}:viewer",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__CORE__PARALLELISM": "8",
            **extra_environment,
        }
        self._token: str | None = None

    def start(self) -> None:
        """Create the database, then start every component, each in its own process group."""
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=self.environment,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=300,
        )
        (self.home / "process-logs").mkdir(exist_ok=True)
        for component in COMPONENTS:
            self.start_component(component)

    def start_component(self, component: str) -> None:
        """Start (or start again) one component in its own process group; its log is appended to.

        :param component: ``api-server``, ``scheduler``, ``dag-processor`` or ``triggerer``.
        """
        with open(self.home / "process-logs" / f"{component}.log", "ab") as output:
            self.processes[component] = subprocess.Popen(
                [sys.executable, "-m", "airflow", component],
                env=self.environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal one process's whole group and wait for its leader (it is no longer checked as alive).

        :param name: a component (or, in a subclass, a worker's name).
        :param sig: the signal.
        """
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):  # it exited already
            os.killpg(process.pid, sig)
        process.wait(timeout=60)

    def stop(self) -> None:
        """SIGTERM every process group, then SIGKILL what is still running after 30 s."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):  # it exited already
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):  # it exited already
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def check_alive(self) -> None:
        """Fail with the component's log tail when one of the processes has exited."""
        for component, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.home / "process-logs" / f"{component}.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"airflow {component} exited with {process.returncode}:\n{tail}")

    def healthy(self) -> bool:
        """Whether the API server answers and reports a healthy metadatabase and scheduler."""
        self.check_alive()
        try:
            health = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
        except (requests.ConnectionError, requests.Timeout, ValueError):
            return False
        return (
            health.get("metadatabase", {}).get("status") == "healthy"
            and health.get("scheduler", {}).get("status") == "healthy"
        )

    def token_for(self, user: str, password: str) -> str:
        """A JWT for another user of the simple auth manager.

        :param user: the user name.
        :param password: the user's password.
        """
        response = requests.post(f"{self.url}/auth/token", json={"username": user, "password": password}, timeout=30)
        response.raise_for_status()
        return str(response.json()["access_token"])

    @property
    def token(self) -> str:
        """A JWT for the REST API, from the simple auth manager's login."""
        if self._token is None:
            response = requests.post(
                f"{self.url}/auth/token", json={"username": USER, "password": self.password}, timeout=30
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the REST API (``/api/v2`` + ``path``) as the admin user.

        :param method: HTTP method.
        :param path: path under ``/api/v2``.
        :param kwargs: passed to requests.
        """
        self.check_alive()
        return requests.request(
            method, f"{self.url}/api/v2{path}", headers={"Authorization": f"Bearer {self.token}"}, timeout=30, **kwargs
        )
