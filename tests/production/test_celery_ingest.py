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

from airflow_asf_ifg.sandbox import Sandbox
from airflow_asf_ifg.sandbox.catalogue import PASADENA, Granule
from airflow_asf_ifg.sandbox.demo import ARIA_S1_GUNW, DAG_FILE, landed, run_after
from tests.production.cluster import WORKERS, CeleryCluster
from tests.sandbox.helpers import ingest_sandbox, wait_for

BUCKET = "asf-ifg-ingest"
PASADENA_DAG = "prod_pasadena"
RETRIEVAL_SECONDS = 10.0
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
        {"dag_id": dag_id, "aoi": aoi, "dest_bucket": BUCKET, "tags": ["production"]}
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

        cluster.postgres.restart()  # every process loses its connections at once
        wait_until(cluster.healthy, 240, "every process to be healthy again after PostgreSQL's restart")
        trigger(cluster, "prod_b", "prod_b_after_postgres", run_after(group[0].start) + timedelta(minutes=2))
        state = wait_until(
            lambda: (s := run_state(cluster, "prod_b", "prod_b_after_postgres")) in FINISHED and s,
            420,
            "the run after PostgreSQL's restart to finish",
        )
        assert state == "success", task_instances(cluster, "prod_b", "prod_b_after_postgres")
        done = summary(cluster, "prod_b", "prod_b_after_postgres")
        assert done["granules_found"] == len(group) and done["granules_failed"] == [], done

    def test_every_product_landed_verified(self, cluster, sandbox, plan):
        expected = {key(g) for g in (*plan["triggered"]["prod_b"], *plan["triggered"]["prod_c"])}
        expected |= {key(g) for g in (*plan["backfilled"], *plan["archived_run"])}
        objects = landed(sandbox, BUCKET)
        assert {item["key"] for item in objects} == expected
        catalogue = {f["name"]: f for g in sandbox.catalogue_document() for f in g["files"]}
        for item in objects:
            assert item["verified"], item
            assert item["size"] == catalogue[item["key"].rsplit("/", 1)[-1]]["size"], item

    def test_tasks_ran_on_both_workers(self):
        # The task instances' hostname is what each worker reported through the Execution API (hostname.py).
        assert TestCeleryIngest.hostnames == {worker.name for worker in WORKERS}, TestCeleryIngest.hostnames
