"""``make demo-events``: a product appears in CMR and lands in your bucket a few seconds later, event-driven.

Starts the sandbox, then ``airflow standalone`` (API server, scheduler, dag-processor, triggerer on
SQLite) with the event-driven example DAG for Pasadena polling CMR every 6 s. Once the asset watcher
polls, the sandbox publishes a new granule; the watcher's event starts a run, which copies the product.
The demo waits for it in the bucket, checks its MD5 against CMR's and prints the time it took.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from airflow_asf_ifg.sandbox import Sandbox
from airflow_asf_ifg.sandbox.catalogue import PASADENA
from airflow_asf_ifg.sandbox.demo import ARIA_S1_GUNW, DAG_FILE, airflow_environment, destination_client
from airflow_asf_ifg.sandbox.ports import free_port
from airflow_asf_ifg.sandbox.walkthrough import step

EVENTS_FILE = DAG_FILE.with_name("asf_ifg_new_products.py")
DAG_ID = "pasadena_new_products"
BUCKET = "asf-ifg-ingest"
POLL_MINUTES = 0.1
#: Seconds each stage may take before the demo gives up (Airflow's first start migrates its database).
STARTUP_SECONDS, LANDING_SECONDS = 300, 180


def wait(condition: Any, seconds: float, what: str, process: subprocess.Popen[bytes], log: Path) -> Any:
    """Poll ``condition`` twice a second; fail with the Airflow log's tail if it exits or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow standalone exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(
        f"gave up after {seconds:.0f} s waiting for {what}; Airflow's log ends:\n{log.read_text()[-3000:]}"
    )


def event_dag_folder(dags: Path, bucket: str, poll_minutes: float, more: dict[str, str] | None = None) -> None:
    """A DAG folder with both example DAG files and an ``aois.yaml`` of one event-driven entry over Pasadena.

    :param dags: the folder (created).
    :param bucket: the destination bucket.
    :param poll_minutes: how often its watcher polls CMR.
    :param more: more event-driven entries of the same collection and poll, DAG id → AOI.
    """
    dags.mkdir(parents=True, exist_ok=True)
    shutil.copy(DAG_FILE, dags / DAG_FILE.name)
    shutil.copy(EVENTS_FILE, dags / EVENTS_FILE.name)
    entry = {
        "dag_id": DAG_ID,
        "aoi": f"{PASADENA[0]},{PASADENA[1]}",
        "dest_bucket": bucket,
        "trigger": "events",
        "poll_minutes": poll_minutes,
        "retry_delay_minutes": 0.1,
        "description": "New interferograms over Pasadena, copied as CMR publishes them",
    }
    others = [
        {**entry, "dag_id": dag_id, "aoi": aoi, "description": f"New over {aoi}"}
        for dag_id, aoi in (more or {}).items()
    ]
    (dags / "aois.yaml").write_text(yaml.safe_dump({"aois": [entry, *others]}))


def landed_md5(sandbox: Sandbox, key: str) -> str | None:
    """The MD5 of the object at ``key`` in the destination bucket, or None while it is not there."""
    client = destination_client(sandbox)
    try:
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def main() -> int:
    """Sandbox and Airflow up, one publication followed to the bucket, everything down (also on failure)."""
    home = Path(tempfile.mkdtemp(prefix="asf-ifg-demo-events-"))
    dags = home / "dags"
    event_dag_folder(dags, BUCKET, POLL_MINUTES)
    log = home / "airflow-standalone.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        with Sandbox(buckets=(BUCKET,)) as sandbox:
            step(1, "Airflow standalone with the event-driven DAG (its asset watcher polls CMR every 6 s)")
            port = free_port()
            environment = {
                **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
                **airflow_environment(str(home), dags),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                # standalone starts each component as `airflow ...`: this interpreter's one, unactivated venv or not.
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                # A port of its own, so the demo runs beside an Airflow already on 8080.
                "AIRFLOW__API__PORT": str(port),
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
                **{k: v for k, v in sandbox.environment().items() if k.startswith("AIRFLOW_CONN")},
            }
            with open(log, "wb") as output:
                process = subprocess.Popen(
                    [sys.executable, "-m", "airflow", "standalone"],
                    env=environment,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

            def polls() -> int:
                requests: dict[str, int] = sandbox.stats.snapshot()["requests"]  # type: ignore[assignment]
                return requests.get("cmr_granules", 0)

            wait(lambda: polls() >= 2, STARTUP_SECONDS, "the watcher's first polls of CMR", process, log)
            print(f"   the watcher is polling ({polls()} CMR searches so far); Airflow's log: {log}")

            step(2, "The sandbox publishes a new interferogram over Pasadena")
            like = next(g for g in sandbox.catalogue if g.collection.concept_id == ARIA_S1_GUNW)
            granule = sandbox.publish(like.granule_ur, start=datetime.now(UTC))
            published = time.monotonic()
            key = f"sentinel-1/ARIA_S1_GUNW/{granule.granule_ur}/{granule.data_file.name}"
            size, md5 = granule.sizes[granule.data_file.name]
            print(f"   {granule.granule_ur}\n   {size} bytes, MD5 {md5}")

            step(3, "The watcher's event starts a run, which copies it into your bucket")
            wait(lambda: landed_md5(sandbox, key) == md5, LANDING_SECONDS, "the product in the bucket", process, log)
            print(f"   s3://{BUCKET}/{key}\n   landed {time.monotonic() - published:.1f} s after it was published;")
            print("   its MD5 matches CMR's")
            return 0
    except KeyboardInterrupt:
        print("\ninterrupted; Airflow and the sandbox are stopped", file=sys.stderr)
        return 130
    except (RuntimeError, TimeoutError) as error:
        print(f"\ndemo failed: {error}", file=sys.stderr)
        return 1
    finally:
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
