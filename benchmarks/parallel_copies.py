"""Fifty copies at once in one process, over HTTPS through the door: memory, file descriptors and threads.

Today every GUNW product comes over HTTPS. A worker running several copy tasks' threads, or one operator copying
many small files (browse PNGs of a few hundred bytes, metadata), must not hold the engine's whole buffer pool
per copy: buffers are sized to what each object needs. The sandbox (today's era) serves 50 products of
``--product-kib`` each (and their browse images); each scenario runs in a fresh process, 50 copies in 50
threads at once:

- ours: :class:`~airflow_asf_ifg.client.transfer.Transfer` from an ``HttpsSource``, verified (MD5) before the
  object is put;
- baseline: the single-stream recipe of download scripts (earthaccess, asf_search): ``requests`` streaming the
  body into boto3's ``upload_fileobj``, not verified.

Printed per scenario: wall seconds, peak RSS (VmHWM), open file descriptors and threads before the copies and
after they have all finished (a leak would show as a count that grows), and whether every object landed with
the catalogue's size and MD5.

Usage: ``python benchmarks/parallel_copies.py [--copies 50] [--product-kib 1024] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from _sandbox import start_sandbox, stop_sandbox
from archive_wait import open_fds
from copy_throughput import clients, earthdata_session, peak_rss_mib

DEST = "parallel-dest"


def run_scenario(printed: dict[str, str], way: str, products: list[dict[str, Any]]) -> dict[str, Any]:
    """Copy every product at once, one thread each; return the process's figures.

    :param printed: the sandbox's settings.
    :param way: ``ours`` or ``baseline``.
    :param products: catalogue file entries (name, url, size, md5).
    """
    from airflow_asf_ifg.client.transfer import HttpsSource, Transfer

    _, user = clients(printed)
    user.list_buckets()  # the client's first request loads its models: not part of the copies
    prefix = f"{way}/"

    def ours(product: dict[str, Any]) -> None:
        Transfer(user).copy(
            HttpsSource(earthdata_session(printed), product["url"]),
            DEST,
            prefix + product["name"],
            size=product["size"],
            checksum=product["md5"],
        )

    def baseline(product: dict[str, Any]) -> None:
        with earthdata_session(printed).get(product["url"], stream=True, timeout=(10, 120)) as response:
            response.raise_for_status()
            response.raw.decode_content = True
            user.upload_fileobj(response.raw, DEST, prefix + product["name"])

    fds_before, threads_before = open_fds(), threading.active_count()
    started = time.perf_counter()
    with ThreadPoolExecutor(len(products)) as pool:
        list(pool.map(ours if way == "ours" else baseline, products))
    wall = time.perf_counter() - started
    gc.collect()
    fds_after, threads_after = open_fds(), threading.active_count()
    landed = 0
    for product in products:
        body = user.get_object(Bucket=DEST, Key=prefix + product["name"])["Body"].read()
        landed += (len(body), hashlib.md5(body, usedforsecurity=False).hexdigest()) == (product["size"], product["md5"])
    return {
        "wall": wall,
        "peak": peak_rss_mib(),
        "fds": (fds_before, fds_after),
        "threads": (threads_before, threads_after),
        "landed": landed,
    }


def main() -> None:
    """Run both ways, taking turns, and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--product-kib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.child)
        print(json.dumps(run_scenario(job["printed"], job["way"], job["products"])))
        return

    granules = -(-args.copies // 5)  # five collections
    sandbox, printed = start_sandbox(
        "--granules", str(granules), "--product-bytes", str(args.product_kib * 1024), "--bucket", DEST
    )
    try:
        catalogue = requests.get(f"{printed['SANDBOX_URL']}/__sandbox__/catalogue", timeout=60).json()
        data = [f for g in catalogue for f in g["files"] if f["role"] == "data"][: args.copies // 2]
        browse = [f for g in catalogue for f in g["files"] if f["role"] == "browse"][: args.copies - len(data)]
        products = data + browse
        sizes = sorted(p["size"] for p in products)
        print(
            f"{len(products)} copies at once over HTTPS through the door ({len(data)} products, {len(browse)} browse "
            f"images; {sizes[0]} B to {sizes[-1] / 1024:.0f} KiB), medians of {args.runs} runs taking turns"
        )
        figures: dict[str, list[dict[str, Any]]] = {"ours": [], "baseline": []}
        for _ in range(args.runs):
            for way in figures:
                _, user = clients(printed)
                for item in user.list_objects_v2(Bucket=DEST, Prefix=f"{way}/").get("Contents", []):
                    user.delete_object(Bucket=DEST, Key=item["Key"])
                job = json.dumps({"printed": printed, "way": way, "products": products})
                done = subprocess.run([sys.executable, __file__, "--child", job], capture_output=True, text=True)
                if done.returncode:
                    raise RuntimeError(done.stderr[-3000:])
                figures[way].append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(
            f"{'copier':<10} {'wall s':>7} {'peak MiB':>9} {'fds before -> after':>20} {'threads':>10} {'verified':>9}"
        )
        for way, runs in figures.items():
            last = runs[-1]
            print(
                f"{way:<10} {statistics.median(r['wall'] for r in runs):>7.2f} "
                f"{statistics.median(r['peak'] for r in runs):>9.0f} "
                f"{'{} -> {}'.format(*last['fds']):>20} {'{} -> {}'.format(*last['threads']):>10} "
                f"{last['landed']:>5}/{len(products)}",
                flush=True,
            )
        print("ours verifies each object's MD5 before it is put; the baseline does not")
    finally:
        stop_sandbox(sandbox)


if __name__ == "__main__":
    main()
