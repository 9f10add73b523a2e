"""Copy a large product from the sandbox's S3 into a bucket of yours: the engine against TEA's recommended baseline.

For each size, an object is put into ASF's bucket on the sandbox, then copied into a destination bucket on
the same S3 server, each copy in a fresh process:

- baseline: TEA's recipe, ``get_object()["Body"]`` passed to ``upload_fileobj`` with keys fetched once;
- ours: :class:`~airflow_asf_ifg.client.transfer.Transfer` from an ``S3Source`` with refreshing keys
  (verifying size and MD5 while streaming).

Printed: median seconds, MiB/s, the throughput ratio ours / baseline, and each copying process's peak RSS.
Then the HTTPS path through the door with ``reset_rate`` set: bytes read again because of resets, ours
(Range resume) against a plain download that starts over, as download scripts do.

Usage: ``python benchmarks/copy_throughput.py [--sizes-mib 1024,4096] [--runs 3] [--reset-rate 0.3]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import boto3
import requests
from _sandbox import start_sandbox, stop_sandbox

MIB = 1024 * 1024
DEST = "benchmark-dest"
PRODUCT_BUCKET = "grfn-content-prod"


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PatternReader:
    """A file-like object of ``size`` pseudo-random bytes, made 8 MiB at a time.

    :param size: bytes to produce.
    """

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.block = os.urandom(8 * MIB)
        self.offset = 0
        self.md5 = hashlib.md5(usedforsecurity=False)

    def read(self, amount: int = -1) -> bytes:
        """Up to ``amount`` bytes."""
        amount = self.remaining if amount is None or amount < 0 else min(amount, self.remaining)
        out = bytearray()
        while len(out) < amount:
            take = min(amount - len(out), len(self.block) - self.offset)
            out += self.block[self.offset:self.offset + take]
            self.offset = (self.offset + take) % len(self.block)
        self.remaining -= len(out)
        self.md5.update(out)
        return bytes(out)


def clients(printed: dict[str, str]) -> tuple[Any, Any]:
    """(admin client on the sandbox's S3, the user's destination client)."""
    from airflow_asf_ifg.sandbox.s3 import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY

    aws = json.loads(printed["AIRFLOW_CONN_AWS_DEFAULT"])
    admin = boto3.client("s3", endpoint_url=printed["S3_URL"], region_name="us-east-1",
                         aws_access_key_id=ADMIN_ACCESS_KEY, aws_secret_access_key=ADMIN_SECRET_KEY)
    user = boto3.client("s3", endpoint_url=printed["S3_URL"], region_name="us-east-1",
                        aws_access_key_id=aws["login"], aws_secret_access_key=aws["password"])
    return admin, user


def earthdata_session(printed: dict[str, str]) -> Any:
    """An Earthdata session for the sandbox's user (the client layer: no Airflow in the copying process)."""
    from airflow_asf_ifg.client.earthdata import AuthPolicy, EarthdataIdentity, EarthdataSession

    connection = json.loads(printed["AIRFLOW_CONN_EARTHDATA_DEFAULT"])
    identity = EarthdataIdentity(login=connection["login"], password=connection["password"], source="benchmark")
    return EarthdataSession(AuthPolicy(identity, printed["EDL_URL"]))


def credentials_url(printed: dict[str, str]) -> str:
    """The sandbox's door credentials endpoint."""
    return json.loads(printed["AIRFLOW_CONN_EARTHDATA_DEFAULT"])["extra"]["s3_credentials_url"]


def copy_baseline(printed: dict[str, str], key: str) -> dict[str, float]:
    """TEA's recipe: keys fetched once, Body streamed into upload_fileobj."""
    from airflow_asf_ifg.client.credentials import fetch_credentials

    credentials = fetch_credentials(earthdata_session(printed), credentials_url(printed))
    _, user = clients(printed)
    source = boto3.client("s3", endpoint_url=printed["S3_URL"], region_name="us-east-1",
                          aws_access_key_id=credentials.access_key_id,
                          aws_secret_access_key=credentials.secret_access_key,
                          aws_session_token=credentials.session_token)
    started = time.perf_counter()
    body = source.get_object(Bucket=PRODUCT_BUCKET, Key=key)["Body"]
    user.upload_fileobj(body, DEST, f"baseline/{key}")
    return {"seconds": time.perf_counter() - started, "peak": peak_rss_mib()}


def copy_ours(printed: dict[str, str], key: str, size: int, md5: str) -> dict[str, float]:
    """The engine with refreshing keys, verifying while streaming."""
    from airflow_asf_ifg.client.credentials import boto3_session, fetch_credentials, refreshable_credentials
    from airflow_asf_ifg.client.transfer import S3Source, Transfer

    http, url = earthdata_session(printed), credentials_url(printed)
    session = boto3_session(refreshable_credentials(lambda: fetch_credentials(http, url)), "us-east-1")
    _, user = clients(printed)
    source = S3Source(session.client("s3", endpoint_url=printed["S3_URL"]), PRODUCT_BUCKET, key)
    user.delete_object(Bucket=DEST, Key=f"ours/{key}")  # a copy left by the previous run would be skipped
    started = time.perf_counter()
    result = Transfer(user).copy(source, DEST, f"ours/{key}", size=size, checksum=md5)
    assert result.bytes == size
    return {"seconds": time.perf_counter() - started, "peak": peak_rss_mib()}


def https_rereads(printed: dict[str, str], key: str, size: int, md5: str, reset_rate: float) -> dict[str, float]:
    """Bytes read twice through the door with resets: ours (Range resume) and a restart-from-zero download."""
    from airflow_asf_ifg.client.transfer import HttpsSource, Transfer

    requests.post(f"{printed['SANDBOX_URL']}/__sandbox__/config", json={"reset_rate": reset_rate}, timeout=10)
    _, user = clients(printed)
    url = f"{printed['ASF_URL']}/door/download/{key}"
    result = Transfer(user, part_size=16 * MIB, max_resumes=1000, sleep=lambda _: None).copy(
        HttpsSource(earthdata_session(printed), url), DEST, f"https/{key}", size=size, checksum=md5)
    # The plain way: download again from the first byte whenever the connection breaks.
    session, wasted, attempts = earthdata_session(printed), 0, 0
    while True:
        attempts += 1
        got = 0
        try:
            with session.get(url, stream=True, timeout=(10, 120)) as response:
                for chunk in response.iter_content(MIB):
                    got += len(chunk)
            if got == size:
                break
        except requests.exceptions.RequestException:
            pass
        wasted += got
    requests.post(f"{printed['SANDBOX_URL']}/__sandbox__/config", json={"reset_rate": 0.0}, timeout=10)
    return {"ours_reread": result.reread_bytes, "ours_resumes": result.resumes,
            "restart_reread": wasted, "restart_attempts": attempts}


def child(kind: str, printed: dict[str, str], key: str, size: int, md5: str) -> dict[str, float]:
    """Run one copy in a fresh process and return its figures."""
    arguments = json.dumps({"kind": kind, "printed": printed, "key": key, "size": size, "md5": md5})
    result = subprocess.run([sys.executable, __file__, "--child", arguments], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{kind} copy failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes-mib", default="1024,4096", help="object sizes in MiB, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs per copier and size (median reported)")
    parser.add_argument("--reset-rate", type=float, default=0.5, help="reset rate of the HTTPS run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.child)
        if job["kind"] == "baseline":
            print(json.dumps(copy_baseline(job["printed"], job["key"])))
        elif job["kind"] == "ours":
            print(json.dumps(copy_ours(job["printed"], job["key"], job["size"], job["md5"])))
        else:
            print(json.dumps(https_rereads(job["printed"], job["key"], job["size"], job["md5"], job["reset"])))
        return

    sandbox, printed = start_sandbox("--granules", "1", "--product-bytes", "4096")
    try:
        admin, user = clients(printed)
        user.create_bucket(Bucket=DEST)
        print(f"S3 to S3 copy through the sandbox, median of {args.runs} runs, each copy in a fresh process")
        print(f"{'size':>9} {'copier':<9} {'seconds':>8} {'MiB/s':>7} {'ratio':>6} {'peak RSS MiB':>13}")
        https_key, https_size, https_md5 = "", 0, ""
        for size_mib in (int(s) for s in args.sizes_mib.split(",")):
            size, key = size_mib * MIB, f"bench-{size_mib}mib.bin"
            reader = PatternReader(size)
            admin.upload_fileobj(reader, PRODUCT_BUCKET, key)
            md5 = reader.md5.hexdigest()
            if not https_key:
                https_key, https_size, https_md5 = key, size, md5
            figures = {}
            for copier in ("baseline", "ours"):
                runs = [child(copier, printed, key, size, md5) for _ in range(args.runs)]
                figures[copier] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            for copier, result in figures.items():
                rate = size_mib / result["seconds"]
                ratio = figures["baseline"]["seconds"] / result["seconds"]
                print(f"{size_mib:>5} MiB {copier:<9} {result['seconds']:>8.1f} {rate:>7.1f} {ratio:>6.2f} "
                      f"{result['peak']:>13.0f}", flush=True)
            for prefix in ("baseline/", "ours/"):
                user.delete_object(Bucket=DEST, Key=prefix + key)
        job = json.dumps({"kind": "https", "printed": printed, "key": https_key, "size": https_size,
                          "md5": https_md5, "reset": args.reset_rate})
        result = subprocess.run([sys.executable, __file__, "--child", job], capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(result.stderr[-2000:])
        rereads = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"\nHTTPS through the door, {https_size // MIB} MiB, reset rate {args.reset_rate}:")
        print(f"  ours (Range resume):   {rereads['ours_resumes']} resumes, "
              f"{rereads['ours_reread'] / MIB:.1f} MiB read twice")
        print(f"  restart from byte 0:   {rereads['restart_attempts']} attempts, "
              f"{rereads['restart_reread'] / MIB:.1f} MiB read twice")
    finally:
        stop_sandbox(sandbox)


if __name__ == "__main__":
    main()
