"""AsfToS3Operator in real Airflow (``dag.test()``): mapped over a search, asset events, re-runs, archives."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import pytest

from airflow_asf_ifg.client.granule import Granule
from airflow_asf_ifg.exceptions import InvalidInputError
from airflow_asf_ifg.transfers.asf_to_s3 import AsfToS3Operator, destination_prefix
from tests.conftest import task_states, xcom_value
from tests.sandbox.helpers import empty_bucket, wait_for

DEST = "ingest-dest"
WHEN = datetime(2024, 1, 2, tzinfo=UTC)
DAG_SOURCE = """
from datetime import datetime
from airflow.sdk import DAG
from airflow_asf_ifg.operators.cmr import CmrSearchOperator
from airflow_asf_ifg.transfers.asf_to_s3 import AsfToS3Operator

with DAG("__DAG_ID__", schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as dag:
    search = CmrSearchOperator(task_id="search", collection_concept_id="{collection}", temporal=(None, None),
                               aoi=(-118.1445, 34.1478))
    AsfToS3Operator.partial(task_id="copy", dest_bucket="ingest-dest", {arguments}).expand(granule=search.output)
"""


def restore_everything(sandbox) -> None:
    """Retrieve every archived product (as the archive sensor will), so copies can run."""
    sandbox.update_config({"retrieval_seconds": 0.2})
    for granule in sandbox.catalogue:
        if granule.data_file.archived:
            sandbox.archive.request(granule.data_file.bucket, granule.data_file.name, 1)
    time_enough = wait_for(
        lambda: all(
            sandbox.archive.status(g.data_file.bucket, g.data_file.name, "GLACIER").state == "restored"
            for g in sandbox.catalogue
            if g.data_file.archived
        ),
        timeout=10,
        what="the retrievals",
    )
    assert time_enough


@pytest.fixture
def destination(asf_sandbox, asf_sandbox_connections, asf_sandbox_settings):
    return empty_bucket(asf_sandbox, DEST)


@pytest.fixture
def run(dag_from_source):
    def go(collection: str, arguments: str = ""):
        source = DAG_SOURCE.replace("{collection}", collection).replace("{arguments}", arguments)
        return dag_from_source(source).test(logical_date=WHEN)

    return go


def asset_events(dag_run) -> list:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(
            select(AssetEvent).where(
                AssetEvent.source_dag_id == dag_run.dag_id, AssetEvent.source_run_id == dag_run.run_id
            )
        ).all()
        return [(event.uri if hasattr(event, "uri") else event.asset.uri, dict(event.extra)) for event in events]


class TestMappedCopy:
    @pytest.mark.asf_sandbox(tea=True)  # the s3:// links and /s3credentials of TEA direct access
    def test_gunw_over_s3_then_rerun_copies_nothing(self, run, asf_sandbox, destination):
        restore_everything(asf_sandbox)
        dag_run = run("C2859376221-ASF")
        assert dag_run.state == "success", task_states(dag_run)
        found = xcom_value(dag_run, "search")
        assert found
        written = destination.list_objects_v2(Bucket=DEST)["Contents"]
        assert len(written) == len(found)
        for granule_dict in found:
            granule = Granule.from_dict(granule_dict)
            key = f"ARIA_S1_GUNW/{granule.granule_ur}/{granule.data_files[0].name}"
            body = destination.get_object(Bucket=DEST, Key=key)["Body"].read()
            assert hashlib.md5(body, usedforsecurity=False).hexdigest() == granule.data_files[0].checksum
        results = [xcom_value(dag_run, "copy", map_index=i) for i in range(len(found))]
        assert all(r[0]["status"] == "copied" and r[0]["source"].startswith("s3://") for r in results)
        events = asset_events(dag_run)
        assert len(events) == len(found)
        uri, extra = events[0]
        assert uri.startswith(f"s3://{DEST}/ARIA_S1_GUNW/") and extra["checksum"] and extra["concept_id"]
        rerun = run("C2859376221-ASF")
        assert rerun.state == "success"
        again = [xcom_value(rerun, "copy", map_index=i) for i in range(len(found))]
        assert all(r[0]["status"] == "skipped" and r[0]["bytes"] == 0 for r in again)
        assert asset_events(rerun) == []  # nothing new was written

    def test_beta_zips_through_the_door_with_browse(self, run, asf_sandbox, destination):
        restore_everything(asf_sandbox)
        dag_run = run("C1379535600-ASF", 'files=("data", "browse"), dest_prefix="grfn/{granule_ur}/"')
        assert dag_run.state == "success", task_states(dag_run)
        keys = [o["Key"] for o in destination.list_objects_v2(Bucket=DEST)["Contents"]]
        assert keys and all(k.startswith("grfn/") and k.endswith("-Unwrapped/" + k.rsplit("/", 1)[1]) for k in keys)
        assert {k.rsplit(".", 1)[1] for k in keys} == {"zip", "png"}


class TestDestination:
    def test_a_missing_bucket_fails_every_copy_at_once_before_any_source_byte(
        self, dag_from_source, asf_sandbox, destination, stats, capfd
    ):
        source = DAG_SOURCE.replace("{collection}", "C2859376221-ASF").replace('"ingest-dest"', '"no-such-dest"')
        dag_run = dag_from_source(source.replace("{arguments}", "retries=2")).test(logical_date=WHEN)
        assert dag_run.state == "failed"
        states = task_states(dag_run)
        copies = {task: state for task, state in states.items() if task.startswith("copy")}
        assert copies and set(copies.values()) == {"failed"}, states  # failed, not up_for_retry
        assert not any(key.startswith("grfn-content-prod/") for key in stats()["bytes_served"])
        assert (
            "bucket 'no-such-dest' does not exist or is not writable by connection 'aws_default'"
            in capfd.readouterr().out
        )

    @pytest.mark.parametrize(
        ("argument", "message"),
        [
            pytest.param(
                "dest_bucket=\"{{ 'Bad_Bucket' }}\"",
                "dest_bucket 'Bad_Bucket' is not a valid S3 bucket name",
                id="bucket",
            ),
            pytest.param("dest_prefix=\"{{ '../../' }}\"", "dest_prefix '../../' starts with '/' or has", id="prefix"),
        ],
    )
    def test_a_rendered_destination_that_cannot_work_fails_before_any_source_byte(
        self, dag_from_source, asf_sandbox, destination, stats, capfd, argument, message
    ):
        source = DAG_SOURCE.replace("{collection}", "C2859376221-ASF")
        if argument.startswith("dest_bucket"):
            source = source.replace('dest_bucket="ingest-dest", ', "")
        dag_run = dag_from_source(source.replace("{arguments}", f"{argument}, retries=2")).test(logical_date=WHEN)
        assert dag_run.state == "failed"
        states = task_states(dag_run)
        copies = {task: state for task, state in states.items() if task.startswith("copy")}
        assert copies and set(copies.values()) == {"failed"}, states  # failed, not up_for_retry
        assert not any(key.startswith("grfn-content-prod/") for key in stats()["bytes_served"])
        assert message in capfd.readouterr().out
        assert "Contents" not in destination.list_objects_v2(Bucket=DEST)


class TestServerSide:
    def test_a_source_the_destination_can_read_is_copied_inside_s3(self, dag_from_source, destination, stats):
        destination.put_object(Bucket=DEST, Key="mirror/product.nc", Body=b"p" * 2048)
        granule = {
            "granule_ur": "G-UR",
            "concept_id": "G9-ASF",
            "short_name": "ARIA_S1_GUNW",
            "files": [
                {
                    "name": "product.nc",
                    "role": "data",
                    "s3_url": f"s3://{DEST}/mirror/product.nc",
                    "size_bytes": 2048,
                    "checksum": hashlib.md5(b"p" * 2048, usedforsecurity=False).hexdigest(),
                    "checksum_algorithm": "MD5",
                }
            ],
        }
        source = f"""
from datetime import datetime
from airflow.sdk import DAG
from airflow_asf_ifg.transfers.asf_to_s3 import AsfToS3Operator

with DAG("__DAG_ID__", schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as dag:
    AsfToS3Operator(task_id="copy", dest_bucket="{DEST}", granule={granule!r})
"""
        dag_run = dag_from_source(source).test(logical_date=WHEN)
        assert dag_run.state == "success", task_states(dag_run)
        assert xcom_value(dag_run, "copy")[0]["method"] == "server-side"
        assert destination.get_object(Bucket=DEST, Key="ARIA_S1_GUNW/G-UR/product.nc")["Body"].read() == b"p" * 2048
        assert "credentials_issued" not in stats()["events"]  # ASF's keys were not needed


@pytest.mark.asf_sandbox(era="2018")  # the 2018 door's GLACIER objects (today nothing is archived)
class TestArchived:
    def test_defer_mode_waits_in_the_triggerer_then_copies(
        self, run, asf_sandbox, destination, asf_sandbox_settings, stats
    ):
        asf_sandbox_settings(retrieval_seconds=1.0)
        dag_run = run("C2859376221-ASF", 'on_archived="defer", archive_poke_interval=0.3')
        assert dag_run.state == "success", task_states(dag_run)
        found = xcom_value(dag_run, "search")
        assert len(destination.list_objects_v2(Bucket=DEST)["Contents"]) == len(found)
        assert stats()["events"]["retrieval_started"] >= 1

    def test_fail_mode_says_to_use_the_sensor(self, run, asf_sandbox, destination, capfd):
        dag_run = run("C2859376221-ASF")
        found = xcom_value(dag_run, "search")
        archived = [
            g
            for g in found
            if any(c.granule_ur == g["granule_ur"] and c.data_file.archived for c in asf_sandbox.catalogue)
        ]
        assert archived, "the sandbox catalogue has archived GUNW products over Pasadena"
        assert dag_run.state == "failed"
        assert "Put AsfArchiveStatusSensor before this task" in capfd.readouterr().out
        assert destination.list_multipart_uploads(Bucket=DEST).get("Uploads", []) == []


class TestArguments:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({}, "give granule= (one granule dict) or granules="),
            ({"granule": {}, "files": ["thumbnail"]}, "must be a non-empty list of"),
            ({"granule": {}, "source": "ftp"}, "source 'ftp' is not one of"),
            ({"granule": {}, "on_archived": "wait"}, "on_archived 'wait' is not one of"),
        ],
    )
    def test_bad_arguments(self, kwargs, message):
        with pytest.raises(ValueError, match=re.escape(message)):
            AsfToS3Operator(task_id="copy", dest_bucket=DEST, **kwargs)

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"granule": {}, "part_size": 1}, "part_size 1 must be at least 5242880"),
            ({"granule": {}, "concurrency": 0}, "concurrency 0 must be greater than 0"),
            ({"granule": {}, "archive_timeout": float("nan")}, "archive_timeout nan must be greater than 0"),
            ({"granule": {}, "archive_poke_interval": 0}, "archive_poke_interval 0 must be greater than 0"),
            ({"granule": {}, "dest_prefix": "{year}/"}, "uses 'year'; accepted placeholders"),
            ({"granule": {}, "dest_prefix": "../../"}, "dest_prefix '../../' starts with '/' or has"),
            ({"granule": {}, "dest_prefix": "/abs/"}, "dest_prefix '/abs/' starts with '/'"),
            ({"granule": {}, "dest_prefix": "{collection"}, "is not a valid template"),
        ],
        ids=["part-size", "concurrency", "timeout-nan", "poke-zero", "placeholder", "dotdot", "absolute", "brace"],
    )
    def test_bad_numbers_and_prefixes_are_permanent_input_errors(self, kwargs, message):
        with pytest.raises(InvalidInputError, match=re.escape(message)):
            AsfToS3Operator(task_id="copy", dest_bucket=DEST, **kwargs)

    @pytest.mark.parametrize("bucket", ["", "Bad_Bucket", "a..b"], ids=["empty", "case", "dots"])
    def test_a_bad_bucket_is_refused_when_the_dag_is_parsed(self, bucket):
        with pytest.raises(InvalidInputError, match="dest_bucket"):
            AsfToS3Operator(task_id="copy", dest_bucket=bucket, granule={})

    def test_prefix_placeholders(self):
        granule = Granule(granule_ur="G-UR", concept_id="G1-ASF", short_name="ARIA_S1_GUNW")
        assert destination_prefix("{collection}/{granule_ur}/", granule) == "ARIA_S1_GUNW/G-UR/"
        with pytest.raises(InvalidInputError, match="uses 'year'; accepted placeholders"):
            destination_prefix("{year}/", granule)
        with pytest.raises(InvalidInputError, match=re.escape("has a '.' or '..' segment")):
            destination_prefix("../../", granule)
        with pytest.raises(InvalidInputError, match=re.escape("has a '.' or '..' segment")):
            destination_prefix("{granule_ur}/", Granule(granule_ur="..", concept_id="G1-ASF"))
