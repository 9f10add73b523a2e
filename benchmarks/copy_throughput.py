"""Copy a large product from the sandbox's S3 into a bucket of yours: the engine against TEA's recommended baseline.

For each size, an object is put into ASF's bucket on the sandbox, then copied into a destination bucket on
the same S3 server, each copy in a fresh process:

- baseline: TEA's recipe, ``get_object()["Body"]`` passed to ``upload_fileobj`` with keys fetched once;
- ours: :class:`~airflow_asf_ifg.client.transfer.Transfer` from an ``S3Source`` with refreshing keys
  (concurrent ranged GETs into a fixed set of part buffers, MD5 verified before the upload completes).

Each size is measured in several setups. By default the sandbox (its S3 server) runs on core 0 and the
copiers on the other cores, as S3 runs on machines of its own: unpaced, and with each S3 body paced to
one connection's bandwidth, as S3 serves it (AWS's advice for large objects is concurrent ranged GETs
for a higher aggregate). Last, unpaced with every process on every core: the Python S3 server then
takes CPU from the copier, and the copier that does more work (ours verifies an MD5) pays for it.
The copiers take turns, run by run.

Printed: median seconds, MiB/s, the throughput ratio ours / baseline, CPU seconds of the copying process
and of the S3 server during the copy, and the copying process's peak RSS (VmHWM). Then the HTTPS path
through the door with ``reset_rate`` set: bytes read again because of resets, ours (Range resume) against
a plain download that starts over, as download scripts do.

Usage: ``python benchmarks/copy_throughput.py [--sizes-mib 1024,4096] [--runs 3] [--connection-mib-s 0,64]
[--no-shared] [--reset-rate 0.5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import boto3
import requests
from _measure import MIB, PatternReader, cpu_seconds, peak_rss_mib
from _sandbox import start_sandbox, stop_sandbox

DEST = "benchmark-dest"
PRODUCT_BUCKET = "grfn-content-prod"


def clients(printed: dict[str, str]) -> tuple[Any, Any]:
    """(admin client on the sandbox's S3, the user's destination client)."""
    from airflow_asf_ifg.sandbox.s3 import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY

    aws = json.loads(printed["AIRFLOW_CONN_AWS_DEFAULT"])
    admin = boto3.client(
        "s3",
        endpoint_url=printed["S3_URL"],
        region_name="us-east-1",
        aws_access_key_id=ADMIN_ACCESS_KEY,
        aws_secret_access_key=ADMIN_SECRET_KEY,
    )
    user = boto3.client(
        "s3",
        endpoint_url=printed["S3_URL"],
        region_name="us-east-1",
        aws_access_key_id=aws["login"],
        aws_secret_access_key=aws["password"],
    )
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
    source = boto3.client(
        "s3",
        endpoint_url=printed["S3_URL"],
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
    )
    started, cpu = time.perf_counter(), cpu_seconds()
    body = source.get_object(Bucket=PRODUCT_BUCKET, Key=key)["Body"]
    user.upload_fileobj(body, DEST, f"baseline/{key}")
    return {"seconds": time.perf_counter() - started, "cpu": cpu_seconds() - cpu, "peak": peak_rss_mib()}


def copy_ours(printed: dict[str, str], key: str, size: int, md5: str, options: dict[str, int]) -> dict[str, float]:
    """The engine with refreshing keys, verifying while streaming.

    :param options: ``Transfer`` settings (``concurrency``, ``part_size``).
    """
    from airflow_asf_ifg.client.credentials import boto3_session, fetch_credentials, refreshable_credentials
    from airflow_asf_ifg.client.transfer import S3Source, Transfer

    http, url = earthdata_session(printed), credentials_url(printed)
    session = boto3_session(refreshable_credentials(lambda: fetch_credentials(http, url)), "us-east-1")
    _, user = clients(printed)
    source = S3Source(session.client("s3", endpoint_url=printed["S3_URL"]), PRODUCT_BUCKET, key)
    user.delete_object(Bucket=DEST, Key=f"ours/{key}")  # a copy left by the previous run would be skipped
    started, cpu = time.perf_counter(), cpu_seconds()
    result = Transfer(user, **options).copy(source, DEST, f"ours/{key}", size=size, checksum=md5)
    assert result.bytes == size and result.checksum == md5
    return {"seconds": time.perf_counter() - started, "cpu": cpu_seconds() - cpu, "peak": peak_rss_mib()}


def https_rereads(printed: dict[str, str], key: str, size: int, md5: str, reset_rate: float) -> dict[str, float]:
    """Bytes read twice through the door with resets: ours (Range resume) and a restart-from-zero download."""
    from airflow_asf_ifg.client.transfer import HttpsSource, Transfer

    configure(printed, reset_rate=reset_rate)
    _, user = clients(printed)
    url = f"{printed['ASF_URL']}/door/download/{key}"
    result = Transfer(user, part_size=16 * MIB, max_resumes=1000, sleep=lambda _: None).copy(
        HttpsSource(earthdata_session(printed), url), DEST, f"https/{key}", size=size, checksum=md5
    )
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
    configure(printed, reset_rate=0.0)
    return {
        "ours_reread": result.reread_bytes,
        "ours_resumes": result.resumes,
        "restart_reread": wasted,
        "restart_attempts": attempts,
    }


def child(
    kind: str, printed: dict[str, str], key: str, size: int, md5: str, options: dict[str, int], sandbox_pid: int
) -> dict[str, float]:
    """Run one copy in a fresh process and return its figures, with the S3 server's CPU seconds meanwhile."""
    arguments = json.dumps({"kind": kind, "printed": printed, "key": key, "size": size, "md5": md5, "options": options})
    server_cpu = cpu_seconds(sandbox_pid)
    result = subprocess.run([sys.executable, __file__, "--child", arguments], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{kind} copy failed: {result.stderr[-2000:]}")
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "server_cpu": cpu_seconds(sandbox_pid) - server_cpu}


def place(sandbox_pid: int, own_cores: bool) -> str:
    """Put the sandbox on core 0 and this process (so the copiers it starts) on the others, or all on all.

    Threads the sandbox starts later inherit its placement. Returns the setup's label.

    :param sandbox_pid: the sandbox process.
    :param own_cores: whether the S3 server gets a core of its own.
    """
    every = set(range(os.cpu_count() or 1))
    server, copier = ({0}, every - {0}) if own_cores else (every, every)
    for thread in os.listdir(f"/proc/{sandbox_pid}/task"):
        os.sched_setaffinity(int(thread), server)
    os.sched_setaffinity(0, copier)
    return "own core" if own_cores else "shared"


def configure(printed: dict[str, str], **settings: float) -> None:
    """Change the running sandbox's settings.

    :param settings: runtime settings (``reset_rate``, ``s3_connection_mib_s``...).
    """
    requests.post(f"{printed['SANDBOX_URL']}/__sandbox__/config", json=settings, timeout=10).raise_for_status()


def compare(
    printed: dict[str, str], sandbox_pid: int, size_mib: int, key: str, md5: str, runs: int, options: dict[str, int]
) -> dict[str, dict[str, float]]:
    """Median figures of each copier over ``runs``, the copiers taking turns so drift hits both alike."""
    size = size_mib * MIB
    samples: dict[str, list[dict[str, float]]] = {"baseline": [], "ours": []}
    for _ in range(runs):
        for copier in samples:
            samples[copier].append(child(copier, printed, key, size, md5, options, sandbox_pid))
    return {
        copier: {name: statistics.median(run[name] for run in found) for name in found[0]}
        for copier, found in samples.items()
    }


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes-mib", default="1024,4096", help="object sizes in MiB, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs per copier and size (median reported)")
    parser.add_argument(
        "--connection-mib-s",
        default="0,64",
        help="S3 bandwidth per connection to measure at with the S3 server on its own core, MiB/s, "
        "comma-separated (0: unpaced)",
    )
    parser.add_argument(
        "--no-shared",
        action="store_true",
        help="skip the unpaced run with the S3 server and the copier sharing every core",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="the engine's parts at once")
    parser.add_argument("--part-mib", type=int, default=8, help="the engine's part size in MiB")
    parser.add_argument("--reset-rate", type=float, default=0.5, help="reset rate of the HTTPS run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.child)
        if job["kind"] == "baseline":
            print(json.dumps(copy_baseline(job["printed"], job["key"])))
        elif job["kind"] == "ours":
            print(json.dumps(copy_ours(job["printed"], job["key"], job["size"], job["md5"], job["options"])))
        else:
            print(json.dumps(https_rereads(job["printed"], job["key"], job["size"], job["md5"], job["reset"])))
        return

    options = {"concurrency": args.concurrency, "part_size": args.part_mib * MIB}
    # The 2018 era: the S3 copies use the door's /door/credentials keys, gone (410) today.
    sandbox, printed = start_sandbox("--era", "2018", "--granules", "1", "--product-bytes", "4096")
    try:
        admin, user = clients(printed)
        user.create_bucket(Bucket=DEST)
        print(
            f"S3 to S3 copy through the sandbox, median of {args.runs} runs, each copy in a fresh process "
            f"(ours: {args.concurrency} parts of {args.part_mib} MiB at once)"
        )
        print(
            f"{'size':>9} {'S3 server':>9} {'per conn':>9} {'copier':<9} {'seconds':>8} {'MiB/s':>7} {'ratio':>6} "
            f"{'copier CPU s':>12} {'S3 CPU s':>9} {'peak RSS MiB':>13}"
        )
        setups = [(True, float(pace)) for pace in args.connection_mib_s.split(",")]
        if (os.cpu_count() or 1) < 2:
            print("(one core: the S3 server cannot have a core of its own; every setup shares it)")
            setups = [(False, pace) for _, pace in setups]
        elif not args.no_shared:
            setups.append((False, 0.0))
        https_key, https_size, https_md5 = "", 0, ""
        for size_mib in (int(s) for s in args.sizes_mib.split(",")):
            size, key = size_mib * MIB, f"bench-{size_mib}mib.bin"
            reader = PatternReader(size)
            admin.upload_fileobj(reader, PRODUCT_BUCKET, key)
            md5 = reader.md5.hexdigest()
            if not https_key:
                https_key, https_size, https_md5 = key, size, md5
            for own_cores, pace in setups:
                where = place(sandbox.pid, own_cores)
                configure(printed, s3_connection_mib_s=pace)
                figures = compare(printed, sandbox.pid, size_mib, key, md5, args.runs, options)
                for copier, result in figures.items():
                    rate = size_mib / result["seconds"]
                    ratio = figures["baseline"]["seconds"] / result["seconds"]
                    paced = f"{pace:.0f} MiB/s" if pace else "unpaced"
                    print(
                        f"{size_mib:>5} MiB {where:>9} {paced:>9} {copier:<9} {result['seconds']:>8.1f} "
                        f"{rate:>7.1f} {ratio:>6.2f} {result['cpu']:>12.1f} {result['server_cpu']:>9.1f} "
                        f"{result['peak']:>13.0f}",
                        flush=True,
                    )
            configure(printed, s3_connection_mib_s=0)
            place(sandbox.pid, own_cores=False)
            for prefix in ("baseline/", "ours/"):
                user.delete_object(Bucket=DEST, Key=prefix + key)
        job = json.dumps(
            {
                "kind": "https",
                "printed": printed,
                "key": https_key,
                "size": https_size,
                "md5": https_md5,
                "reset": args.reset_rate,
            }
        )
        result = subprocess.run([sys.executable, __file__, "--child", job], capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(result.stderr[-2000:])
        rereads = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"\nHTTPS through the door, {https_size // MIB} MiB, reset rate {args.reset_rate}:")
        print(
            f"  ours (Range resume):   {rereads['ours_resumes']} resumes, "
            f"{rereads['ours_reread'] / MIB:.1f} MiB read twice"
        )
        print(
            f"  restart from byte 0:   {rereads['restart_attempts']} attempts, "
            f"{rereads['restart_reread'] / MIB:.1f} MiB read twice"
        )
    finally:
        stop_sandbox(sandbox)


if __name__ == "__main__":
    main()
