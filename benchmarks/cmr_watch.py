"""CMR requests per minute of the event trigger for 1, 10 and 100 AOIs of one collection: one shared poll
against one poll per watcher.

Each scenario runs in a fresh process, as a triggerer would: N ``CmrNewGranulesTrigger`` watchers of
ARIA_S1_GUNW, each over its own point AOI (one in three over a frame the sandbox has granules for, the
others over the ocean), for a fixed window. Shared: the watchers subscribe through Airflow's own
``SharedStreamManager`` (what the triggerer of Airflow 3.3 does with triggers of one ``shared_stream_key``)
and read its stream with ``filter_shared_stream``. Alone: each runs its own ``run()``, as on Airflow 3.1 and
3.2, or with ``shared_poll=False``. While the window runs, the sandbox publishes a granule over each frame
the watchers cover; both ways must deliver the same events (printed, and the script fails if they differ).

Printed per scenario: CMR granule searches in the window (from the sandbox's stats), searches per poll
interval, what that is per minute at the default 5-minute poll, events delivered, CPU seconds and peak RSS
of the watchers' process.

Usage: ``python benchmarks/cmr_watch.py [--seconds 30] [--poll 3]``.
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
from typing import Any

import requests
from _sandbox import start_sandbox, stop_sandbox

ARIA_S1_GUNW = "C2859376221-ASF"
SIZES = (1, 10, 100)
DEFAULT_POLL_MINUTES = 5.0


def centre(ring: list[list[float]]) -> tuple[float, float]:
    """A point inside a small convex footprint: the mean of its corners.

    :param ring: closed ring of [lon, lat].
    """
    corners = ring[:-1]
    return sum(p[0] for p in corners) / len(corners), sum(p[1] for p in corners) / len(corners)


def watch(printed: dict[str, str], count: int, shared: bool, seconds: float, poll: float) -> dict[str, Any]:
    """Run ``count`` watchers for ``seconds`` in this process; return the figures.

    :param printed: the sandbox's settings.
    :param count: watchers, each over its own AOI.
    :param shared: one shared poll (True) or one poll each.
    :param seconds: how long the window lasts.
    :param poll: seconds between polls.
    """
    os.environ["AIRFLOW_CONN_EARTHDATA_DEFAULT"] = printed["AIRFLOW_CONN_EARTHDATA_DEFAULT"]
    from airflow_asf_ifg.compat import SharedStreamManager
    from airflow_asf_ifg.triggers.cmr_events import CmrNewGranulesTrigger
    from airflow_asf_ifg.triggers.watermark_store import MemoryStateStore

    sandbox = printed["SANDBOX_URL"]
    catalogue = requests.get(f"{sandbox}/__sandbox__/catalogue", timeout=60).json()
    frames: dict[tuple[float, float], str] = {}
    for granule in catalogue:
        if granule["collection_concept_id"] == ARIA_S1_GUNW:
            frames.setdefault(centre(granule["footprint"]), granule["granule_ur"])
    covered = list(frames.items())[: max(1, count // 3)]
    aois = [point for point, _ in covered] + [(-150.0 + 0.5 * n, -60.0) for n in range(count - len(covered))]
    triggers = []
    for aoi in aois:
        trigger = CmrNewGranulesTrigger(collection_concept_id=ARIA_S1_GUNW, aoi=aoi, poke_interval=poll, margin=60)
        trigger.asset_state_store = MemoryStateStore()
        triggers.append(trigger)
    events: list[str] = []

    async def consume(number: int, trigger: CmrNewGranulesTrigger, manager: Any) -> None:
        if manager is None:
            stream = trigger.run()
        else:
            key = trigger.shared_stream_key()
            stream = trigger.filter_shared_stream(manager.subscribe(trigger_id=number, trigger=trigger, key=key))
        async for event in stream:
            events.extend(f"{number}:{g['granule_ur']}" for g in event.payload["granules"])

    async def publish_later() -> None:
        await asyncio.sleep(seconds / 3)
        start = "2031-01-01T00:00:00+00:00"  # after anything in the catalogue: a new granule for each frame
        for _, like in covered:
            document = {"like": like, "start": start}
            await asyncio.to_thread(requests.post, f"{sandbox}/__sandbox__/publish", json=document, timeout=30)

    async def window() -> None:
        manager = SharedStreamManager() if shared else None
        tasks = [asyncio.create_task(consume(n, t, manager)) for n, t in enumerate(triggers)]
        await asyncio.sleep(0)
        await publish_later()
        await asyncio.sleep(seconds - seconds / 3)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if manager is not None:
            await manager.stop_all()

    asyncio.run(window())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"events": sorted(events), "cpu": usage.ru_utime + usage.ru_stime, "peak": usage.ru_maxrss / 1024}


def main() -> None:
    """Start the sandbox, run each scenario in its own process, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="the window each scenario runs")
    parser.add_argument("--poll", type=float, default=3.0, help="seconds between polls")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.child)
        print(json.dumps(watch(job["printed"], job["count"], job["shared"], job["seconds"], job["poll"])))
        return
    process, printed = start_sandbox("--product-bytes", "1024")
    try:
        polls = args.seconds / args.poll
        print(
            f"CMR granule searches of {len(SIZES)} sizes of watch over ARIA_S1_GUNW, a poll every {args.poll:g} s "
            f"for {args.seconds:g} s (~{polls:.0f} polls); per minute at a {DEFAULT_POLL_MINUTES:g}-minute poll"
        )
        print(
            f"{'AOIs':>5} {'poll':<7} {'searches':>9} {'per poll':>9} {'per min @5 min':>15} {'events':>7} "
            f"{'CPU s':>6} {'peak MiB':>9}"
        )
        for count in SIZES:
            delivered = {}
            for shared in (True, False):
                requests.post(f"{printed['SANDBOX_URL']}/__sandbox__/reset", timeout=30)
                job = {"printed": printed, "count": count, "shared": shared, "seconds": args.seconds}
                job["poll"] = args.poll
                started = time.perf_counter()
                result = subprocess.run(
                    [sys.executable, __file__, "--child", json.dumps(job)], capture_output=True, text=True
                )
                if result.returncode:
                    raise RuntimeError(result.stderr[-3000:])
                figures = json.loads(result.stdout.strip().splitlines()[-1])
                stats = requests.get(f"{printed['SANDBOX_URL']}/__sandbox__/stats", timeout=30).json()["requests"]
                searches = stats.get("cmr_granules", 0)
                per_poll = searches / max(1.0, min(polls, (time.perf_counter() - started) / args.poll))
                delivered[shared] = figures["events"]
                print(
                    f"{count:>5} {'shared' if shared else 'alone':<7} {searches:>9} {per_poll:>9.1f} "
                    f"{per_poll / DEFAULT_POLL_MINUTES:>15.1f} {len(figures['events']):>7} {figures['cpu']:>6.1f} "
                    f"{figures['peak']:>9.0f}"
                )
            if delivered[True] != delivered[False]:
                raise SystemExit(f"the two ways delivered different events for {count} AOIs: {delivered}")
    finally:
        stop_sandbox(process)


if __name__ == "__main__":
    main()
