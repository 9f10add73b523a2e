"""``make demo``: run the example DAG ``asf_ifg_aoi_ingest`` end to end against the sandbox, then show what landed.

Starts the sandbox in today's era (``--era 2018`` for the 2018 page's door), points both Airflow connections
at it, runs the DAG once with ``dag.test()`` on Airflow's embedded SQLite database in a throw-away AIRFLOW_HOME
(a day over Pasadena; in 2018 one of its products is archived, so the sensor waits for its retrieval), prints
what the preflight checked, lists the destination bucket with each object's MD5 checked against CMR, prints
the run's summary, and stops the sandbox, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from airflow_asf_ifg.sandbox import Sandbox
from airflow_asf_ifg.sandbox.catalogue import first_pair_group
from airflow_asf_ifg.sandbox.walkthrough import step

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "asf_ifg_aoi_ingest.py"
DAG_ID = "asf_ifg_aoi_ingest"
ARIA_S1_GUNW = "C2859376221-ASF"
DAILY_AT_HOUR = 6  # the example DAG's schedule, "0 6 * * *" (UTC)
ERAS = ("today", "2018")


def run_after(acquired: datetime, hour: int = DAILY_AT_HOUR) -> datetime:
    """The end of the daily data interval (``hour``:00 UTC) that holds ``acquired``: the run's logical date.

    :param acquired: an acquisition time (UTC).
    :param hour: the hour of the daily schedule.
    """
    boundary = acquired.replace(hour=hour, minute=0, second=0, microsecond=0)
    return boundary if acquired < boundary else boundary + timedelta(days=1)


def airflow_environment(home: str, dags: Path) -> dict[str, str]:
    """Environment for Airflow on SQLite in ``home`` that finds the example DAGs (set before importing Airflow).

    :param home: a fresh AIRFLOW_HOME.
    :param dags: the folder holding the example DAG file.
    """
    bundles = [
        {
            "name": "examples",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(dags)},
        }
    ]
    return {
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
    }


def load_dag(path: Path = DAG_FILE, dag_id: str = DAG_ID) -> Any:
    """Import the example DAG file and return one of its DAGs.

    :param path: the DAG file.
    :param dag_id: which DAG.
    """
    spec = importlib.util.spec_from_file_location("asf_ifg_aoi_ingest_demo", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, dag_id)


def destination_client(sandbox: Sandbox) -> Any:
    """A boto3 S3 client with the identity of the sandbox's ``aws_default`` connection (the destination).

    :param sandbox: the running sandbox.
    """
    connection = sandbox.aws_connection()
    return boto3.client(
        "s3",
        endpoint_url=connection["extra"]["endpoint_url"],
        region_name=connection["extra"]["region_name"],
        aws_access_key_id=connection["login"],
        aws_secret_access_key=connection["password"],
    )


def landed(sandbox: Sandbox, bucket: str) -> list[dict[str, Any]]:
    """Every object in the destination bucket with its size, and its MD5 compared with the catalogue's.

    :param sandbox: the running sandbox.
    :param bucket: the destination bucket.
    """
    expected = {f["name"]: f["md5"] for g in sandbox.catalogue_document() for f in g["files"]}
    client = destination_client(sandbox)
    objects = []
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        digest = hashlib.md5(usedforsecurity=False)
        for chunk in client.get_object(Bucket=bucket, Key=item["Key"])["Body"].iter_chunks(1 << 20):
            digest.update(chunk)
        name = item["Key"].rsplit("/", 1)[-1]
        objects.append(
            {
                "key": item["Key"],
                "size": item["Size"],
                "md5": digest.hexdigest(),
                "verified": expected.get(name) == digest.hexdigest(),
            }
        )
    return objects


def main(argv: list[str] | None = None) -> int:
    """Sandbox up, Airflow on SQLite, one DAG run, report, sandbox down (also on failure or Ctrl-C).

    :param argv: arguments (default: ``sys.argv[1:]``): ``--era today|2018``.
    """
    parser = argparse.ArgumentParser(
        prog="python -m airflow_asf_ifg.sandbox.demo", description="Run the example DAG against the sandbox."
    )
    parser.add_argument(
        "--era",
        choices=ERAS,
        default=os.environ.get("ERA") or "today",
        help="today's ASF services (default) or the 2018 page's door",
    )
    era = parser.parse_args(argv).era
    home = tempfile.mkdtemp(prefix="asf-ifg-demo-")
    os.environ.update(airflow_environment(home, DAG_FILE.parent))
    try:
        with Sandbox(era=era, retrieval_seconds=8) as sandbox, sandbox.connections():
            return demo(sandbox)
    except KeyboardInterrupt:
        print("\ninterrupted; the sandbox is stopped", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(home, ignore_errors=True)


def demo(sandbox: Sandbox) -> int:
    """The demo's steps against a running sandbox whose connections are set.

    :param sandbox: the running sandbox.
    """
    from airflow.utils import db

    era = sandbox.config.era
    step(1, f"the sandbox stands in for CMR, Earthdata Login, ASF and S3 as they are in era {era}")
    for name, value in sandbox.environment().items():
        if not name.startswith("AIRFLOW_CONN"):
            print(f"   {name}={value}")
    extra = sorted(sandbox.earthdata_connection()["extra"])
    why = "only the sandbox's hosts" if era == "today" else "the sandbox's hosts and the 2018 door's endpoints"
    print(f"   earthdata_default: login and password, extra {', '.join(extra)} ({why})")
    dag = load_dag()
    bucket = dag.params["dest_bucket"]
    group = first_pair_group(sandbox.catalogue, ARIA_S1_GUNW)
    logical_date = run_after(group[0].start)
    files = {f["name"]: f for g in sandbox.catalogue_document() for f in g["files"]}
    archived = sum(files[g.data_file.name]["archived"] for g in group)
    print(
        f"   the day's ARIA_S1_GUNW products over Pasadena: {len(group)}, of which {archived} archived"
        + (
            f" (retrieval takes {sandbox.config.retrieval_seconds:g} s)"
            if archived
            else " (today's services keep no GUNW product in long-term storage)"
        )
    )

    step(2, f"Airflow on SQLite in {os.environ['AIRFLOW_HOME']}; create the destination bucket s3://{bucket}")
    db.resetdb()
    destination_client(sandbox).create_bucket(Bucket=bucket)

    step(3, f"run {DAG_ID} for the data interval ending {logical_date:%Y-%m-%d %H:%M} UTC (dag.test())")
    dag_run = dag.test(logical_date=logical_date)
    print(f"\n   DAG run {dag_run.run_id}: {dag_run.state}")

    preflight = task_result(dag_run, "preflight") or {}
    checked = preflight.get("source") or {}
    print(f"\n   the preflight checked: {checked.get('detail') or 'nothing (see the preflight task log)'}")
    if checked.get("hops"):
        print(f"   its request went {' -> '.join(checked['hops'])}")
    if preflight.get("destination"):
        print(f"   and the destination s3://{preflight['destination']['bucket']}")

    step(4, f"what landed in s3://{bucket}")
    objects = landed(sandbox, bucket)
    for item in objects:
        print(
            f"   {item['key']}  {item['size']:>9,} B  md5 {item['md5']}  "
            f"{'verified against CMR' if item['verified'] else 'MISMATCH'}"
        )

    step(5, "summary")
    summary = task_result(dag_run, "summarize")
    for name, value in (summary or {}).items():
        if name != "written":
            print(f"   {name}: {value}")
    events = sandbox.stats.snapshot()["events"]
    assert isinstance(events, dict)
    print(f"   retrievals started: {events.get('retrieval_started', 0)}")
    ok = dag_run.state == "success" and bool(objects) and all(item["verified"] for item in objects)
    print(f"\n{'Done' if ok else 'FAILED'}: the sandbox is stopped.")
    return 0 if ok else 1


def task_result(dag_run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    """A task's XCom (its return value by default) from the metadata database.

    :param dag_run: the finished DAG run.
    :param task_id: the task.
    :param key: the XCom key.
    :param map_index: the mapped task instance (-1: not mapped).
    """
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_run.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
                XComModel.map_index == map_index,
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)


if __name__ == "__main__":
    sys.exit(main())
