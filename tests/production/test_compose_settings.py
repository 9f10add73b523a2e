"""docker-compose.yaml sets what the production cluster proved every process needs, the same way (no processes).

The settings come from ``tests/production/settings.py``, the module the cluster writes its airflow.cfg from,
filled in with the compose file's own service names, credentials and ports.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.production.settings import (
    SHARED_SECRETS,
    Endpoints,
    environment_name,
    same_value,
    shared_settings,
)

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
)
API_SERVER_DEFAULT_PORT = 8080  # Airflow's [api] port, which compose leaves as it is


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["services"]


@pytest.fixture(scope="module")
def endpoints(services) -> Endpoints:
    """Where compose's processes find each other, read from the compose file itself."""
    postgres = services["postgres"]["environment"]
    assert "AIRFLOW__API__PORT" not in services["airflow-apiserver"]["environment"]
    published = [port.split(":")[-1] for port in services["airflow-apiserver"]["ports"]]
    assert str(API_SERVER_DEFAULT_PORT) in published
    assert "6379" in [str(port) for port in services["redis"]["expose"]]
    return Endpoints(
        api_server=f"http://airflow-apiserver:{API_SERVER_DEFAULT_PORT}",
        redis="redis:6379",
        database=f"{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres/{postgres['POSTGRES_DB']}",
    )


def config_mount(service: dict[str, Any]) -> str | None:
    """The named volume a service mounts at AIRFLOW_CONFIG's directory, if any.

    :param service: a compose service.
    """
    directory = str(Path(service["environment"]["AIRFLOW_CONFIG"]).parent)
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        if target == directory:
            return source
    return None


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_every_process_gets_the_shared_settings(services, endpoints, name):
    environment = services[name]["environment"]
    for setting, expected in shared_settings(endpoints).items():
        variable = environment_name(setting)
        assert variable in environment, f"{name} does not set {variable}"
        assert same_value(str(environment[variable]), expected), (name, variable, environment[variable], expected)


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_secrets_come_from_one_generated_config_file(services, name):
    service = services[name]
    for setting in SHARED_SECRETS:
        # A value per container (or a literal in this file) is exactly what must not happen: one generated file.
        assert not {variable for variable in service["environment"] if variable.startswith(environment_name(setting))}
    assert service["environment"]["AIRFLOW_CONFIG"] == "/opt/airflow/config/airflow.cfg"
    assert config_mount(service) == "airflow-config", f"{name} does not mount the shared config volume"
    if name != "airflow-init":
        # Nobody reads the file before airflow-init has written it.
        assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name


def test_airflow_init_writes_the_secrets_before_anything_else(services):
    script = services["airflow-init"]["command"][-1]
    commands = [shlex.split(line)[:3] for line in script.splitlines() if line.strip().startswith("airflow ")]
    # `airflow config list` with no file at AIRFLOW_CONFIG writes one with a generated Fernet key, JWT secret and
    # API secret key (Airflow's write_default_airflow_configuration_if_needed); the migration then uses it.
    assert commands[:2] == [["airflow", "config", "list"], ["airflow", "db", "migrate"]]
    assert re.search(r"^\s*mkdir -p .*/opt/airflow/config", script, re.MULTILINE)
    assert "airflow-config" in yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["volumes"]


def test_the_cluster_writes_these_settings_and_the_secrets():
    from tests.production import cluster

    written = cluster.cluster_settings(
        Endpoints(api_server="http://127.0.0.1:1", redis="127.0.0.1:2", database="u:p@127.0.0.1:3/airflow"),
        secrets={setting: "x" for setting in SHARED_SECRETS},
        home=Path("/nonexistent"),
        dags=Path("/nonexistent/dags"),
    )
    shared = shared_settings(
        Endpoints(api_server="http://127.0.0.1:1", redis="127.0.0.1:2", database="u:p@127.0.0.1:3/airflow")
    )
    assert written.items() >= shared.items()
    assert set(SHARED_SECRETS) <= set(written)
