"""The example DAG in the production shape: CeleryExecutor with two workers on Redis, PostgreSQL, and the sandbox.

Three areas of interest (three DAGs of one ``aois.yaml``) run at once in today's era: two triggered runs and a
backfill of several days whose concurrent runs stay within the DAG's ``max_active_runs``. Then the sandbox
turns into the 2018 door and a run over Pasadena waits, deferred in the triggerer, for its archived product.
Then the faults: the triggerer is SIGKILLed and started again while the sensor waits (each retrieval still
requested once), the scheduler is restarted in the middle of a run, and PostgreSQL between two runs.
Every product must land verified (size and MD5 against the catalogue), and both workers must have run tasks.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml

from airflow_asf_ifg.client.upload_ledger import LEDGER_FOLDER, ledger_prefix
from airflow_asf_ifg.sandbox import Sandbox
from airflow_asf_ifg.sandbox.catalogue import PASADENA, Granule
from airflow_asf_ifg.sandbox.demo import ARIA_S1_GUNW, DAG_FILE, landed, run_after
from tests.production.cluster import VISIBILITY_TIMEOUT, WORKERS, CeleryCluster
from tests.sandbox.helpers import ingest_sandbox, user_s3, wait_for

BUCKET = "asf-ifg-ingest"
PASADENA_DAG = "prod_pasadena"
RETRIEVAL_SECONDS = 10.0
#: A product of five parts of 5 MiB or less, fetched at once (parallel ranges): paced at PACE MiB/s per
#: connection its copy takes about 5 s.
LARGE_PRODUCT = 24 * 1024 * 1024
PACE = 1.0
#: Paced so that one copy (five parts at once, about 50 s) outlives Redis's visibility timeout and a worker's
#: restart after it.
SLOW_PACE = 0.1
REDELIVERED = "Task already running elsewhere, ignoring redelivered message"
BACKFILL_DAYS = 5
FINISHED = ("success", "failed")

pytestmark = pytest.mark.timeout(900)


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll the REST API once a second (plenty for runs that take tens of seconds).

    :param condition: returns something truthy when done.
    :param timeout: seconds.
    :param what: what is awaited.
    """
    return wait_for(condition, timeout, what, every=1.0)


def groups(sandbox: Sandbox) -> list[list[Granule]]:
    """ARIA_S1_GUNW's groups of pairs (one acquisition, one footprint each), in catalogue order.

    :param sandbox: the running sandbox.
    """
    granules = [g for g in sandbox.catalogue if g.collection.concept_id == ARIA_S1_GUNW]
    starts = sorted({g.start for g in granules}, key=[g.start for g in granules].index)
    return [[g for g in granules if g.start == start] for start in starts]


def centre(granule: Granule) -> str:
    """A point inside the granule's footprint, as ``"lon,lat"``: the mean of its corners.

    :param granule: a granule.
    """
    corners = granule.footprint[:-1]  # the ring is closed: its last point repeats the first
    return f"{sum(p[0] for p in corners) / len(corners):.4f},{sum(p[1] for p in corners) / len(corners):.4f}"


def key(granule: Granule) -> str:
    """Where the example DAG's default prefix puts a granule's product.

    :param granule: a granule.
    """
    return f"sentinel-1/ARIA_S1_GUNW/{granule.granule_ur}/{granule.data_file.name}"


@pytest.fixture(scope="module")
def sandbox(asf_sandbox: Sandbox) -> Any:
    """The session's sandbox in today's era with an empty destination bucket; short retrievals."""
    yield from ingest_sandbox(asf_sandbox, BUCKET, RETRIEVAL_SECONDS)


@pytest.fixture(scope="module")
def plan(sandbox: Sandbox) -> dict[str, Any]:
    """Which DAG ingests which group: Pasadena (groups 0 and 2) and two AOIs at other groups' footprints."""
    found = groups(sandbox)
    assert len(found) >= 4, "the session's sandbox needs four groups of ARIA_S1_GUNW pairs"
    return {
        "aois": {
            PASADENA_DAG: f"{PASADENA[0]},{PASADENA[1]}",
            "prod_b": centre(found[1][0]),
            "prod_c": centre(found[3][0]),
        },
        "triggered": {"prod_b": found[1], "prod_c": found[3]},
        "backfilled": found[2],  # over Pasadena, in today's era
        "archived_run": found[0],  # over Pasadena with an archived product, in the 2018 era
    }


@pytest.fixture(scope="module")
def cluster(sandbox: Sandbox, plan: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The cluster with a DAG folder of the example DAG and three AOIs, every DAG parsed and unpaused."""
    dags = tmp_path_factory.mktemp("dags")
    shutil.copy(DAG_FILE, dags / DAG_FILE.name)
    entries = [
        # A quick retry: a copy whose worker was killed is tried again seconds after it is noticed.
        {"dag_id": dag_id, "aoi": aoi, "dest_bucket": BUCKET, "tags": ["production"], "retry_delay_minutes": 0.1}
        for dag_id, aoi in plan["aois"].items()
    ]
    (dags / "aois.yaml").write_text(yaml.safe_dump({"aois": entries}))
    connections = {name: value for name, value in sandbox.environment().items() if name.startswith("AIRFLOW_CONN")}
    started = time.monotonic()
    airflow = CeleryCluster(tmp_path_factory.mktemp("airflow-home"), dags, connections)
    try:
        airflow.start()
        wait_until(airflow.healthy, 240, "every Airflow process to be healthy and both workers ready")
        wait_until(
            lambda: all(airflow.api("GET", f"/dags/{dag_id}").status_code == 200 for dag_id in plan["aois"]),
            240,
            "the dag-processor to parse the three DAGs of aois.yaml",
        )
        for dag_id in plan["aois"]:
            assert airflow.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).status_code == 200
        yield airflow
    finally:
        airflow.stop()
        print(f"\nproduction: cluster up and down in {time.monotonic() - started:.0f} s")


def trigger(cluster: CeleryCluster, dag_id: str, run_id: str, logical_date: datetime) -> None:
    """Create a manual run over the REST API.

    :param cluster: the cluster.
    :param dag_id: the DAG.
    :param run_id: the run id.
    :param logical_date: the end of the daily interval to ingest.
    """
    created = cluster.api(
        "POST", f"/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": logical_date.isoformat()}
    )
    assert created.status_code == 200, created.text


def runs(cluster: CeleryCluster, dag_id: str, run_type: str | None = None) -> list[dict[str, Any]]:
    """A DAG's runs, of one type if given.

    :param cluster: the cluster.
    :param dag_id: the DAG.
    :param run_type: ``manual``, ``backfill``, ``scheduled``...
    """
    params: dict[str, Any] = {"limit": 100, **({"run_type": run_type} if run_type else {})}
    response = cluster.api("GET", f"/dags/{dag_id}/dagRuns", params=params)
    assert response.status_code == 200, response.text
    return response.json()["dag_runs"]


def run_state(cluster: CeleryCluster, dag_id: str, run_id: str) -> str:
    """A run's state.

    :param cluster: the cluster.
    :param dag_id: the DAG.
    :param run_id: the run.
    """
    return cluster.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]


def task_instances(cluster: CeleryCluster, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """A run's task instances (state, hostname...).

    :param cluster: the cluster.
    :param dag_id: the DAG.
    :param run_id: the run.
    """
    response = cluster.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
    assert response.status_code == 200, response.text
    return response.json()["task_instances"]


def summary(cluster: CeleryCluster, dag_id: str, run_id: str) -> dict[str, Any]:
    """The ``summarize`` task's return value (counts and written keys).

    :param cluster: the cluster.
    :param dag_id: the DAG.
    :param run_id: the run.
    """
    path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/summarize/xcomEntries/return_value"
    return cluster.api("GET", path).json()["value"]


def most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    """The largest number of intervals open at one instant (an end before a start at the same instant).

    :param spans: (start, end) pairs.
    """
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans], key=lambda e: (e[0], e[1]))
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def unfinished_uploads(client: Any, object_key: str) -> set[str]:
    """Ids of the unfinished multipart uploads of one key in the destination bucket.

    :param client: an S3 client of the destination.
    :param object_key: the key.
    """
    uploads = client.list_multipart_uploads(Bucket=BUCKET, Prefix=object_key).get("Uploads", [])
    return {u["UploadId"] for u in uploads if u["Key"] == object_key}


def upload_records(client: Any, object_key: str) -> list[str]:
    """The copy operator's records of unfinished uploads of one key (none once every copy is over).

    :param client: an S3 client of the destination.
    :param object_key: the key.
    """
    listed = client.list_object_versions(Bucket=BUCKET, Prefix=ledger_prefix(object_key))
    return [item["Key"] for item in (*listed.get("Versions", []), *listed.get("DeleteMarkers", []))]


def assert_stored_as(client: Any, object_key: str, granule: Granule) -> None:
    """The destination's object has the size and MD5 of the granule's (revised) product.

    :param client: an S3 client of the destination.
    :param object_key: the key.
    :param granule: the sandbox's granule.
    """
    stored = client.head_object(Bucket=BUCKET, Key=object_key)
    assert (stored["ContentLength"], stored["Metadata"]["asf-checksum"]) == granule.sizes[granule.data_file.name]


def copy_tis(cluster: CeleryCluster, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """The mapped copy task instances of a run.

    :param cluster: the cluster.
    :param dag_id: the DAG.
    :param run_id: the run.
    """
    return [ti for ti in task_instances(cluster, dag_id, run_id) if ti["task_id"] == "copy"]


def worker_log_count(cluster: CeleryCluster, text: str) -> int:
    """How many times both workers' logs say ``text``.

    :param cluster: the cluster.
    :param text: a log message.
    """
    logs = cluster.home / "process-logs"
    return sum((logs / f"{w.name}.log").read_text(errors="replace").count(text) for w in WORKERS)


def report(fault: str, sandbox: Sandbox, runs: int, completed: int, granules: list[Granule], duplicates: int) -> None:
    """Check and print what a fault left: its products verified, no unfinished upload, no upload record.

    :param fault: what was done.
    :param sandbox: the sandbox.
    :param runs: DAG runs made.
    :param completed: of those, how many succeeded.
    :param granules: the granules the runs ingest.
    :param duplicates: retrieval requests beyond one per archived product.
    """
    objects = {item["key"]: item for item in landed(sandbox, BUCKET)}
    verified = sum(objects.get(key(g), {}).get("verified", False) for g in granules)
    dest = user_s3(sandbox)
    uploads = len(dest.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []))
    records = sum(LEDGER_FOLDER in item for item in objects)
    print(
        f"\n{fault}: runs {runs}, completed {completed}, objects verified {verified}/{len(granules)}, "
        f"unfinished uploads {uploads}, upload records {records}, duplicate retrieval requests {duplicates}"
    )
    assert (completed, verified, uploads, records, duplicates) == (runs, len(granules), 0, 0, 0)


def parse(value: str) -> datetime:
    """A REST API timestamp.

    :param value: ISO 8601, perhaps ending in ``Z``.
    """
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class TestCeleryIngest:
    hostnames: set[str] = set()

    def test_three_areas_and_a_backfill_in_todays_era(self, cluster, sandbox, plan):
        for dag_id, group in plan["triggered"].items():
            trigger(cluster, dag_id, f"{dag_id}_today", run_after(group[0].start))
        backfilled_day = run_after(plan["backfilled"][0].start)
        max_active_runs = cluster.api("GET", f"/dags/{PASADENA_DAG}/details").json()["max_active_runs"]
        assert max_active_runs < BACKFILL_DAYS  # so that the limit has something to hold back
        backfill = cluster.api(
            "POST",
            "/backfills",
            json={
                "dag_id": PASADENA_DAG,
                "from_date": (backfilled_day - timedelta(days=BACKFILL_DAYS - 2)).isoformat(),
                "to_date": (backfilled_day + timedelta(days=1)).isoformat(),
                "max_active_runs": max_active_runs,  # the DAG's own limit, which a backfill does not inherit
            },
        )
        assert backfill.status_code == 200, backfill.text
        backfill_id = backfill.json()["id"]

        for dag_id in plan["triggered"]:
            state = wait_until(
                lambda dag_id=dag_id: (s := run_state(cluster, dag_id, f"{dag_id}_today")) in FINISHED and s,
                420,
                f"{dag_id}'s run to finish",
            )
            assert state == "success", task_instances(cluster, dag_id, f"{dag_id}_today")
        wait_until(lambda: cluster.api("GET", f"/backfills/{backfill_id}").json()["completed_at"], 420, "the backfill")

        backfilled = runs(cluster, PASADENA_DAG, "backfill")
        assert len(backfilled) >= BACKFILL_DAYS - 1, [run["logical_date"] for run in backfilled]
        assert {run["state"] for run in backfilled} == {"success"}, [(r["dag_run_id"], r["state"]) for r in backfilled]
        spans = [(parse(run["start_date"]), parse(run["end_date"])) for run in backfilled]
        at_once = most_at_once(spans)
        print(f"\nbackfill: {len(backfilled)} runs, at most {at_once} at once (max_active_runs {max_active_runs})")
        assert 1 <= at_once <= max_active_runs, spans

        for dag_id, group in plan["triggered"].items():
            done = summary(cluster, dag_id, f"{dag_id}_today")
            assert (done["granules_found"], done["files_copied"]) == (len(group), len(group)), done
        written = [url for run in backfilled for url in summary(cluster, PASADENA_DAG, run["dag_run_id"])["written"]]
        assert sorted(written) == sorted(f"s3://{BUCKET}/{key(g)}" for g in plan["backfilled"])

        for dag_id, run_list in (
            *((dag_id, [f"{dag_id}_today"]) for dag_id in plan["triggered"]),
            (PASADENA_DAG, [run["dag_run_id"] for run in backfilled]),
        ):
            for run_id in run_list:
                TestCeleryIngest.hostnames |= {
                    ti["hostname"] for ti in task_instances(cluster, dag_id, run_id) if ti["hostname"]
                }
        assert sandbox.stats.snapshot()["events"].get("retrieval_started", 0) == 0  # today's door archives nothing

    def test_a_run_in_the_2018_era_waits_in_the_triggerer(self, cluster, sandbox, plan):
        sandbox.update_config({"era": "2018"})  # the 2018 door: the first group over Pasadena has one in Glacier
        group = plan["archived_run"]
        archived = sum(g.data_file.archived for g in group)
        assert archived >= 1
        run_id = "pasadena_2018"
        trigger(cluster, PASADENA_DAG, run_id, run_after(group[0].start))

        def sensor_state() -> str | None:
            return next(
                (
                    t["state"]
                    for t in task_instances(cluster, PASADENA_DAG, run_id)
                    if t["task_id"] == "wait_for_archive"
                ),
                None,
            )

        wait_until(lambda: sensor_state() == "deferred", 300, "the archive sensor to defer to the triggerer")
        state = wait_until(
            lambda: (s := run_state(cluster, PASADENA_DAG, run_id)) in FINISHED and s, 420, "the 2018 run to finish"
        )
        assert state == "success", task_instances(cluster, PASADENA_DAG, run_id)
        assert sandbox.stats.snapshot()["events"].get("retrieval_started") == archived
        done = summary(cluster, PASADENA_DAG, run_id)
        assert (done["granules_found"], done["files_copied"]) == (len(group), len(group)), done
        TestCeleryIngest.hostnames |= {
            ti["hostname"] for ti in task_instances(cluster, PASADENA_DAG, run_id) if ti["hostname"]
        }

    def test_the_triggerer_killed_while_the_sensor_waits(self, cluster, sandbox, plan):
        sandbox.reset()  # the archived product of the first group is archived again, stats zeroed
        sandbox.update_config({"era": "2018"})
        group = plan["archived_run"]
        archived = sum(g.data_file.archived for g in group)
        run_id = "pasadena_2018_triggerer_killed"
        # A minute later than the first 2018 run: the same daily interval, another run.
        trigger(cluster, PASADENA_DAG, run_id, run_after(group[0].start) + timedelta(minutes=1))
        wait_until(
            lambda: sandbox.stats.snapshot()["events"].get("retrieval_started", 0) == archived,
            300,
            "the sensor's first poke to request the retrieval",
        )
        wait_until(
            lambda: any(
                t["task_id"] == "wait_for_archive" and t["state"] == "deferred"
                for t in task_instances(cluster, PASADENA_DAG, run_id)
            ),
            300,
            "the archive sensor to defer",
        )
        cluster.kill("triggerer")  # SIGKILL: no clean shutdown, the trigger row is left to be picked up again
        cluster.start_process("triggerer")
        state = wait_until(
            lambda: (s := run_state(cluster, PASADENA_DAG, run_id)) in FINISHED and s, 420, "the run to finish"
        )
        assert state == "success", task_instances(cluster, PASADENA_DAG, run_id)
        # The restarted triggerer rebuilt the trigger from its row (products already requested included).
        assert sandbox.stats.snapshot()["events"]["retrieval_started"] == archived
        done = summary(cluster, PASADENA_DAG, run_id)
        assert (done["granules_found"], done["files_copied"] + done["files_skipped"]) == (len(group), len(group))
        duplicates = sandbox.stats.snapshot()["events"]["retrieval_started"] - archived
        report("triggerer SIGKILLed while deferred", sandbox, 1, 1, group, duplicates)

    def test_the_scheduler_restarted_mid_run_and_postgres_between_runs(self, cluster, sandbox, plan):
        sandbox.update_config({"era": "today"})
        group = plan["triggered"]["prod_b"]
        trigger(cluster, "prod_b", "prod_b_scheduler_restarted", run_after(group[0].start) + timedelta(minutes=1))
        wait_until(lambda: run_state(cluster, "prod_b", "prod_b_scheduler_restarted") == "running", 120, "a run")
        cluster.kill("scheduler", signal.SIGTERM)
        cluster.start_process("scheduler")
        state = wait_until(
            lambda: (s := run_state(cluster, "prod_b", "prod_b_scheduler_restarted")) in FINISHED and s,
            420,
            "the run begun before the scheduler's restart to finish",
        )
        assert state == "success", task_instances(cluster, "prod_b", "prod_b_scheduler_restarted")

        # Every process loses its connections at once; one that gives up is started again, as compose would.
        with cluster.supervised() as restarted:
            cluster.postgres.restart()
            wait_until(cluster.healthy, 240, "every process to be healthy again after PostgreSQL's restart")
            trigger(cluster, "prod_b", "prod_b_after_postgres", run_after(group[0].start) + timedelta(minutes=2))
            state = wait_until(
                lambda: (s := run_state(cluster, "prod_b", "prod_b_after_postgres")) in FINISHED and s,
                420,
                "the run after PostgreSQL's restart to finish",
            )
        print(f"\nPostgreSQL restarted: processes started again (compose's restart: always): {restarted or 'none'}")
        assert state == "success", task_instances(cluster, "prod_b", "prod_b_after_postgres")
        done = summary(cluster, "prod_b", "prod_b_after_postgres")
        assert done["granules_found"] == len(group) and done["granules_failed"] == [], done
        report("scheduler restarted mid-run, PostgreSQL between runs", sandbox, 2, 2, group, 0)

    def test_a_worker_killed_mid_copy(self, cluster, sandbox, plan):
        granule = plan["triggered"]["prod_c"][0]
        object_key = key(granule)
        revised = sandbox.revise(granule.granule_ur, LARGE_PRODUCT)  # reprocessed: new, larger bytes to copy
        sandbox.update_config({"era": "today", "s3_connection_mib_s": PACE})
        dest = user_s3(sandbox)
        # Someone else's unfinished upload of the same key (another tool, another deployment): never touched.
        foreign = dest.create_multipart_upload(Bucket=BUCKET, Key=object_key)["UploadId"]
        run_id = "prod_c_worker_killed"
        try:
            trigger(cluster, "prod_c", run_id, run_after(granule.start) + timedelta(minutes=1))

            def recorded() -> str | None:
                # The copy's upload, once its record is written: its parts are being fetched, all at once.
                uploads = unfinished_uploads(dest, object_key) - {foreign}
                return next(iter(uploads)) if uploads and upload_records(dest, object_key) else None

            killed_upload = wait_until(recorded, 300, "the large copy's upload to be recorded")
            (copying,) = [ti for ti in copy_tis(cluster, "prod_c", run_id) if ti["state"] == "running"]
            killed = copying["hostname"]
            cluster.kill(killed)  # SIGKILL of the worker's process group: the copy's process dies mid-parts
            state = wait_until(
                lambda: (s := run_state(cluster, "prod_c", run_id)) in FINISHED and s, 420, "the run to finish"
            )
        finally:
            sandbox.update_config({"s3_connection_mib_s": 0.0})
        cluster.start_process(killed)
        assert state == "success", task_instances(cluster, "prod_c", run_id)
        retried = next(ti for ti in copy_tis(cluster, "prod_c", run_id) if ti["map_index"] == copying["map_index"])
        others = {w.name for w in WORKERS} - {killed}
        assert (retried["try_number"], retried["hostname"]) == (2, others.pop()), retried
        # The retry aborted the upload its killed try left (by its record), and nobody else's.
        assert unfinished_uploads(dest, object_key) == {foreign}
        assert upload_records(dest, object_key) == []
        dest.abort_multipart_upload(Bucket=BUCKET, Key=object_key, UploadId=foreign)
        assert_stored_as(dest, object_key, revised)
        wait_until(cluster.workers_ready, 120, f"{killed} to be ready again")
        print(f"\nworker killed mid-copy: {killed}; upload {killed_upload[:12]}… aborted by try 2 on the other")
        report("worker SIGKILLed mid-copy", sandbox, 1, 1, plan["triggered"]["prod_c"], 0)

    def test_redis_redelivers_a_copy_while_it_runs(self, cluster, sandbox, plan):
        granule = plan["triggered"]["prod_b"][0]
        object_key = key(granule)
        revised = sandbox.revise(granule.granule_ur, LARGE_PRODUCT)
        dest = user_s3(sandbox)
        dest.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        sandbox.update_config({"era": "today", "s3_connection_mib_s": SLOW_PACE})
        redelivered_before = worker_log_count(cluster, REDELIVERED)
        run_id = "prod_b_redelivered"
        try:
            trigger(cluster, "prod_b", run_id, run_after(granule.start) + timedelta(minutes=3))
            wait_until(lambda: unfinished_uploads(dest, object_key), 300, "the large copy to start its upload")
            (copying,) = [ti for ti in copy_tis(cluster, "prod_b", run_id) if ti["state"] == "running"]
            time.sleep(VISIBILITY_TIMEOUT + 2)  # the message is now older than the visibility timeout
            # A worker restores unacknowledged messages older than that on its first look (10 s after it
            # starts; then only every 100 s): restarting the idle one, as a deploy does, makes it look now.
            (idle,) = {w.name for w in WORKERS} - {copying["hostname"]}
            cluster.kill(idle, signal.SIGTERM)
            cluster.start_process(idle)
            state = wait_until(
                lambda: (s := run_state(cluster, "prod_b", run_id)) in FINISHED and s, 420, "the run to finish"
            )
        finally:
            sandbox.update_config({"s3_connection_mib_s": 0.0})
            dest.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
        assert state == "success", task_instances(cluster, "prod_b", run_id)
        # Redis gave the running copy's message to a worker again after the visibility timeout...
        redelivered = worker_log_count(cluster, REDELIVERED) - redelivered_before
        assert redelivered >= 1, f"no redelivery within the {VISIBILITY_TIMEOUT} s visibility timeout"
        # ...which refused it: the copy ran once, wrote one version, and that version is whole.
        assert {ti["try_number"] for ti in copy_tis(cluster, "prod_b", run_id)} == {1}
        versions = dest.list_object_versions(Bucket=BUCKET, Prefix=object_key).get("Versions", [])
        written = [v for v in versions if v["Key"] == object_key and v["VersionId"] != "null"]
        assert len(written) == 1, versions
        assert upload_records(dest, object_key) == [] and unfinished_uploads(dest, object_key) == set()
        assert_stored_as(dest, object_key, revised)
        wait_until(cluster.workers_ready, 120, f"{idle} to be ready again")
        print(f"\nredelivered while running: {redelivered} delivery refused, {len(written)} version written")
        report("Redis redelivery while the copy runs", sandbox, 1, 1, plan["triggered"]["prod_b"], 0)

    def test_every_product_landed_verified(self, cluster, sandbox, plan):
        expected = {key(g) for g in (*plan["triggered"]["prod_b"], *plan["triggered"]["prod_c"])}
        expected |= {key(g) for g in (*plan["backfilled"], *plan["archived_run"])}
        objects = landed(sandbox, BUCKET)
        assert {item["key"] for item in objects} == expected
        catalogue = {f["name"]: f for g in sandbox.catalogue_document() for f in g["files"]}
        for item in objects:
            assert item["verified"], item
            assert item["size"] == catalogue[item["key"].rsplit("/", 1)[-1]]["size"], item
        dest = user_s3(sandbox)
        assert dest.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []  # none left, of any key

    def test_tasks_ran_on_both_workers(self):
        # The task instances' hostname is what each worker reported through the Execution API (hostname.py).
        assert TestCeleryIngest.hostnames == {worker.name for worker in WORKERS}, TestCeleryIngest.hostnames
