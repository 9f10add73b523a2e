"""The example DAG: one DAG per aois.yaml entry, cheap to parse, and real runs against the sandbox (``dag.test()``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from airflow_asf_ifg.compat import AIRFLOW_V_3_2_PLUS
from airflow_asf_ifg.sandbox.catalogue import first_pair_group
from airflow_asf_ifg.sandbox.demo import ARIA_S1_GUNW, DAG_FILE, run_after
from tests.conftest import task_states, xcom_value
from tests.sandbox.helpers import user_s3
from tests.transfers.test_asf_to_s3 import asset_events

HEAVY = ("boto3", "botocore", "aiobotocore", "aiohttp", "requests", "airflow.providers.amazon.aws.hooks")
ENTRY = {"dag_id": "aoi_two", "aoi": [-119.0, 33.0, -117.0, 35.0], "dest_bucket": "second-bucket"}


def example_module():
    spec = importlib.util.spec_from_file_location("asf_ifg_aoi_ingest_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    return example_module()


def write_aois(tmp_path: Path, *entries: dict) -> Path:
    path = tmp_path / "aois.yaml"
    path.write_text(json.dumps({"aois": list(entries)}))  # JSON is YAML
    return path


class TestAoisFile:
    def test_the_shipped_file_gives_one_daily_dag(self, example):
        dag = example.asf_ifg_aoi_ingest
        assert dag.dag_id == "asf_ifg_aoi_ingest" and dag.catchup is False
        assert {t.task_id for t in dag.tasks} == {
            "search",
            "found_products",
            "preflight",
            "wait_for_archive",
            "copy",
            "summarize",
        }
        assert dag.params["aoi"] == "-118.1445,34.1478"
        assert dag.params["collection_concept_id"] == ARIA_S1_GUNW
        assert dag.params["files"] == ["data"] and dag.params["window"] == "acquisition"
        # 3.1 schedules with airflow-core's timetable (its cron in _expression); 3.2's Task SDK has its own.
        assert (dag.timetable.expression if AIRFLOW_V_3_2_PLUS else dag.timetable._expression) == "0 6 * * *"
        assert dag.get_task("wait_for_archive").deferrable is True

    def test_every_entry_becomes_its_own_dag(self, example, tmp_path):
        first = {
            "dag_id": "aoi_one",
            "aoi": "POINT (-118.1445 34.1478)",
            "dest_bucket": "first-bucket",
            "window": "revision",
            "files": ["data", "browse"],
        }
        aois = example.load_aois(write_aois(tmp_path, first, ENTRY))
        dags = [example.build_dag(aoi) for aoi in aois]
        assert [d.dag_id for d in dags] == ["aoi_one", "aoi_two"]
        assert dags[0].params["window"] == "revision" and dags[1].params["window"] == "acquisition"
        assert dags[1].params["dest_bucket"] == "second-bucket"
        copy = dags[0].get_task("copy")
        assert (copy.retries, copy.retry_delay) == (2, dt.timedelta(minutes=5))  # the defaults of aois.yaml

    def test_retries_and_their_delay_come_from_the_entry(self, example, tmp_path):
        (aoi,) = example.load_aois(write_aois(tmp_path, {**ENTRY, "retries": 4, "retry_delay_minutes": 0.5}))
        copy = example.build_dag(aoi).get_task("copy")
        assert (copy.retries, copy.retry_delay) == (4, dt.timedelta(seconds=30))

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"colour": "red"}, r"entry 1 \(aoi_two\): unknown keys \['colour'\]"),
            ({"dest_bucket": None}, r"missing keys \['dest_bucket'\]"),
            ({"aoi": "POLYGON ((0 0, 1 1))"}, r"entry 1 \(aoi_two\):.*"),
            ({"window": "sensing"}, r"window 'sensing' is not one of \['acquisition', 'revision'\]"),
            ({"files": ["thumbnail"]}, r"files \['thumbnail'\] must be a non-empty list of"),
            ({"dest_bucket": "Bad_Bucket"}, r"dest_bucket 'Bad_Bucket' is not a valid S3 bucket name"),
            (
                {"collection_concept_id": "ARIA_S1_GUNW"},
                r"collection_concept_id 'ARIA_S1_GUNW' is not a CMR collection",
            ),
            ({"start_date": "yesterday"}, r"yesterday"),
            ({"archive_timeout_hours": 0}, r"archive_timeout_hours 0 must be a positive number"),
            ({"retries": -1}, r"retries -1 must be a whole number, 0 or more"),
            ({"retry_delay_minutes": "soon"}, r"retry_delay_minutes 'soon' must be a positive number"),
        ],
        ids=[
            "unknown-key",
            "missing-bucket",
            "bad-aoi",
            "bad-window",
            "bad-files",
            "bad-bucket",
            "short-name",
            "bad-date",
            "no-timeout",
            "negative-retries",
            "bad-retry-delay",
        ],
    )
    def test_a_bad_entry_names_itself_and_the_key(self, example, tmp_path, change, message):
        with pytest.raises(ValueError, match=message):
            example.load_aois(write_aois(tmp_path, {**ENTRY, **change}))

    def test_dag_ids_must_be_unique(self, example, tmp_path):
        with pytest.raises(ValueError, match=r"entry 2 .*must be unique"):
            example.load_aois(write_aois(tmp_path, ENTRY, ENTRY))


class TestParsing:
    def test_the_dag_processor_finds_no_import_errors(self, airflow_db):
        from airflow_asf_ifg.compat import DagBag

        named = {"bundle_name": "examples"} if AIRFLOW_V_3_2_PLUS else {}  # 3.1's DagBag takes no bundle name
        bag = DagBag(dag_folder=str(DAG_FILE), bundle_path=DAG_FILE.parent, **named)
        assert bag.import_errors == {}
        assert list(bag.dag_ids) == ["asf_ifg_aoi_ingest"]

    def test_parsing_opens_no_connection_and_loads_no_http_or_aws_stack(self):
        # An audit hook sees every socket connect and name lookup the interpreter makes (PEP 578).
        probe = textwrap.dedent(f"""
            import json, runpy, sys
            import airflow.sdk
            before = set(sys.modules)
            network = []
            sys.addaudithook(lambda event, args: network.append([event, repr(args)[:80]])
                             if event in ("socket.connect", "socket.getaddrinfo") else None)
            runpy.run_path({str(DAG_FILE)!r})
            heavy = sorted(m for m in set(sys.modules) - before if m.startswith({HEAVY!r}))
            print(json.dumps({{"network": network, "heavy": heavy}}))
        """)
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
        found = json.loads(done.stdout.strip().splitlines()[-1])
        assert found == {"network": [], "heavy": []}


@pytest.fixture
def ingest(airflow_db, asf_sandbox, asf_sandbox_connections, asf_sandbox_settings, example):
    """Run the shipped DAG for one day of the sandbox's catalogue into a fresh destination bucket."""
    asf_sandbox.reset()
    asf_sandbox_settings(retrieval_seconds=1.0)
    destination = user_s3(asf_sandbox)
    bucket = example.asf_ifg_aoi_ingest.params["dest_bucket"]
    destination.create_bucket(Bucket=bucket)
    for item in destination.list_objects_v2(Bucket=bucket).get("Contents", []):
        destination.delete_object(Bucket=bucket, Key=item["Key"])

    def run(logical_date: datetime, **conf):
        return example.asf_ifg_aoi_ingest.test(logical_date=logical_date, run_conf=conf or None)

    run.bucket = bucket
    run.destination = destination
    return run


class TestRun:
    @pytest.mark.asf_sandbox(era="2018")
    def test_a_day_with_an_archived_product_is_waited_for_then_copied(self, ingest, asf_sandbox, stats):
        group = first_pair_group(asf_sandbox.catalogue, ARIA_S1_GUNW)
        assert any(g.data_file.archived for g in group) and not all(g.data_file.archived for g in group)
        dag_run = ingest(run_after(group[0].start))
        assert dag_run.state == "success", task_states(dag_run)
        summary = xcom_value(dag_run, "summarize")
        assert summary["granules_found"] == len(group) and summary["granules_failed"] == []
        assert summary["files_copied"] == len(group) and summary["files_skipped"] == 0
        listed = ingest.destination.list_objects_v2(Bucket=ingest.bucket)["Contents"]
        assert sorted(f"s3://{ingest.bucket}/{o['Key']}" for o in listed) == sorted(summary["written"])
        for granule in group:
            key = f"sentinel-1/ARIA_S1_GUNW/{granule.granule_ur}/{granule.data_file.name}"
            body = ingest.destination.get_object(Bucket=ingest.bucket, Key=key)["Body"].read()
            assert (len(body), hashlib.md5(body, usedforsecurity=False).hexdigest()) == granule.sizes[
                granule.data_file.name
            ]
        assert summary["bytes_copied"] == sum(o["Size"] for o in listed)
        assert stats()["events"]["retrieval_started"] == sum(g.data_file.archived for g in group)
        assert sorted(uri for uri, _ in asset_events(dag_run)) == sorted(summary["written"])
        # What the ASF retrievals page reads: the products' states the sensor (then its trigger) published.
        waited = xcom_value(dag_run, "wait_for_archive", key="asf_ifg_waiting")
        assert sorted(p["name"] for p in waited["products"]) == sorted(g.data_file.name for g in group)
        # The grid names each mapped copy after its granule, not [0], [1], [2].
        copies = [ti for ti in dag_run.get_task_instances() if ti.task_id == "copy"]
        assert sorted(ti.rendered_map_index for ti in copies) == sorted(g.granule_ur for g in group)

    def test_running_the_same_day_again_copies_nothing(self, ingest, asf_sandbox):
        group = first_pair_group(asf_sandbox.catalogue, ARIA_S1_GUNW)
        assert ingest(run_after(group[0].start)).state == "success"
        again = ingest(run_after(group[0].start))
        assert again.state == "success", task_states(again)
        summary = xcom_value(again, "summarize")
        assert (summary["files_copied"], summary["files_skipped"], summary["bytes_copied"]) == (0, len(group), 0)
        assert asset_events(again) == []

    def test_an_empty_day_ends_as_skipped_not_failed(self, ingest, asf_sandbox, stats):
        dag_run = ingest(datetime(2018, 6, 2, 6, tzinfo=UTC))  # the sandbox's GUNW products start in 2019
        assert dag_run.state == "success"
        states = task_states(dag_run)
        assert states["search"] == states["found_products"] == states["summarize"] == "success"
        assert {states[t] for t in ("preflight", "wait_for_archive")} == {"skipped"}
        assert xcom_value(dag_run, "summarize")["granules_found"] == 0
        assert ingest.destination.list_objects_v2(Bucket=ingest.bucket).get("KeyCount") == 0

    def test_run_parameters_change_the_search_and_the_files(self, ingest, asf_sandbox):
        group = first_pair_group(asf_sandbox.catalogue, ARIA_S1_GUNW)
        dag_run = ingest(run_after(group[0].start), files=["data", "browse"], dest_prefix="custom/{concept_id}/")
        assert dag_run.state == "success", task_states(dag_run)
        keys = {o["Key"] for o in ingest.destination.list_objects_v2(Bucket=ingest.bucket)["Contents"]}
        assert keys == {
            f"custom/{g.concept_id}/{f.name}" for g in group for f in g.files if f.role in ("data", "browse")
        }

    def test_bad_run_parameters_are_refused_before_anything_runs(self, ingest, asf_sandbox, stats):
        from airflow_asf_ifg.compat import PARAM_VALIDATION_ERRORS

        with pytest.raises(PARAM_VALIDATION_ERRORS, match="files"):
            ingest(datetime(2021, 1, 2, 6, tzinfo=UTC), files=["thumbnail"])
        assert "search" not in stats()["requests"]  # refused before the search ran
