"""AsfArchiveStatusSensor in real Airflow (``dag.test()``): deferrable and poke mode give the same result."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from airflow_asf_ifg.sensors.archive import AsfArchiveStatusSensor
from tests.conftest import task_states, xcom_value

WHEN = datetime(2024, 1, 2, tzinfo=UTC)
# The 2018 door's /door/status, 202 retrievals and GLACIER objects (today nothing is archived).
pytestmark = pytest.mark.asf_sandbox(era="2018")
DAG_SOURCE = """
from datetime import datetime
from airflow.sdk import DAG
from airflow_asf_ifg.operators.cmr import CmrSearchOperator
from airflow_asf_ifg.sensors.archive import AsfArchiveStatusSensor

with DAG("__DAG_ID__", schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as dag:
    search = CmrSearchOperator(task_id="search", collection_concept_id="C2859376221-ASF", temporal=(None, None),
                               allow_global=True)
    AsfArchiveStatusSensor(task_id="archive", granules=search.output, poke_interval=0.3, timeout=60,
                           {arguments})
"""


@pytest.fixture
def run(dag_from_source, asf_sandbox, asf_sandbox_connections, asf_sandbox_settings):
    asf_sandbox.reset()
    asf_sandbox_settings(retrieval_seconds=1.0)

    def go(arguments: str):
        return dag_from_source(DAG_SOURCE.replace("{arguments}", arguments)).test(logical_date=WHEN)

    return go


def archived(sandbox) -> set[str]:
    return {
        g.data_file.name
        for g in sandbox.catalogue
        if g.collection.short_name == "ARIA_S1_GUNW" and g.data_file.archived
    }


class TestSensor:
    @pytest.mark.parametrize(
        "mode", ["deferrable=True", "deferrable=False, mode='poke'", "deferrable=False, mode='reschedule'"]
    )
    def test_waits_for_every_product_requesting_each_once(self, run, asf_sandbox, stats, mode):
        dag_run = run(mode)
        assert dag_run.state == "success", task_states(dag_run)
        products = xcom_value(dag_run, "archive")
        assert len(products) == asf_sandbox.config.granules
        assert {p["state"] for p in products} == {"available"}
        assert stats()["events"]["retrieval_started"] == len(archived(asf_sandbox))
        assert stats()["requests"]["download"] == len(archived(asf_sandbox))

    def test_timeout_fails_the_task(
        self, dag_from_source, asf_sandbox, asf_sandbox_connections, asf_sandbox_settings, capfd
    ):
        asf_sandbox.reset()
        asf_sandbox_settings(retrieval_seconds=120)
        source = DAG_SOURCE.replace("timeout=60", "timeout=2")
        dag_run = dag_from_source(source.replace("{arguments}", "deferrable=True, max_interval=0.5")).test(
            logical_date=WHEN
        )
        assert dag_run.state == "failed"
        assert "timed out after 2" in capfd.readouterr().out

    def test_missing_product_fails_unless_allowed(self, dag_from_source, asf_sandbox_connections, capfd):
        source = DAG_SOURCE.replace("granules=search.output", 'names=["no-such-product.nc"]')
        dag = dag_from_source(source.replace("{arguments}", "deferrable=True"))
        dag_run = dag.test(logical_date=WHEN)
        assert dag_run.state == "failed"
        assert "1 product(s) do not exist: no-such-product.nc" in capfd.readouterr().out

    def test_arguments(self):
        with pytest.raises(ValueError, match="give granules="):
            AsfArchiveStatusSensor(task_id="x")


class TestTriggerErrors:
    def test_a_permanent_error_fails_the_task_without_retries(self):
        from airflow_asf_ifg.compat import AirflowFailException

        sensor = AsfArchiveStatusSensor(task_id="archive", names=["x.nc"])
        with pytest.raises(AirflowFailException, match="wrong username or password"):
            sensor.execute_complete(
                {},
                {
                    "status": "error",
                    "permanent": True,
                    "products": [],
                    "message": "EarthdataLoginError: wrong username or password",
                },
            )

    def test_a_transient_error_is_left_to_airflows_retries(self):
        from airflow_asf_ifg.compat import AirflowException, AirflowFailException

        sensor = AsfArchiveStatusSensor(task_id="archive", names=["x.nc"])
        with pytest.raises(AirflowException) as raised:
            sensor.execute_complete(
                {}, {"status": "error", "permanent": False, "products": [], "message": "ClientConnectorError: reset"}
            )
        assert not isinstance(raised.value, AirflowFailException)


class TestArguments:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"max_concurrency": 0}, "max_concurrency 0 must be greater than 0"),
            ({"max_concurrency": 2.5}, "max_concurrency 2.5 must be greater than 0 (a whole number)"),
            ({"max_interval": 0}, "max_interval 0 must be greater than 0"),
            ({"max_interval": float("nan")}, "max_interval nan must be greater than 0"),
            ({"max_retrievals": -1}, "max_retrievals -1 must be at least 0"),
        ],
        ids=["concurrency-zero", "concurrency-float", "interval-zero", "interval-nan", "retrievals"],
    )
    def test_numbers_that_hang_or_spin_are_refused(self, kwargs, message):
        from airflow_asf_ifg.exceptions import InvalidInputError

        with pytest.raises(InvalidInputError, match=re.escape(message)):
            AsfArchiveStatusSensor(task_id="archive", names=["x.nc"], **kwargs)

    def test_one_name_as_a_string_is_one_name(self):
        assert [t.name for t in AsfArchiveStatusSensor(task_id="archive", names="x.zip").targets()] == ["x.zip"]

    def test_a_template_rendering_to_one_name_is_one_name(self):
        sensor = AsfArchiveStatusSensor(task_id="archive", names="{{ params.name }}")
        sensor.names = "x.zip"  # as rendered
        assert [t.name for t in sensor.targets()] == ["x.zip"]
