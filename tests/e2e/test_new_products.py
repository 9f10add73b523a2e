"""Event-driven ingestion in real Airflow (API server, scheduler, dag-processor, triggerer): a granule the
sandbox publishes while everything runs lands in the bucket, verified, through the asset watcher's event.

Ten publications give the time from publication to the object landed; a reprocessing with new bytes is
copied again and one with the same bytes is skipped; the triggerer is killed between two polls and a
granule published meanwhile still lands once, with no event lost or repeated.
"""

from __future__ import annotations

import hashlib
import signal
import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest

from airflow_asf_ifg.sandbox.catalogue import PASADENA
from airflow_asf_ifg.sandbox.demo import ARIA_S1_GUNW
from airflow_asf_ifg.sandbox.demo_events import DAG_ID, event_dag_folder
from tests.e2e.stack import AirflowStack
from tests.sandbox.helpers import ingest_sandbox, user_s3, wait_for

BUCKET = "asf-ifg-events"
POLL_MINUTES = 0.1  # a poll every 6 s
PUBLICATIONS = 10

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def sandbox(asf_sandbox):
    yield from ingest_sandbox(asf_sandbox, BUCKET, 5.0)


@pytest.fixture(scope="module")
def stack(sandbox, tmp_path_factory):
    dags = tmp_path_factory.mktemp("event-dags")
    event_dag_folder(dags, BUCKET, POLL_MINUTES)
    connections = {name: value for name, value in sandbox.environment().items() if name.startswith("AIRFLOW_CONN")}
    airflow = AirflowStack(tmp_path_factory.mktemp("airflow-home"), dags, connections)
    try:
        airflow.start()
        wait_for(airflow.healthy, 240, "the API server and the scheduler to be healthy", every=1.0)
        wait_for(lambda: airflow.api("GET", f"/dags/{DAG_ID}").status_code == 200, 240, "the DAG to be parsed")
        assert airflow.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False}).status_code == 200
        wait_for(lambda: cmr_polls(sandbox) >= 2, 240, "the watcher to poll CMR", every=0.5)
        yield airflow
    finally:
        airflow.stop()


def cmr_polls(sandbox) -> int:
    return sandbox.stats.snapshot()["requests"].get("cmr_granules", 0)


def like(sandbox):
    """A granule over Pasadena whose frame the published ones cover."""
    return next(
        g
        for g in sandbox.catalogue
        if g.collection.concept_id == ARIA_S1_GUNW and abs(g.footprint[0][0] - PASADENA[0]) < 1.5
    )


def key_of(granule) -> str:
    return f"sentinel-1/ARIA_S1_GUNW/{granule.granule_ur}/{granule.data_file.name}"


def landed_md5(sandbox, key: str) -> str | None:
    destination = user_s3(sandbox)
    try:
        body = destination.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except destination.exceptions.NoSuchKey:
        return None
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def runs(stack: AirflowStack) -> list[dict]:
    return stack.api("GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 100}).json()["dag_runs"]


def wait_landed(sandbox, stack: AirflowStack, granule, timeout: float = 180) -> float:
    """Seconds until the granule's product is in the bucket with CMR's MD5 and every run has finished."""
    expected = granule.sizes[granule.data_file.name][1]
    started = time.monotonic()
    wait_for(lambda: landed_md5(sandbox, key_of(granule)) == expected, timeout, f"{granule.granule_ur}", every=0.25)
    took = time.monotonic() - started
    wait_for(lambda: all(r["state"] in ("success", "failed") for r in runs(stack)), 120, "the runs to end", every=1)
    return took


def copy_results(stack: AirflowStack, run_id: str) -> list[dict]:
    listed = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 100}).json()
    results = []
    for ti in listed["task_instances"]:
        if ti["task_id"] == "copy":
            path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/copy/xcomEntries/return_value"
            results += stack.api("GET", path, params={"map_index": ti["map_index"]}).json()["value"]
    return results


class TestNewProducts:
    published: list = []

    def test_each_published_granule_lands_minutes_later(self, stack, sandbox):
        model = like(sandbox)
        base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=PUBLICATIONS)
        took = []
        for number in range(PUBLICATIONS):
            granule = sandbox.publish(model.granule_ur, start=base + timedelta(days=number))
            TestNewProducts.published.append(granule)
            took.append(wait_landed(sandbox, stack, granule))
        print(
            f"\npublished → landed over {PUBLICATIONS} publications, a poll every {POLL_MINUTES * 60:.0f} s: "
            f"median {statistics.median(took):.1f} s, max {max(took):.1f} s, min {min(took):.1f} s"
        )
        assert {r["state"] for r in runs(stack)} == {"success"}
        copied = [r["key"].rsplit("/", 1)[-1] for run in runs(stack) for r in copy_results(stack, run["dag_run_id"])]
        assert sorted(copied) == sorted(g.data_file.name for g in TestNewProducts.published)  # each once

    def test_a_reprocessed_product_is_copied_again_and_an_unchanged_revision_is_not(self, stack, sandbox):
        granule = TestNewProducts.published[0]
        before = landed_md5(sandbox, key_of(granule))
        count = len(runs(stack))
        revised = sandbox.revise(granule.granule_ur)  # new bytes, new MD5
        wait_landed(sandbox, stack, revised)
        assert landed_md5(sandbox, key_of(granule)) != before
        wait_for(lambda: len(runs(stack)) > count, 60, "the revision's run")
        count = len(runs(stack))
        sandbox.revise(granule.granule_ur, new_bytes=False)  # the record revised, the bytes the same
        wait_for(lambda: len(runs(stack)) > count, 120, "the unchanged revision's run", every=1.0)
        wait_for(lambda: all(r["state"] in ("success", "failed") for r in runs(stack)), 120, "it to end", every=1)
        newest = max(runs(stack), key=lambda r: r["run_after"])
        assert newest["state"] == "success"
        assert [r["status"] for r in copy_results(stack, newest["dag_run_id"])] == ["skipped"]

    def test_the_triggerer_killed_between_polls_loses_and_repeats_nothing(self, stack, sandbox):
        count = len(runs(stack))
        polls = cmr_polls(sandbox)
        wait_for(lambda: cmr_polls(sandbox) > polls, 60, "a poll", every=0.2)  # just after a poll
        stack.kill("triggerer", signal.SIGKILL)
        model = like(sandbox)
        granule = sandbox.publish(model.granule_ur, start=datetime.now(UTC).replace(microsecond=0))
        stack.start_component("triggerer")
        wait_landed(sandbox, stack, granule, timeout=300)
        time.sleep(POLL_MINUTES * 60 * 3)  # three more polls: anything repeated would have come by now
        assert len(runs(stack)) == count + 1, [r["dag_run_id"] for r in runs(stack)]
        assert {r["state"] for r in runs(stack)} == {"success"}
