"""docker-compose.yaml, Dockerfile and .env.example checked for consistency (this machine has no Docker engine).

The compose file is parsed with PyYAML, which resolves its anchors and merge keys as compose does; the sandbox
block of .env.example is compared with what the sandbox really prints when started with the compose options.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from airflow_asf_ifg.sandbox.config import SANDBOX_USER, USER_ACCESS_KEY
from airflow_asf_ifg.sandbox.ports import free_port
from tests.sandbox.test_cli import serve

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_COMMANDS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
AIRFLOW_SERVICES = (*AIRFLOW_COMMANDS, "airflow-init")
CONNECTIONS = ("AIRFLOW_CONN_EARTHDATA_DEFAULT", "AIRFLOW_CONN_AWS_DEFAULT")
ENV_EXAMPLE_LINE = re.compile(r"^#\s*(AIRFLOW_CONN_[A-Z_]+)='(.*)'$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, Any]:
    return compose["services"]


def option(command: list[str], name: str) -> list[str]:
    """Every value given to ``name`` in an argument list (``--bucket a --bucket b`` → ``[a, b]``)."""
    return [command[i + 1] for i, arg in enumerate(command[:-1]) if arg == name]


def env_examples() -> dict[str, list[dict[str, Any]]]:
    """The commented connection examples of .env.example, decoded: name → every JSON value given."""
    examples: dict[str, list[dict[str, Any]]] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if match := ENV_EXAMPLE_LINE.match(line):
            examples.setdefault(match.group(1), []).append(json.loads(match.group(2)))
    return examples


def mentions_sandbox(connection: dict[str, Any]) -> bool:
    """Whether any URL of a connection's extra names the compose service ``sandbox``."""
    return any(
        isinstance(value, str) and urlsplit(value).hostname == "sandbox"
        for value in connection.get("extra", {}).values()
    )


class TestServices:
    def test_the_official_celery_shape(self, services):
        assert set(services) == {"postgres", "redis", *AIRFLOW_SERVICES, "sandbox"}
        for name, command in AIRFLOW_COMMANDS.items():
            assert services[name]["command"] == command, name
        assert services["postgres"]["image"].startswith("postgres:")
        assert services["redis"]["image"].startswith("redis:")
        assert services["airflow-apiserver"]["ports"] == ["8080:8080"]

    def test_every_airflow_service_shares_image_env_file_and_environment(self, compose, services):
        common = compose["x-airflow-common"]
        assert common["build"] == "." and common["image"] == "airflow-asf-ifg:latest"
        for name in AIRFLOW_SERVICES:
            service = services[name]
            assert (service["build"], service["image"]) == (common["build"], common["image"]), name
            assert [entry["path"] if isinstance(entry, dict) else entry for entry in service["env_file"]] == [".env"]
            # The environment anchor, merged whole (the worker and airflow-init only add to it).
            assert service["environment"].items() >= common["environment"].items(), name
            # Connections come from .env only: a value here would override it for every run.
            assert not set(service["environment"]) & set(CONNECTIONS), name
            assert service["user"] == "${AIRFLOW_UID:-50000}:0" or name == "airflow-init"

    def test_celery_executor_on_redis_and_postgres(self, compose, services):
        environment = compose["x-airflow-common"]["environment"]
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        broker = urlsplit(environment["AIRFLOW__CELERY__BROKER_URL"])
        assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379)
        backend = urlsplit(environment["AIRFLOW__CELERY__RESULT_BACKEND"])
        assert (backend.scheme, backend.hostname) == ("db+postgresql", "postgres")
        database = urlsplit(environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert database.scheme.startswith("postgresql") and database.hostname == "postgres"
        assert environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        postgres = services["postgres"]["environment"]
        assert (database.username, database.password, database.path) == (
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
            "/" + postgres["POSTGRES_DB"],
        )

    def test_dependencies_wait_for_health_and_init(self, services):
        for name in AIRFLOW_SERVICES:
            depends_on = services[name]["depends_on"]
            assert depends_on["postgres"]["condition"] == "service_healthy", name
            assert depends_on["redis"]["condition"] == "service_healthy", name
            if name != "airflow-init":
                assert depends_on["airflow-init"]["condition"] == "service_completed_successfully", name
        # Tasks talk to the Execution API, so workers start once the API server answers.
        assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"

    def test_every_long_running_service_has_a_healthcheck(self, services):
        for name, service in services.items():
            if name == "airflow-init":
                assert service["restart"] == "no"
                continue
            test = service["healthcheck"]["test"]
            assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
        scheduler = " ".join(services["airflow-scheduler"]["healthcheck"]["test"])
        assert ":8974/health" in scheduler
        worker = " ".join(services["airflow-worker"]["healthcheck"]["test"])
        assert "celery" in worker and "inspect ping" in worker

    def test_dags_are_read_from_the_dags_folder(self, compose, services):
        for name in AIRFLOW_SERVICES:
            mounts = dict(volume.split(":")[:2][::-1] for volume in services[name]["volumes"])
            assert mounts["/opt/airflow/dags"] == "./dags", name
            named = [source for source in mounts.values() if not source.startswith(".")]
            assert set(named) <= set(compose["volumes"]), name
        assert (ROOT / "dags" / "asf_ifg_aoi_ingest.py").is_file() and (ROOT / "dags" / "aois.yaml").is_file()

    def test_compose_variables_are_the_documented_ones(self):
        text = (ROOT / "docker-compose.yaml").read_text()
        # ${NAME} and $NAME are compose's; $$ is a literal $ for the container's shell.
        used = set(re.findall(r"(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))
        assert used == {"AIRFLOW_UID", "_AIRFLOW_WWW_USER_PASSWORD"}
        example = (ROOT / ".env.example").read_text()
        for name in used:
            assert re.search(rf"^#?\s*{name}=", example, re.MULTILINE), name


class TestImage:
    def test_dockerfile_extends_airflow_3_3_2_and_installs_the_package(self):
        dockerfile = (ROOT / "Dockerfile").read_text()
        assert re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE) == ["apache/airflow:3.3.2"]
        makefile = (ROOT / "Makefile").read_text()
        assert re.search(r"^AIRFLOW_VERSION \?= 3\.3\.2$", makefile, re.MULTILINE), "the tests' Airflow differs"
        assert "COPY --chown=airflow:0 airflow_asf_ifg /opt/airflow-asf-ifg/airflow_asf_ifg" in dockerfile
        assert "pyproject.toml" in dockerfile
        install = next(line for line in dockerfile.splitlines() if line.startswith("RUN pip install"))
        assert '"apache-airflow==${AIRFLOW_VERSION}"' in install and '"/opt/airflow-asf-ifg[sandbox]"' in install

    def test_no_packages_installed_at_container_start(self):
        for name in ("docker-compose.yaml", "Dockerfile", ".env.example", ".dockerignore"):
            assert "_PIP_ADDITIONAL_REQUIREMENTS" not in (ROOT / name).read_text(), name

    def test_env_stays_out_of_git_and_of_the_image(self):
        assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
        assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()


class TestConnections:
    def test_env_example_shows_real_and_sandbox_connections_commented(self):
        examples = env_examples()
        assert set(examples) == set(CONNECTIONS)
        for name in CONNECTIONS:
            real = [c for c in examples[name] if not mentions_sandbox(c)]
            sandbox = [c for c in examples[name] if mentions_sandbox(c)]
            assert real and len(sandbox) == 1, name
        for connection in examples["AIRFLOW_CONN_EARTHDATA_DEFAULT"]:
            assert connection["conn_type"] == "earthdata"
        for connection in examples["AIRFLOW_CONN_AWS_DEFAULT"]:
            assert connection["conn_type"] == "aws"
        # Real use talks to the public services: no endpoint overrides.
        for connection in examples["AIRFLOW_CONN_EARTHDATA_DEFAULT"] + examples["AIRFLOW_CONN_AWS_DEFAULT"]:
            if not mentions_sandbox(connection):
                assert not {"cmr_url", "edl_url", "s3_endpoint_url", "endpoint_url"} & set(connection.get("extra", {}))
        text = (ROOT / ".env.example").read_text()
        assert re.search(r"^# COMPOSE_PROFILES=sandbox$", text, re.MULTILINE)
        # Nothing is set by copying the file as it is but the user id.
        assigned = [line.split("=")[0] for line in text.splitlines() if line and not line.startswith("#")]
        assert assigned == ["AIRFLOW_UID"]


class TestSandboxProfile:
    def test_sandbox_runs_only_under_its_profile_from_the_same_image(self, compose, services):
        sandbox = services["sandbox"]
        assert sandbox["profiles"] == ["sandbox"]
        assert (sandbox["build"], sandbox["image"]) == (
            compose["x-airflow-common"]["build"],
            compose["x-airflow-common"]["image"],
        )
        assert sandbox["entrypoint"] == ["python", "-m", "airflow_asf_ifg.sandbox", "serve"]
        for name in ("postgres", "redis", *AIRFLOW_SERVICES):
            assert "profiles" not in services[name], name

    def test_sandbox_listens_for_other_containers_and_names_its_service(self, services):
        command = services["sandbox"]["command"]
        assert option(command, "--host") == ["0.0.0.0"]
        assert option(command, "--public-host") == ["sandbox"], "URLs must name this service's DNS name"
        port = int(option(command, "--port")[0])
        assert f"http://localhost:{port}/__sandbox__/health" in " ".join(services["sandbox"]["healthcheck"]["test"])
        assert services["sandbox"]["ports"] == [f"127.0.0.1:{port}:{port}"]

    def test_sandbox_creates_every_destination_bucket_of_the_dags(self, services):
        aois = yaml.safe_load((ROOT / "dags" / "aois.yaml").read_text())["aois"]
        buckets = {aoi["dest_bucket"] for aoi in aois}
        assert "asf-ifg-ingest" in buckets
        assert buckets <= set(option(services["sandbox"]["command"], "--bucket"))

    def test_env_example_sandbox_block_is_what_the_sandbox_prints(self, services):
        command = services["sandbox"]["command"]
        port = int(option(command, "--port")[0])
        # The compose options, but on loopback and on ports free here (the printed URLs depend on neither).
        first = free_port(consecutive=4)
        local = [*command]
        local[local.index("--host") + 1] = "127.0.0.1"
        local[local.index("--port") + 1] = str(first)
        with serve(*local, "--metadata-only", "--granules", "1") as (_, printed, _):
            pass
        expected = {}
        for name in CONNECTIONS:
            value = printed[name]
            for offset in range(4):
                value = value.replace(f"//sandbox:{first + offset}", f"//sandbox:{port + offset}")
            expected[name] = json.loads(value)
        examples = env_examples()
        for name in CONNECTIONS:
            assert [c for c in examples[name] if mentions_sandbox(c)] == [expected[name]], name
        assert expected["AIRFLOW_CONN_EARTHDATA_DEFAULT"]["login"] == SANDBOX_USER
        assert expected["AIRFLOW_CONN_AWS_DEFAULT"]["login"] == USER_ACCESS_KEY
