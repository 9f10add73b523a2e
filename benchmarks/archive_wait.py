"""Wait for 1,000 archived products the triggerer's way: one asyncio loop, many triggers, two ways of reading.

A sandbox (the 2018 era) serves 1,000 products, all archived, each retrieved 30 s after it is requested.
Each scenario runs in a fresh process (as a triggerer would) until every trigger has fired:

- the door's status JSON, in 1 trigger of 1,000 and in 100 triggers of 10;
- HeadObject of each product's ``s3://`` object (no status endpoint), in 100 triggers of 10 and 200 of 5:
  the triggers share one S3 client and one set of temporary keys per (credentials endpoint, region,
  identity) in the process; beside it, the baseline of one client and one key fetch per trigger.

Printed per scenario: wall and CPU seconds, peak RSS, the longest stall of the event loop (a task that
wakes every 20 ms measures how late it wakes), open file descriptors and threads before the triggers start
and after they have all fired, key fetches and requests per product (from the sandbox's stats). The
target of issue 15: 100 HeadObject triggers of 10 in at most 300 MB with no stall over 0.5 s. Beside
them, what a poke-mode sensor would cost: one worker slot per sensor for the whole wait, where deferred
sensors hold none.

Usage: ``python benchmarks/archive_wait.py [--products 1000] [--retrieval-seconds 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import threading
import time
from typing import Any

import requests
from _sandbox import start_sandbox, stop_sandbox

COLLECTIONS = 5
#: (label, read mode, triggers, products per trigger, clients shared). The baseline waits for 200 products, not
#: 1,000: at 100 triggers it stalled the loop for minutes and grew past 13 GB before the deadline ended it.
SCENARIOS = (
    ("status", "status", 1, 1000, True),
    ("status", "status", 100, 10, True),
    ("HeadObject, shared", "head", 20, 10, True),
    ("HeadObject, baseline", "head", 20, 10, False),
    ("HeadObject, shared", "head", 100, 10, True),
    ("HeadObject, shared", "head", 200, 5, True),
)
STALL_TICK = 0.02


def open_fds() -> int:
    """File descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


async def longest_stall(stop: asyncio.Event) -> float:
    """How late, at most, a task that sleeps ``STALL_TICK`` s woke until ``stop`` is set: the loop's longest stall.

    :param stop: set when the measured work is over.
    """
    worst = 0.0
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(STALL_TICK)
        worst = max(worst, time.perf_counter() - before - STALL_TICK)
    return worst


def run_scenario(printed: dict[str, str], mode: str, groups: int, size: int, shared: bool) -> dict[str, Any]:
    """Run ``groups`` triggers of ``size`` products each in one event loop; return the process's figures.

    :param printed: the sandbox's settings.
    :param mode: ``status`` (the door's JSON) or ``head`` (HeadObject, no status endpoint).
    :param groups: how many triggers.
    :param size: products per trigger.
    :param shared: whether triggers share S3 clients (False: the baseline, one client each).
    """
    connection = json.loads(printed["AIRFLOW_CONN_EARTHDATA_DEFAULT"])
    if mode == "head":
        connection["extra"].pop("archive_status_url")  # no status endpoint: states come from HeadObject
    os.environ["AIRFLOW_CONN_EARTHDATA_DEFAULT"] = json.dumps(connection)
    from airflow_asf_ifg.client.archive_poll import ArchivePoller, ArchiveTarget
    from airflow_asf_ifg.hooks.asf import AsfHook
    from airflow_asf_ifg.triggers.archive import AsfArchiveStatusTrigger

    class UnsharedTrigger(AsfArchiveStatusTrigger):
        """The baseline: each trigger builds its own S3 client and fetches its own keys."""

        def poller(self) -> ArchivePoller:
            poller = super().poller()
            hook = AsfHook(self.earthdata_conn_id)
            poller.open_s3_client = lambda endpoint: hook.get_async_s3_client(endpoint, shared=False)
            return poller

    catalogue = requests.get(f"{printed['SANDBOX_URL']}/__sandbox__/catalogue", timeout=60).json()
    targets = [
        ArchiveTarget(f["name"], f["url"], f"s3://{f['bucket']}/{f['key']}" if mode == "head" else None)
        for g in catalogue
        for f in g["files"]
        if f["role"] == "data"
    ][: groups * size]
    kind = AsfArchiveStatusTrigger if shared else UnsharedTrigger
    triggers = [
        kind(
            targets=targets[i * size : (i + 1) * size],
            earthdata_conn_id="earthdata_default",
            poke_interval=5.0,
            max_interval=10.0,
            deadline=time.time() + 600,
        )
        for i in range(groups)
    ]

    async def first_event(trigger: AsfArchiveStatusTrigger) -> dict:
        async for event in trigger.run():
            return event.payload
        return {}

    async def everything() -> tuple[list[dict], float]:
        stop = asyncio.Event()
        monitor = asyncio.create_task(longest_stall(stop))
        try:
            payloads = await asyncio.gather(*(first_event(t) for t in triggers))
        finally:
            stop.set()
        return payloads, await monitor

    fds_before, threads_before = open_fds(), threading.active_count()
    started = time.perf_counter()
    payloads, stall = asyncio.run(everything())
    wall = time.perf_counter() - started
    gc.collect()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    statuses = {p["status"] for p in payloads}
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak": usage.ru_maxrss / 1024,
        "stall": stall,
        "fds": (fds_before, open_fds()),
        "threads": (threads_before, threading.active_count()),
        "products": len(targets),
        "available": sum(p["counts"].get("available", 0) for p in payloads),
        "ok": statuses == {"success"},
        "errors": sorted({p["message"] for p in payloads if p["status"] != "success"})[:3],
    }


def main() -> None:
    """Measure every scenario and print them."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--retrieval-seconds", type=float, default=30.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.child)
        import logging

        logging.disable(logging.INFO)  # a state-change line per product would dominate the CPU figure
        print(json.dumps(run_scenario(job["printed"], job["mode"], job["groups"], job["size"], job["shared"])))
        return

    # The 2018 era: today nothing of GRFN is in Glacier and the door has no status endpoint.
    sandbox, printed = start_sandbox(
        "--era",
        "2018",
        "--granules",
        str(args.products // COLLECTIONS),
        "--product-bytes",
        "1024",
        "--archived-fraction",
        "1",
        "--retrieval-seconds",
        str(args.retrieval_seconds),
    )
    try:
        print(
            f"Waiting for {args.products} archived products (retrieval takes {args.retrieval_seconds:.0f} s) "
            f"in one asyncio loop, as the triggerer does"
        )
        print(
            f"{'read by':<21} {'triggers':>12} {'wall s':>7} {'CPU s':>6} {'peak MiB':>9} {'stall s':>8} "
            f"{'fds':>10} {'threads':>8} {'key fetches':>11} {'req/product':>11} {'poke-mode slots':>16}"
        )
        for label, mode, groups, size, shared in SCENARIOS:
            requests.post(f"{printed['SANDBOX_URL']}/__sandbox__/reset", timeout=30)
            job = json.dumps({"printed": printed, "mode": mode, "groups": groups, "size": size, "shared": shared})
            result = subprocess.run([sys.executable, __file__, "--child", job], capture_output=True, text=True)
            if result.returncode:
                raise RuntimeError(result.stderr[-3000:])
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            stats = requests.get(f"{printed['SANDBOX_URL']}/__sandbox__/stats", timeout=30).json()["requests"]
            reads = ("status", "download", "edl_authorize", "asf_login", "s3_head_object", "credentials")
            per_product = sum(stats.get(r, 0) for r in reads) / figures["products"]
            if not figures["ok"] or figures["available"] != figures["products"]:
                label += f" (INCOMPLETE: {figures['errors']})"
            fds = "{} -> {}".format(*figures["fds"])
            threads = "{} -> {}".format(*figures["threads"])
            slots, shape = f"{groups} x {figures['wall']:.0f} s", f"{groups} x {size}"
            print(
                f"{label:<21} {shape:>12} {figures['wall']:>7.1f} {figures['cpu']:>6.1f} {figures['peak']:>9.0f} "
                f"{figures['stall']:>8.2f} {fds:>10} {threads:>8} {stats.get('credentials', 0):>11} "
                f"{per_product:>11.1f} {slots:>16}",
                flush=True,
            )
        print(
            "Deferred, the same waits hold 0 worker slots: the sensor's first poke takes one slot for "
            "about a second, then the triggerer does the rest."
        )
    finally:
        stop_sandbox(sandbox)


if __name__ == "__main__":
    main()
