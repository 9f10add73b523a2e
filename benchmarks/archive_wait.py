"""Wait for 1,000 archived products the triggerer's way: one asyncio loop, in 1 trigger and in 100 triggers of 10.

A sandbox serves 1,000 products, all archived, each retrieved 30 s after it is requested. Each scenario runs
in a fresh process (as a triggerer would) until every trigger has fired, and prints: wall seconds, CPU
seconds, peak RSS, and requests per product (status polls, retrieval requests, logins) read from the
sandbox's stats. Beside it, what a poke-mode sensor would cost: one worker slot per sensor for the whole
wait, where deferred sensors hold none.

Usage: ``python benchmarks/archive_wait.py [--products 1000] [--retrieval-seconds 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time

import requests
from _sandbox import start_sandbox, stop_sandbox

COLLECTIONS = 5


def run_scenario(printed: dict[str, str], groups: int) -> dict[str, float]:
    """Run ``groups`` triggers over all products in one event loop; return the process's figures."""
    os.environ["AIRFLOW_CONN_EARTHDATA_DEFAULT"] = printed["AIRFLOW_CONN_EARTHDATA_DEFAULT"]
    from airflow_asf_ifg.client.archive_poll import ArchiveTarget
    from airflow_asf_ifg.triggers.archive import AsfArchiveStatusTrigger

    catalogue = requests.get(f"{printed['SANDBOX_URL']}/__sandbox__/catalogue", timeout=60).json()
    targets = [ArchiveTarget(f["name"], f["url"]) for g in catalogue for f in g["files"] if f["role"] == "data"]
    size = len(targets) // groups
    triggers = [
        AsfArchiveStatusTrigger(
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

    async def everything() -> list[dict]:
        return await asyncio.gather(*(first_event(t) for t in triggers))

    started = time.perf_counter()
    payloads = asyncio.run(everything())
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    statuses = {p["status"] for p in payloads}
    available = sum(p["counts"].get("available", 0) for p in payloads)
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak": usage.ru_maxrss / 1024,
        "products": len(targets),
        "available": available,
        "ok": statuses == {"success"},
    }


def main() -> None:
    """Measure both scenarios and print them."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--retrieval-seconds", type=float, default=30.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.child)
        import logging

        logging.disable(logging.INFO)  # a state-change line per product would dominate the CPU figure
        print(json.dumps(run_scenario(job["printed"], job["groups"])))
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
            f"{'scenario':<20} {'wall s':>7} {'CPU s':>6} {'peak MiB':>9} {'requests/product':>17} "
            f"{'poke-mode worker slots':>23}"
        )
        for groups in (1, 100):
            requests.post(f"{printed['SANDBOX_URL']}/__sandbox__/reset", timeout=30)
            job = json.dumps({"printed": printed, "groups": groups})
            result = subprocess.run([sys.executable, __file__, "--child", job], capture_output=True, text=True)
            if result.returncode:
                raise RuntimeError(result.stderr[-3000:])
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            stats = requests.get(f"{printed['SANDBOX_URL']}/__sandbox__/stats", timeout=30).json()
            total = sum(stats["requests"].get(r, 0) for r in ("status", "download", "edl_authorize", "asf_login"))
            per_product = total / figures["products"]
            label = f"{groups} trigger(s) of {figures['products'] // groups}"
            if not figures["ok"] or figures["available"] != figures["products"]:
                label += " (INCOMPLETE)"
            slots = f"{groups} x {figures['wall']:.0f} s"
            print(
                f"{label:<20} {figures['wall']:>7.1f} {figures['cpu']:>6.1f} {figures['peak']:>9.0f} "
                f"{per_product:>17.1f} {slots:>23}",
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
