"""One layer of a large GRFN product to a COG: read in place through ``/vsizip//vsis3/`` against download-then-extract.

The sandbox serves products of ``--product-mib``; the unwrapped-phase layer of one GRFN BETA ``.unw_geo.zip``
is written as a COG two ways, in the same run:

- in place: :func:`~airflow_asf_ifg.client.cog.write_cog` on ``/vsizip//vsis3/<bucket>/<zip>/<member>`` (what
  ``AsfToCogOperator`` does), GDAL reading only the zip's directory and the layer's byte ranges;
- baseline: download the whole product with boto3, extract the member's files, then the same COG from disk.

Printed: median seconds and bytes read from S3 (the sandbox's ``bytes_served``) of each, and the ratios.

Usage: ``python benchmarks/layer_to_cog.py [--product-mib 64] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

import boto3
import requests
from _sandbox import start_sandbox, stop_sandbox
from botocore.config import Config

from airflow_asf_ifg.client.cog import layer_member, write_cog
from airflow_asf_ifg.client.credentials import fetch_credentials, gdal_options
from airflow_asf_ifg.client.earthdata import EarthdataIdentity, EarthdataSession, policy_for
from airflow_asf_ifg.client.settings import EarthdataSettings

MIB = 1024 * 1024
BUCKET = "grfn-content-prod"
LAYER = "unwrapped_phase"


def served(sandbox_url: str, key: str) -> int:
    """Bytes of ``key`` the sandbox's S3 has sent since the last reset."""
    return requests.get(f"{sandbox_url}/__sandbox__/stats", timeout=10).json()["bytes_served"].get(f"{BUCKET}/{key}", 0)


def reset(sandbox_url: str) -> None:
    """Zero the sandbox's counters."""
    requests.post(f"{sandbox_url}/__sandbox__/stats/reset", timeout=10).raise_for_status()


def main() -> None:
    """Run both ways ``--runs`` times and print the medians side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--product-mib", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # The 2018 era: GDAL reads s3:// with the door's /door/credentials keys, gone (410) today.
    process, printed = start_sandbox(
        "--era", "2018", "--granules", "1", "--archived-fraction", "0", "--product-bytes", str(args.product_mib * MIB)
    )
    try:
        urls = printed["SANDBOX_URL"]
        catalogue = requests.get(f"{urls}/__sandbox__/catalogue", timeout=30).json()
        product = next(f for g in catalogue for f in g["files"] if f["name"].endswith(".unw_geo.zip"))
        settings = EarthdataSettings(edl_url=printed["EDL_URL"], s3_endpoint_url=printed["S3_URL"])
        identity = EarthdataIdentity(login="sandbox_user", password="sandbox-password", source="benchmark")
        session = EarthdataSession(policy_for(identity, settings))
        keys = fetch_credentials(session, f"{printed['ASF_URL']}/door/credentials")
        # GDAL caches /vsis3/ reads per process: without this, runs after the first would read nothing.
        options = {**gdal_options(keys, settings, "us-east-1"), "CPL_VSIL_CURL_NON_CACHED": f"/vsis3/{BUCKET}"}
        member, band = layer_member(product["name"], LAYER)
        s3 = boto3.client(
            "s3",
            endpoint_url=printed["S3_URL"],
            region_name="us-east-1",
            aws_access_key_id=keys.access_key_id,
            aws_secret_access_key=keys.secret_access_key,
            aws_session_token=keys.session_token,
            config=Config(s3={"addressing_style": "path"}),
        )
        timings: dict[str, list[float]] = {"in place": [], "download + extract": []}
        read: dict[str, list[int]] = {"in place": [], "download + extract": []}
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as folder:
                reset(urls)
                started = time.perf_counter()
                write_cog(f"/vsizip//vsis3/{BUCKET}/{product['name']}/{member}", band, Path(folder) / "a.tif", options)
                timings["in place"].append(time.perf_counter() - started)
                read["in place"].append(served(urls, product["name"]))

                reset(urls)
                started = time.perf_counter()
                local = Path(folder) / product["name"]
                s3.download_file(BUCKET, product["name"], str(local))
                with zipfile.ZipFile(local) as archive:  # the VRT and the raw file it points at
                    for name in (member, member.removesuffix(".vrt")):
                        archive.extract(name, folder)
                write_cog(str(Path(folder) / member), band, Path(folder) / "b.tif", {})
                timings["download + extract"].append(time.perf_counter() - started)
                read["download + extract"].append(served(urls, product["name"]))
    finally:
        stop_sandbox(process)
    size = product["size"]
    print(f"layer {LAYER} of {product['name']} ({size / MIB:.1f} MiB), median of {args.runs} runs")
    print(f"{'method':<22}{'seconds':>10}{'MiB read':>12}{'of product':>12}")
    for method in timings:
        seconds, count = statistics.median(timings[method]), statistics.median(read[method])
        print(f"{method:<22}{seconds:>10.2f}{count / MIB:>12.2f}{count / size:>11.1%}")
    ours, baseline = statistics.median(timings["in place"]), statistics.median(timings["download + extract"])
    print(
        f"in place reads {statistics.median(read['download + extract']) / statistics.median(read['in place']):.1f}x "
        f"fewer bytes and takes {ours / baseline:.2f}x the time of download + extract"
    )


if __name__ == "__main__":
    main()
