"""Enumerate N granules from the sandbox's CMR with ``CmrHook.search`` and with python-cmr, in one run.

For each catalogue size a sandbox (``serve --metadata-only``) is started; each client then enumerates
every granule of the five collections in a fresh process, several times. Printed: median seconds,
granules per second, the ratio ours / python-cmr, and each process's peak memory (total, and above
what its imports took). python-cmr's ``GranuleQuery.get_all()`` fetches ``umm_json`` pages (CMR's
Search-After, as ours does); its raw pages are then parsed with ``json.loads`` to reach the granules.

Usage: ``python benchmarks/cmr_search.py [--sizes 2000,20000] [--runs 3]`` (needs ``pip install -e .[bench]``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from _sandbox import start_sandbox, stop_sandbox

COLLECTIONS = ["C1379535891-ASF", "C1379522387-ASF", "C1379535600-ASF", "C1595422627-ASF", "C2859376221-ASF"]


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def enumerate_ours(cmr_url: str) -> dict[str, float]:
    """Count granules with CmrHook.search (the connection points at ``cmr_url``).

    :param cmr_url: the sandbox's CMR URL.
    """
    os.environ["AIRFLOW_CONN_EARTHDATA_DEFAULT"] = json.dumps({"conn_type": "earthdata", "extra": {"cmr_url": cmr_url}})
    from airflow_asf_ifg.hooks.cmr import CmrHook

    hook = CmrHook()
    _ = hook.client
    baseline = peak_rss_mib()
    started = time.perf_counter()
    count = sum(1 for _ in hook.search(collection_concept_id=COLLECTIONS))
    return {"count": count, "seconds": time.perf_counter() - started, "peak": peak_rss_mib(), "baseline": baseline}


def enumerate_python_cmr(cmr_url: str) -> dict[str, float]:
    """Count granules with python-cmr's ``GranuleQuery.get_all()``.

    :param cmr_url: the sandbox's CMR URL.
    """
    from cmr import GranuleQuery

    query = GranuleQuery(mode=f"{cmr_url}/search/").collection_concept_id(COLLECTIONS).format("umm_json")
    baseline = peak_rss_mib()
    started = time.perf_counter()
    pages = query.get_all()
    count = sum(len(json.loads(page)["items"]) for page in pages)
    return {"count": count, "seconds": time.perf_counter() - started, "peak": peak_rss_mib(), "baseline": baseline}


def measure(client: str, cmr_url: str) -> dict[str, float]:
    """Run one enumeration in a fresh process and return its figures.

    :param client: ``ours`` or ``python-cmr``.
    :param cmr_url: the sandbox's CMR URL.
    """
    result = subprocess.run(
        [sys.executable, __file__, "--client", client, "--cmr-url", cmr_url], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    """Measure each size and client; print one line each."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,20000", help="catalogue sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs per client and size (median reported)")
    parser.add_argument("--client", choices=["ours", "python-cmr"], help=argparse.SUPPRESS)
    parser.add_argument("--cmr-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        figures = (enumerate_ours if args.client == "ours" else enumerate_python_cmr)(args.cmr_url)
        print(json.dumps(figures))
        return

    print(f"CMR enumeration through the sandbox, median of {args.runs} runs, each in a fresh process")
    print(
        f"{'granules':>9} {'client':<11} {'seconds':>8} {'granules/s':>11} {'ratio':>6} "
        f"{'peak MiB':>9} {'search MiB':>11}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        sandbox, printed = start_sandbox("--metadata-only", "--granules", str(size // len(COLLECTIONS)))
        cmr_url = printed["CMR_URL"]
        try:
            medians = {}
            for client in ("python-cmr", "ours"):
                runs = [measure(client, cmr_url) for _ in range(args.runs)]
                if any(r["count"] != size for r in runs):
                    raise RuntimeError(f"{client} enumerated {[r['count'] for r in runs]} granules, not {size}")
                medians[client] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            for client, figures in medians.items():
                ratio = figures["seconds"] / medians["python-cmr"]["seconds"]
                print(
                    f"{size:>9} {client:<11} {figures['seconds']:>8.2f} {size / figures['seconds']:>11.0f} "
                    f"{ratio:>6.2f} {figures['peak']:>9.0f} {figures['peak'] - figures['baseline']:>11.0f}",
                    flush=True,
                )
        finally:
            stop_sandbox(sandbox)


if __name__ == "__main__":
    main()
