"""AsfPreflightOperator in real Airflow (``dag.test()``) against the sandbox: the path the copies will take."""

from __future__ import annotations

import json

import pytest

from airflow_asf_ifg.operators.preflight import AsfPreflightOperator
from airflow_asf_ifg.sandbox.catalogue import first_pair_group
from airflow_asf_ifg.sandbox.demo import ARIA_S1_GUNW, run_after
from tests.conftest import task_states, xcom_value
from tests.sandbox.helpers import empty_bucket

DAG_SOURCE = """
from datetime import datetime, timedelta, timezone
from airflow.sdk import DAG
from airflow_asf_ifg.compat import CronDataIntervalTimetable
from airflow_asf_ifg.operators.cmr import CmrSearchOperator
from airflow_asf_ifg.operators.preflight import AsfPreflightOperator

with DAG("__DAG_ID__", schedule=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"), catchup=False,
         start_date=datetime(2015, 1, 1, tzinfo=timezone.utc),
         default_args={"retries": 2, "retry_delay": timedelta(seconds=1)}) as dag:
    search = CmrSearchOperator(task_id="search", collection_concept_id="C2859376221-ASF",
                               aoi="-118.1445,34.1478")
    AsfPreflightOperator(task_id="preflight", granules=search.output, {arguments})
"""
BUCKET = "preflight-bucket"


@pytest.fixture
def run(dag_from_source, asf_sandbox, asf_sandbox_connections):
    empty_bucket(asf_sandbox, BUCKET)
    day = run_after(first_pair_group(asf_sandbox.catalogue, ARIA_S1_GUNW)[0].start)

    def go(arguments: str = ""):
        return dag_from_source(DAG_SOURCE.replace("{arguments}", arguments)).test(logical_date=day)

    return go


class TestArguments:
    def test_a_bad_source_is_refused_when_the_dag_is_parsed(self):
        with pytest.raises(ValueError, match=r"source 'ftp' is not one of \('auto', 's3', 'https'\)"):
            AsfPreflightOperator(task_id="p", granules=[], source="ftp")

    def test_bad_files_are_refused_when_the_dag_is_parsed(self):
        with pytest.raises(ValueError, match="thumbnail"):
            AsfPreflightOperator(task_id="p", granules=[], files=["thumbnail"])

    @pytest.mark.parametrize("bucket", ["", "Bad_Bucket", "a..b"], ids=["empty", "case", "dots"])
    def test_a_bad_dest_bucket_is_refused_when_the_dag_is_parsed(self, bucket):
        from airflow_asf_ifg.exceptions import InvalidInputError

        with pytest.raises(InvalidInputError, match="dest_bucket"):
            AsfPreflightOperator(task_id="p", granules=[], dest_bucket=bucket)

    def test_a_dest_bucket_rendered_empty_fails_before_login(self):
        from airflow_asf_ifg.compat import AirflowFailException

        task = AsfPreflightOperator(task_id="p", granules=[], dest_bucket="{{ params.bucket }}")
        task.dest_bucket = ""  # as rendered
        with pytest.raises(AirflowFailException, match="dest_bucket '' is empty"):
            task.execute({})  # no connection is configured: a login would fail otherwise


class TestHttps:
    def test_walks_the_login_chain_and_reads_no_product(self, run, asf_sandbox, stats):
        dag_run = run(f"dest_bucket={BUCKET!r}")
        assert dag_run.state == "success", task_states(dag_run)
        facts = xcom_value(dag_run, "preflight")
        assert facts["source"]["path"] == "https" and facts["source"]["status"] == 206
        assert facts["destination"]["bucket"] == BUCKET
        # One byte at most of the product went out; nothing of the others.
        assert sum(stats()["bytes_served"].values()) <= 1

    def test_a_bucket_that_does_not_exist_fails_at_once_naming_it(self, run, capfd):
        dag_run = run("dest_bucket='no-such-bucket'")
        assert dag_run.state == "failed"
        assert task_states(dag_run)["preflight"] == "failed"  # not up_for_retry
        assert (
            "bucket 'no-such-bucket' does not exist or is not writable by connection 'aws_default'"
            in capfd.readouterr().out
        )


@pytest.mark.asf_sandbox(tea=True)
class TestS3:
    def test_s3_products_are_checked_with_the_granules_own_keys(self, run, asf_sandbox, stats):
        dag_run = run()
        assert dag_run.state == "success", task_states(dag_run)
        source = xcom_value(dag_run, "preflight")["source"]
        assert source["path"] == "s3" and source["url"].startswith("s3://grfn-content-prod/")
        assert stats()["events"]["credentials_issued"] >= 1
        assert all(secret not in json.dumps(source) for secret in asf_sandbox.issued_secrets())

    def test_https_can_be_forced_past_an_s3_url(self, run):
        dag_run = run("source='https'")
        assert dag_run.state == "success", task_states(dag_run)
        assert xcom_value(dag_run, "preflight")["source"]["path"] == "https"


@pytest.mark.asf_sandbox(era="2018")
class TestThe2018Door:
    def test_an_archived_product_is_reported_not_failed(self, run, asf_sandbox):
        dag_run = run()
        assert dag_run.state == "success", task_states(dag_run)
        source = xcom_value(dag_run, "preflight")["source"]
        archived = {g.data_file.name for g in asf_sandbox.catalogue if g.data_file.archived}
        assert source["status"] == (202 if source["product"] in archived else 206)
