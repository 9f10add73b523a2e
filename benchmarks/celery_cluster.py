"""What a busy CeleryExecutor cluster spends on the example DAG: dispatch latency, copies per minute, memory.

The production shape of ``tests/production`` (PostgreSQL, Redis, the API server, scheduler, dag-processor,
triggerer and Celery workers of 4 slots each, one airflow.cfg), against the sandbox run as its own process
with ``--granules`` granules per collection (three ARIA_S1_GUNW products a day). One AOI DAG covers the
whole world; one manual run is triggered for each day that has products, all at once, so the DAG's
``max_active_runs`` (3) and the workers' slots are what hold the runs back. Scenarios, each on a fresh
cluster and an empty bucket, taking turns:

- two workers (the target: ``worker-a`` and ``worker-b``);
- one worker (the baseline: the same cluster with ``worker-b`` never started).

Printed per scenario (medians over ``--runs`` rounds): copies, wall seconds from the first trigger to the
last run's end, copies per minute over that span, the seconds from a run's ``search`` ending to all of that
run's copies running (median and worst), and each worker's peak and median memory (PSS, so pages shared
by forks count once; its whole process tree: the Celery leader, its pool and the task processes it forks),
sampled twice a second.

Usage: ``python benchmarks/celery_cluster.py [--granules 48] [--product-kib 1024] [--runs 1]``.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import yaml
from _sandbox import start_sandbox, stop_sandbox
from copy_throughput import clients

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_asf_ifg.sandbox.demo import ARIA_S1_GUNW, DAG_FILE, run_after  # noqa: E402
from tests.production import cluster as production  # noqa: E402

BUCKET = "cluster-bench"
DAG_ID = "bench_world"
WORLD = [-180, -90, 180, 90]


def parse(value: str) -> datetime:
    """A REST API timestamp.

    :param value: ISO 8601, perhaps ending in ``Z``.
    """
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class MemorySampler(threading.Thread):
    """Samples the memory (PSS) of each worker's process tree twice a second until stopped.

    :param airflow: the running cluster.
    :param names: the workers' names.
    """

    def __init__(self, airflow: production.CeleryCluster, names: list[str]) -> None:
        super().__init__(daemon=True)
        self.airflow = airflow
        self.samples: dict[str, list[float]] = {name: [] for name in names}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            for name, samples in self.samples.items():
                try:
                    leader = psutil.Process(self.airflow.processes[name].pid)
                    tree = [leader, *leader.children(recursive=True)]
                    # PSS: pages a fork shares with its parent are counted once, split between them.
                    samples.append(sum(p.memory_full_info().pss for p in tree if p.is_running()) / 2**20)
                except (psutil.Error, KeyError):
                    continue


def days_with_products(catalogue: list[dict[str, Any]]) -> list[datetime]:
    """The acquisition days of ARIA_S1_GUNW products, as the logical dates of the runs that ingest them.

    :param catalogue: the sandbox's catalogue document.
    """
    starts = {datetime.fromisoformat(g["start"]) for g in catalogue if g["collection_concept_id"] == ARIA_S1_GUNW}
    return sorted({run_after(start) for start in starts})


def scenario(printed: dict[str, str], catalogue: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    """Start a cluster with ``workers`` workers, run one DAG run per day with products, and measure.

    :param printed: the sandbox's lines (connections).
    :param catalogue: the sandbox's catalogue document.
    :param workers: 1 or 2.
    """
    home = Path(tempfile.mkdtemp(prefix="asf-ifg-bench-home-"))
    dags = Path(tempfile.mkdtemp(prefix="asf-ifg-bench-dags-"))
    shutil.copy(DAG_FILE, dags / DAG_FILE.name)
    entry = {"dag_id": DAG_ID, "aoi": WORLD, "dest_bucket": BUCKET, "retry_delay_minutes": 0.1}
    (dags / "aois.yaml").write_text(yaml.safe_dump({"aois": [entry]}))
    connections = {name: value for name, value in printed.items() if name.startswith("AIRFLOW_CONN")}
    _, user = clients(printed)
    for item in user.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        user.delete_object(Bucket=BUCKET, Key=item["Key"])
    airflow = production.CeleryCluster(home, dags, connections)
    names = [w.name for w in production.WORKERS][:workers]
    for absent in [w.name for w in production.WORKERS][workers:]:
        del airflow.commands[absent]  # never started
    try:
        airflow.start()
        deadline = time.monotonic() + 300
        while not all(
            name in airflow.processes
            and f"celery@{name} ready" in (home / "process-logs" / f"{name}.log").read_text(errors="replace")
            for name in names
        ) or not production.AirflowStack.healthy(airflow):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not become healthy in 300 s")
            time.sleep(1)
        while airflow.api("GET", f"/dags/{DAG_ID}").status_code != 200:
            time.sleep(1)
        airflow.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
        sampler = MemorySampler(airflow, names)
        sampler.start()
        days = days_with_products(catalogue)
        started = time.monotonic()
        for number, day in enumerate(days):
            created = airflow.api(
                "POST",
                f"/dags/{DAG_ID}/dagRuns",
                json={"dag_run_id": f"day_{number:03d}", "logical_date": day.isoformat()},
            )
            if created.status_code != 200:
                raise RuntimeError(created.text)
        while True:
            # Manual runs only: unpausing the DAG also schedules its latest interval, which finds nothing.
            listed = airflow.api("GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 100, "run_type": "manual"})
            runs = listed.json()["dag_runs"]
            if len(runs) == len(days) and all(r["state"] in ("success", "failed") for r in runs):
                break
            if time.monotonic() - started > 1800:
                raise RuntimeError("the runs did not finish in 30 min")
            time.sleep(1)
        wall = time.monotonic() - started
        sampler.done.set()
        sampler.join()
        failed = [r["dag_run_id"] for r in runs if r["state"] != "success"]
        dispatch, copies = [], 0
        for run in runs:
            tis = airflow.api(
                "GET", f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances", params={"limit": 100}
            ).json()["task_instances"]
            search = next(t for t in tis if t["task_id"] == "search")
            copy_starts = [parse(t["start_date"]) for t in tis if t["task_id"] == "copy" and t["start_date"]]
            copies += len(copy_starts)
            if copy_starts:
                dispatch.append((max(copy_starts) - parse(search["end_date"])).total_seconds())
        memory = {
            name: (max(s) if s else 0.0, statistics.median(s) if s else 0.0) for name, s in sampler.samples.items()
        }
        return {
            "workers": workers,
            "runs": len(runs),
            "failed": failed,
            "copies": copies,
            "wall": wall,
            "per_minute": copies / wall * 60,
            "dispatch_median": statistics.median(dispatch),
            "dispatch_max": max(dispatch),
            "memory": memory,
        }
    finally:
        airflow.stop()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(dags, ignore_errors=True)


def main() -> None:
    """Run the scenarios in turns and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--granules", type=int, default=48, help="granules per collection (3 GUNW a day)")
    parser.add_argument("--product-kib", type=int, default=1024, help="size of each product")
    parser.add_argument("--runs", type=int, default=1, help="rounds of both scenarios")
    options = parser.parse_args()
    # SIGTERM (timeout, CI) runs the finally blocks, which stop the clusters and the sandbox.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    process, printed = start_sandbox(
        "--granules", str(options.granules), "--product-bytes", str(options.product_kib * 1024), "--bucket", BUCKET
    )
    try:
        import requests

        catalogue = requests.get(f"{printed['SANDBOX_URL']}/__sandbox__/catalogue", timeout=60).json()
        results: dict[int, list[dict[str, Any]]] = {2: [], 1: []}
        for _ in range(options.runs):
            for workers in (2, 1):
                results[workers].append(scenario(printed, catalogue, workers))
                print(f"  done: {workers} worker(s)", results[workers][-1], flush=True)
    finally:
        stop_sandbox(process)
    print(f"\n{options.granules} granules per collection, products of {options.product_kib} KiB")
    print(
        "| workers | runs | copies | failed | wall s | copies/min | search → all copies running s (median / max) "
        "| worker peak PSS MiB | worker median PSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for workers, rounds in results.items():

        def med(name: str, rounds: list[dict[str, Any]] = rounds) -> float:
            return statistics.median(r[name] for r in rounds)

        last = rounds[-1]
        peaks = ", ".join(f"{n} {p:.0f}" for n, (p, _) in last["memory"].items())
        medians = ", ".join(f"{n} {m:.0f}" for n, (_, m) in last["memory"].items())
        print(
            f"| {workers} | {last['runs']} | {last['copies']} | {len(last['failed'])} | {med('wall'):.0f} | "
            f"{med('per_minute'):.1f} | {med('dispatch_median'):.1f} / {med('dispatch_max'):.1f} | {peaks} | "
            f"{medians} |"
        )
    two, one = (statistics.median(r["per_minute"] for r in results[w]) for w in (2, 1))
    print(f"\ntwo workers / one: {two / one:.2f}x the copies per minute")


if __name__ == "__main__":
    main()
