"""Airflow in the production shape, on loopback: PostgreSQL, Redis, and CeleryExecutor with two workers.

Every Airflow process reads one airflow.cfg, written once from :mod:`tests.production.settings` with freshly
generated secrets; none gets an ``AIRFLOW__*`` variable, so what works here works from that file alone (as
in docker compose, where airflow-init writes the file into the shared config volume). Each process runs in
its own process group, so a test can SIGKILL one (a worker mid-copy, the triggerer) and start it again.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import redis
import requests

from airflow_asf_ifg.sandbox.ports import free_port
from tests.e2e.stack import COMPONENTS, USER, AirflowStack
from tests.production import hostname
from tests.production.settings import (
    Endpoints,
    Setting,
    config_text,
    generate_secrets,
    shared_settings,
)
from tests.sandbox.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "airflow"
#: A shared task slot count that two cores can carry: a run's copies (4 at most) fit on either worker.
WORKER_CONCURRENCY = 4
#: Seconds without a heartbeat before the scheduler fails a task instance (its worker is gone).
HEARTBEAT_TIMEOUT = 20
#: Seconds before Redis gives an unacknowledged task (acks late: acknowledged when done) to a worker again.
VISIBILITY_TIMEOUT = 20


@dataclass(frozen=True)
class Worker:
    """One ``airflow celery worker``.

    :param name: its Celery node name and the host name its task instances report.
    :param queues: the Celery queues it consumes, comma separated.
    """

    name: str
    queues: str


WORKERS = (Worker("worker-a", "default"), Worker("worker-b", "default,copies"))


def postgres_bin() -> Path:
    """Debian's PostgreSQL binaries (the newest installed version); they are not on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: make system-packages installs Debian's postgresql")
    return Path(found[-1]).parent


class Postgres:
    """A PostgreSQL cluster of its own, run as the unprivileged ``postgres`` user (initdb refuses root).

    :param user: the superuser that owns the ``airflow`` database.
    """

    def __init__(self, user: str = "airflow") -> None:
        self.bin = postgres_bin()
        self.user = user
        self.password = secrets.token_urlsafe(16)
        self.port = free_port()
        # Outside the test's tmp_path: pytest's directories are root-only, and postgres must reach its data.
        self.root = Path(tempfile.mkdtemp(prefix="asf-ifg-postgres-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        shutil.chown(self.root, "postgres", "postgres")

    @property
    def address(self) -> str:
        """``user:password@host:port/database``, the form :class:`Endpoints` takes."""
        return f"{self.user}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def _as_postgres(self, *argv: str) -> None:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, timeout=120)
        if done.returncode:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise AssertionError(f"{argv[0]} failed: {done.stderr.decode(errors='replace')}\n{log}")

    def start(self) -> None:
        """initdb on first start, then ``pg_ctl start`` and wait until it accepts connections."""
        if not self.data.exists():
            password_file = self.root / "password"
            password_file.write_text(self.password)
            shutil.chown(password_file, "postgres", "postgres")
            self._as_postgres(
                str(self.bin / "initdb"),
                f"--pgdata={self.data}",
                f"--username={self.user}",
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
            )
            password_file.unlink()
            settings = {
                "listen_addresses": "'127.0.0.1'",
                "port": str(self.port),
                "unix_socket_directories": f"'{self.root}'",
                # Ten Airflow processes, each with a connection pool, plus Celery's result backend per task.
                "max_connections": "300",
                # A throw-away database: durability costs time and buys nothing here.
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
            }
            with open(self.data / "postgresql.conf", "a") as conf:
                conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
            self._pg_ctl("start")
            with contextlib.closing(self.connect("postgres")) as connection:
                connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
                connection.cursor().execute(f"CREATE DATABASE {DATABASE}")
        else:
            self._pg_ctl("start")

    def _pg_ctl(self, action: str) -> None:
        self._as_postgres(
            str(self.bin / "pg_ctl"), action, f"--pgdata={self.data}", f"--log={self.log}", "--wait", "--timeout=60"
        )

    def connect(self, database: str = DATABASE) -> psycopg2.extensions.connection:
        """A new connection as the superuser.

        :param database: which database.
        """
        return psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.user, password=self.password, dbname=database
        )

    def stop(self) -> None:
        """``pg_ctl stop -m fast`` (open connections are cut, as in a restart for maintenance)."""
        if (self.data / "postmaster.pid").exists():
            self._as_postgres(
                str(self.bin / "pg_ctl"), "stop", f"--pgdata={self.data}", "--mode=fast", "--wait", "--timeout=60"
            )

    def restart(self) -> None:
        """Stop, then start again on the same port and data."""
        self.stop()
        self._pg_ctl("start")

    def remove(self) -> None:
        """Stop and delete the data directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class Redis:
    """A Redis of its own on a free loopback port, in memory only (no RDB, no AOF)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="asf-ifg-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``host:port``, the form :class:`Endpoints` takes."""
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        """A redis-py client of database 0 (Celery's broker)."""
        return redis.Redis(host="127.0.0.1", port=self.port, db=0, socket_timeout=5)

    def start(self) -> None:
        """Start ``redis-server`` in its own process group and wait for PING."""
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed: make system-packages installs Debian's redis-server")
        with open(self.root / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
                [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def pong() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"redis-server exited: {(self.root / 'redis.log').read_text()[-2000:]}")
            with contextlib.suppress(redis.ConnectionError), contextlib.closing(self.client()) as client:
                return bool(client.ping())
            return False

        wait_for(pong, 30, "redis-server to answer PING", every=0.2)

    def stop(self) -> None:
        """SIGTERM its process group (SIGKILL after 10 s) and delete its directory."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def cluster_settings(endpoints: Endpoints, secrets: dict[Setting, str], home: Path, dags: Path) -> dict[Setting, str]:
    """Everything the cluster's airflow.cfg holds: the shared settings, the secrets, and what is local to it.

    :param endpoints: where the API server, Redis and PostgreSQL listen.
    :param secrets: the generated shared secrets.
    :param home: the AIRFLOW_HOME.
    :param dags: the DAG folder.
    """
    port = endpoints.api_server.rsplit(":", 1)[1]
    bundle = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [{"name": "examples", "classpath": bundle, "kwargs": {"path": str(dags)}}]
    local = {
        ("core", "dags_folder"): str(dags),
        ("core", "parallelism"): "16",
        ("core", "dags_are_paused_at_creation"): "True",
        ("core", "simple_auth_manager_users"): f"{USER}:admin",
        ("core", "simple_auth_manager_passwords_file"): str(home / "simple_auth_manager_passwords.json"),
        # Two workers on one machine would report the same host name; each names itself (see hostname.py).
        ("core", "hostname_callable"): f"{hostname.__name__}.hostname",
        ("api", "host"): "127.0.0.1",
        ("api", "port"): port,
        ("api", "base_url"): endpoints.api_server,
        ("api", "workers"): "1",
        ("dag_processor", "refresh_interval"): "5",
        ("dag_processor", "dag_bundle_config_list"): json.dumps(bundles),
        ("logging", "base_log_folder"): str(home / "logs"),
        ("logging", "worker_log_server_port"): str(free_port()),
        ("logging", "trigger_log_server_port"): str(free_port()),
        ("celery", "worker_concurrency"): str(WORKER_CONCURRENCY),
        # Shorter than production's so that the faults play out in seconds. A SIGKILLed worker's task is
        # noticed after the heartbeat timeout (default 300 s) and then retried...
        ("scheduler", "task_instance_heartbeat_timeout"): str(HEARTBEAT_TIMEOUT),
        # ...and Redis hands an unacknowledged task to another worker after the visibility timeout (Airflow's
        # default 86400 s, longer than any task): here a long copy outlives it while it runs, on purpose.
        ("celery_broker_transport_options", "visibility_timeout"): str(VISIBILITY_TIMEOUT),
    }
    return {**shared_settings(endpoints), **secrets, **local}


class CeleryCluster(AirflowStack):
    """PostgreSQL, Redis, and Airflow's api-server, scheduler, dag-processor, triggerer and two Celery workers.

    :param home: the AIRFLOW_HOME (created).
    :param dags: the DAG folder.
    :param extra_environment: more variables for every process, e.g. the connections (no ``AIRFLOW__*``).
    """

    def __init__(self, home: Path, dags: Path, extra_environment: dict[str, str]) -> None:
        super().__init__(home, dags, extra_environment)
        self.postgres = Postgres()
        self.redis = Redis()
        self.endpoints = Endpoints(api_server=self.url, redis=self.redis.address, database=self.postgres.address)
        self.secrets = generate_secrets()
        self.settings = cluster_settings(self.endpoints, self.secrets, home, dags)
        self.config = home / "airflow.cfg"
        self.config.write_text(config_text(self.settings))
        self.config.chmod(0o600)
        assert not [name for name in extra_environment if name.startswith("AIRFLOW__")], "settings go in the file"
        # The parent's environment is thrown away: no AIRFLOW__* of the test session may reach the processes.
        self.environment = {
            **{name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")},
            "AIRFLOW_HOME": str(home),
            "AIRFLOW_CONFIG": str(self.config),
            "PYTHONPATH": str(ROOT),  # hostname_callable lives in tests/production
            **extra_environment,
        }
        self.commands: dict[str, list[str]] = {component: [component] for component in COMPONENTS}
        self.starts: dict[str, int] = {}  # how many times each process was started
        self.supervising = False  # while True, a process that exits is started again (see supervised)
        for worker in WORKERS:
            # Both workers share the config's log server port on this one machine, so neither serves logs;
            # the API server reads task logs from the shared log folder (compose's shared airflow-logs volume).
            self.commands[worker.name] = [
                "celery",
                "worker",
                "--celery-hostname",
                worker.name,
                "--queues",
                worker.queues,
                "--skip-serve-logs",
            ]

    def start(self) -> None:
        """PostgreSQL and Redis, the database migration, then every Airflow process in its own group."""
        self.postgres.start()
        self.redis.start()
        migrated = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=self.environment,
            capture_output=True,
            timeout=600,
        )
        if migrated.returncode:
            raise AssertionError(f"airflow db migrate failed:\n{migrated.stderr.decode(errors='replace')[-3000:]}")
        (self.home / "process-logs").mkdir(exist_ok=True)
        for name in self.commands:
            self.start_process(name)

    def start_process(self, name: str) -> None:
        """Start (or start again) one Airflow process; its log is appended to.

        :param name: a component (``scheduler``, ``triggerer``...) or a worker's name.
        """
        worker = {worker.name: worker for worker in WORKERS}.get(name)
        self.starts[name] = self.starts.get(name, 0) + 1
        environment = {**self.environment, hostname.VARIABLE: worker.name} if worker else self.environment
        with open(self.home / "process-logs" / f"{name}.log", "ab") as output:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "airflow", *self.commands[name]],
                env=environment,
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @contextlib.contextmanager
    def supervised(self, every: float = 0.5) -> Iterator[list[str]]:
        """Start again any process that exits meanwhile, as compose's ``restart: always`` does.

        Airflow's processes retry a lost database a few times (``max_db_retries``, about 3 s), then exit, and
        rely on their supervisor: a PostgreSQL restart that takes longer, as on a loaded machine, ends them.
        Outside this block an exit fails :meth:`check_alive`, so that a crash is never hidden.

        :param every: seconds between two looks.
        """
        restarted: list[str] = []
        done = threading.Event()

        def watch() -> None:
            while not done.wait(every):
                for name, process in list(self.processes.items()):
                    if process.poll() is not None:
                        restarted.append(f"{name} (exited {process.returncode})")
                        self.start_process(name)

        self.supervising = True
        watcher = threading.Thread(target=watch, name="compose-restart-always", daemon=True)
        watcher.start()
        try:
            yield restarted
        finally:
            done.set()
            watcher.join()
            self.supervising = False

    def check_alive(self) -> None:
        """Fail with a process's log tail if it exited, unless :meth:`supervised` starts it again."""
        if not self.supervising:
            super().check_alive()

    def workers_ready(self) -> bool:
        """Whether every Celery worker is running and logged that it is ready since its last start."""
        logs = self.home / "process-logs"
        return all(
            worker.name in self.processes
            and (logs / f"{worker.name}.log").read_text(errors="replace").count(f"celery@{worker.name} ready")
            >= self.starts[worker.name]
            for worker in WORKERS
        )

    def healthy(self) -> bool:
        """The API server, metadatabase, scheduler, triggerer and dag-processor healthy, and both workers ready."""
        if not super().healthy():
            return False
        health = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
        return (
            all(health.get(part, {}).get("status") == "healthy" for part in ("triggerer", "dag_processor"))
            and self.workers_ready()
        )

    def stop(self) -> None:
        """Every Airflow process group, then Redis and PostgreSQL (data deleted, its log kept with the others)."""
        try:
            super().stop()
        finally:
            try:
                self.redis.stop()
            finally:
                with contextlib.suppress(OSError):  # it never started
                    shutil.copy(self.postgres.log, self.home / "process-logs" / "postgres.log")
                self.postgres.remove()
