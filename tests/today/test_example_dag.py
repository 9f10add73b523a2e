"""The example DAG, unchanged, as a new user runs it: against today's services with nothing but a login, and
against the 2018 page's door (archived products retrieved first). Real Airflow (``dag.test()``), real HTTP."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pytest

from airflow_asf_ifg.sandbox.catalogue import first_pair_group
from airflow_asf_ifg.sandbox.config import SANDBOX_PASSWORD, SANDBOX_USER
from airflow_asf_ifg.sandbox.demo import ARIA_S1_GUNW, load_dag, run_after
from tests.conftest import task_states, xcom_value
from tests.sandbox.helpers import empty_bucket

GRFN_BETA_UNWRAPPED = "C1379535600-ASF"


@pytest.fixture
def dag():
    return load_dag()  # a fresh copy each test: dag.test(run_conf=...) leaves the conf in the DAG's params


def login_only_connection(sandbox) -> str:
    """What the README tells a new user to set for today's services: login and password; the extras only move
    EDL and CMR to the sandbox's hosts (the door's URL comes from each granule's CMR record)."""
    return json.dumps(
        {
            "conn_type": "earthdata",
            "login": SANDBOX_USER,
            "password": SANDBOX_PASSWORD,
            "extra": {"edl_url": sandbox.urls.edl, "cmr_url": sandbox.urls.cmr},
        }
    )


@pytest.fixture
def ingest(airflow_db, asf_sandbox, asf_sandbox_connections, asf_sandbox_settings, dag, monkeypatch):
    """Run the shipped DAG for one day into a fresh destination bucket."""
    asf_sandbox_settings(retrieval_seconds=1.0)
    bucket = dag.params["dest_bucket"]
    destination = empty_bucket(asf_sandbox, bucket)

    def run(logical_date: datetime, earthdata: str | None = None, **conf):
        if earthdata is not None:
            monkeypatch.setenv("AIRFLOW_CONN_EARTHDATA_DEFAULT", earthdata)
        return dag.test(logical_date=logical_date, run_conf=conf or None)

    run.bucket, run.destination = bucket, destination
    return run


def landed_verified(ingest, sandbox, group, collection: str) -> None:
    """Every product of the group is in the bucket with the catalogue's size and MD5, and nothing else is."""
    listed = ingest.destination.list_objects_v2(Bucket=ingest.bucket).get("Contents", [])
    expected = {f"sentinel-1/{collection}/{g.granule_ur}/{g.data_file.name}": g.sizes[g.data_file.name] for g in group}
    assert sorted(o["Key"] for o in listed) == sorted(expected)
    for key, (size, md5) in expected.items():
        body = ingest.destination.get_object(Bucket=ingest.bucket, Key=key)["Body"].read()
        assert (len(body), hashlib.md5(body, usedforsecurity=False).hexdigest()) == (size, md5)


class TestToday:
    def test_a_login_alone_ingests_every_product_first_time(self, ingest, asf_sandbox, stats):
        group = first_pair_group(asf_sandbox.catalogue, ARIA_S1_GUNW)
        dag_run = ingest(run_after(group[0].start), earthdata=login_only_connection(asf_sandbox))
        assert dag_run.state == "success", task_states(dag_run)
        states = task_states(dag_run)
        assert all(state == "success" for state in states.values()), states
        landed_verified(ingest, asf_sandbox, group, "ARIA_S1_GUNW")
        summary = xcom_value(dag_run, "summarize")
        assert (summary["granules_found"], summary["files_copied"], summary["granules_failed"]) == (
            len(group),
            len(group),
            [],
        )
        served = stats()
        # No temporary keys were asked for (today's door has none for GUNW), no status endpoint, no retrieval.
        assert not set(served["requests"]) & {"credentials", "s3credentials", "status"}, served["requests"]
        assert served["events"].get("retrieval_started", 0) == 0
        assert served["events"].get("credentials_issued", 0) == 0

    def test_the_preflight_walks_the_doors_login_chain_and_checks_the_bucket(self, ingest, asf_sandbox):
        group = first_pair_group(asf_sandbox.catalogue, ARIA_S1_GUNW)
        dag_run = ingest(run_after(group[0].start), earthdata=login_only_connection(asf_sandbox))
        facts = xcom_value(dag_run, "preflight")
        hosts = {
            name: url.split("//", 1)[1]
            for name, url in (
                ("door", asf_sandbox.urls.asf),
                ("edl", asf_sandbox.urls.edl),
                ("signed", asf_sandbox.urls.s3),
            )
        }
        assert facts["source"]["path"] == "https" and facts["source"]["status"] == 206
        assert facts["source"]["hops"][0] == hosts["door"] and hosts["edl"] in facts["source"]["hops"]
        assert facts["source"]["hops"][-1] == hosts["signed"]  # the bytes come from the signed URL's host
        assert "?" not in json.dumps(facts)  # no signed query string (a credential for 15 s) in XCom
        assert facts["destination"] == {"bucket": ingest.bucket, "aws_conn_id": "aws_default"}

    def test_the_archive_sensor_passes_at_once_and_says_why(self, ingest, asf_sandbox, capfd):
        group = first_pair_group(asf_sandbox.catalogue, ARIA_S1_GUNW)
        dag_run = ingest(run_after(group[0].start), earthdata=login_only_connection(asf_sandbox))
        products = xcom_value(dag_run, "wait_for_archive")
        assert sorted(p["name"] for p in products) == sorted(g.data_file.name for g in group)
        assert {p["state"] for p in products} == {"available"} and not any(p["requested"] for p in products)
        logs = capfd.readouterr().out
        assert "No archive status endpoint is configured" in logs
        assert "keep no GUNW product in long-term storage" in logs
        assert "Preflight: " in logs and "hands out a signed URL on" in logs
        assert "will go over HTTPS through the door (no S3 credentials needed)" in logs

    def test_a_wrong_password_fails_the_run_at_once_without_retries(self, ingest, asf_sandbox, stats):
        group = first_pair_group(asf_sandbox.catalogue, ARIA_S1_GUNW)
        wrong = json.loads(login_only_connection(asf_sandbox))
        wrong["password"] = "not-the-password"
        dag_run = ingest(run_after(group[0].start), earthdata=json.dumps(wrong))
        assert dag_run.state == "failed"
        states = task_states(dag_run)
        assert states["preflight"] == "failed", states  # failed, not up_for_retry: EDL locks retried logins
        assert ingest.destination.list_objects_v2(Bucket=ingest.bucket).get("KeyCount") == 0
        assert stats()["requests"].get("edl_authorize", 0) <= 2

    def test_a_missing_destination_bucket_fails_before_any_product_byte(self, ingest, asf_sandbox, stats):
        group = first_pair_group(asf_sandbox.catalogue, ARIA_S1_GUNW)
        dag_run = ingest(
            run_after(group[0].start), earthdata=login_only_connection(asf_sandbox), dest_bucket="no-such-bucket-here"
        )
        assert dag_run.state == "failed"
        assert task_states(dag_run)["preflight"] == "failed"
        assert not any(key.startswith("grfn-content-prod/") for key in stats()["bytes_served"])


@pytest.mark.asf_sandbox(era="2018")
class Test2018:
    @pytest.mark.parametrize("collection", [ARIA_S1_GUNW, GRFN_BETA_UNWRAPPED], ids=["aria-gunw", "grfn-beta"])
    def test_archived_products_are_retrieved_first_then_every_product_lands(
        self, ingest, asf_sandbox, stats, collection
    ):
        group = first_pair_group(asf_sandbox.catalogue, collection)
        archived = {f["name"] for g in asf_sandbox.catalogue_document() for f in g["files"] if f["archived"]}
        assert any(g.data_file.name in archived for g in group)  # the day holds an archived product
        name = next(g.collection.short_name for g in group)
        dag_run = ingest(run_after(group[0].start), collection_concept_id=collection)
        assert dag_run.state == "success", task_states(dag_run)
        landed_verified(ingest, asf_sandbox, group, name)
        products = {p["name"]: p for p in xcom_value(dag_run, "wait_for_archive")}
        assert {p["state"] for p in products.values()} == {"available"}
        assert stats()["events"]["retrieval_started"] == sum(g.data_file.name in archived for g in group)
        assert stats()["requests"].get("status", 0) > 0  # the 2018 door's status endpoint was polled
