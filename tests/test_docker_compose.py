"""docker-compose.yaml and the Dockerfile, checked statically (this machine has no Docker engine)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


class TestCompose:
    def test_every_airflow_component_runs_the_provider_image(self):
        compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
        services = compose["services"]
        for name, command in (("airflow-apiserver", "api-server"), ("airflow-scheduler", "scheduler"),
                              ("airflow-dag-processor", "dag-processor"), ("airflow-triggerer", "triggerer")):
            assert services[name]["command"] == command
            assert services[name]["build"] == "." and services[name]["image"] == "airflow-asf-ifg:latest"
            environment = services[name]["environment"]
            assert environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
            assert environment["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
            assert "./dags:/opt/airflow/dags" in services[name]["volumes"]
        assert services["postgres"]["healthcheck"]

    def test_the_image_pins_airflow_and_installs_the_provider(self):
        dockerfile = (ROOT / "Dockerfile").read_text()
        assert "FROM apache/airflow:${AIRFLOW_VERSION}" in dockerfile
        assert '"apache-airflow==${AIRFLOW_VERSION}"' in dockerfile and "/opt/airflow-asf-ifg[sandbox]" in dockerfile
