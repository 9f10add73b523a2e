"""S3RestoreObjectOperator and S3ObjectRestoredSensor on your own bucket, in real Airflow (``dag.test()``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from airflow_asf_ifg.operators.s3_restore import S3RestoreObjectOperator
from airflow_asf_ifg.triggers.s3_restore import S3ObjectRestoredTrigger
from tests.conftest import task_states, xcom_value
from tests.sandbox.helpers import user_s3

BUCKET = "lifecycled"
DAG_SOURCE = """
from datetime import datetime
from airflow.sdk import DAG
from airflow_asf_ifg.operators.s3_restore import S3RestoreObjectOperator
from airflow_asf_ifg.sensors.s3_restore import S3ObjectRestoredSensor

with DAG("__DAG_ID__", schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as dag:
    keys = ["old-1.nc", "old-2.nc", "fresh.nc"]
    restore = S3RestoreObjectOperator(task_id="restore", bucket="lifecycled", keys=keys, days=2)
    wait = S3ObjectRestoredSensor(task_id="wait", bucket="lifecycled", keys=keys, poke_interval=0.3, timeout=60,
                                  {arguments})
    restore >> wait
"""


@pytest.fixture
def bucket(asf_sandbox, asf_sandbox_connections, asf_sandbox_settings):
    asf_sandbox.reset()
    asf_sandbox_settings(retrieval_seconds=1.0)
    s3 = user_s3(asf_sandbox)
    s3.create_bucket(Bucket=BUCKET)
    for key in ("old-1.nc", "old-2.nc"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"old", StorageClass="GLACIER")
    s3.put_object(Bucket=BUCKET, Key="fresh.nc", Body=b"new")
    return s3


class TestRestore:
    @pytest.mark.parametrize("mode", ["deferrable=True", "deferrable=False"])
    def test_restore_then_wait(self, dag_from_source, bucket, stats, mode):
        dag_run = dag_from_source(DAG_SOURCE.replace("{arguments}", mode)).test(
            logical_date=datetime(2024, 1, 2, tzinfo=UTC)
        )
        assert dag_run.state == "success", task_states(dag_run)
        assert xcom_value(dag_run, "restore") == {
            "old-1.nc": "started",
            "old-2.nc": "started",
            "fresh.nc": "not-archived",
        }
        states = {p["name"]: p for p in xcom_value(dag_run, "wait")}
        assert {p["state"] for p in states.values()} == {"available"}
        assert states["old-1.nc"]["expires"] and states["fresh.nc"]["expires"] is None
        assert bucket.get_object(Bucket=BUCKET, Key="old-1.nc")["Body"].read() == b"old"
        assert stats()["events"]["retrieval_started"] == 2

    def test_arguments(self):
        with pytest.raises(ValueError, match="tier 'Fast' is not one of"):
            S3RestoreObjectOperator(task_id="x", bucket="b", keys=["k"], tier="Fast")


class TestTrigger:
    def test_serialize(self):
        assert S3ObjectRestoredTrigger(
            bucket="b", keys=["k"], aws_conn_id="aws_default", poke_interval=5, max_interval=60, deadline=1.0
        ).serialize() == (
            "airflow_asf_ifg.triggers.s3_restore.S3ObjectRestoredTrigger",
            {
                "bucket": "b",
                "keys": ["k"],
                "aws_conn_id": "aws_default",
                "poke_interval": 5,
                "max_interval": 60,
                "deadline": 1.0,
                "max_concurrency": 20,
            },
        )

    async def test_run_times_out_without_a_restore(self, bucket):
        trigger = S3ObjectRestoredTrigger(
            bucket=BUCKET,
            keys=["old-1.nc"],
            aws_conn_id="aws_default",
            poke_interval=0.2,
            max_interval=0.2,
            deadline=time.time() + 1,
        )
        events = [event async for event in trigger.run()]
        assert [e.payload["status"] for e in events] == ["timeout"]
        assert events[0].payload["products"][0]["state"] == "archived"
