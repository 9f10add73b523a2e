"""The 2018 page's command-line steps against the sandbox's 2018 era: ``python -m airflow_asf_ifg.sandbox.walkthrough``.

Search CMR over the Pasadena point, log in with a ``.netrc`` and get temporary S3 keys from the door,
list the bucket with them, read archive status, start a retrieval and wait for it, then download a
product through the door and check its MD5 against CMR. Each step prints what it sent and what came back.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from urllib.parse import urlsplit

import boto3
import requests

from airflow_asf_ifg.sandbox import Sandbox
from airflow_asf_ifg.sandbox.catalogue import PASADENA
from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET, SANDBOX_PASSWORD, SANDBOX_USER

UNWRAPPED = "C1379535600-ASF"  # the collection the 2018 scripts searched


def step(number: int, title: str) -> None:
    """Print a step heading.

    :param number: step number.
    :param title: what the step does.
    """
    print(f"\n== Step {number}: {title}", flush=True)


def masked(secret: str) -> str:
    """The first four characters of a secret, the rest hidden.

    :param secret: the secret.
    """
    return secret[:4] + "…" + f"({len(secret)} chars)"


def run(sandbox: Sandbox, netrc_path: str) -> None:
    """Walk through the steps against a running sandbox.

    :param sandbox: the running sandbox.
    :param netrc_path: a .netrc holding the sandbox user for the EDL host.
    """
    urls = sandbox.urls
    assert urls is not None
    session = requests.Session()  # one session keeps the asf-urs cookie across calls, as the page advises

    step(1, f"search CMR for {UNWRAPPED} granules over the Pasadena point {PASADENA}")
    params: dict[str, str | int] = {
        "collection_concept_id": UNWRAPPED,
        "point": f"{PASADENA[0]},{PASADENA[1]}",
        "page_size": 2000,
    }
    response = session.get(f"{urls.cmr}/search/granules.umm_json", params=params, timeout=30)
    print(f"GET {response.url}\n-> {response.status_code}, CMR-Hits: {response.headers['CMR-Hits']}")
    items = response.json()["items"]
    for item in items:
        umm = item["umm"]
        product = umm["DataGranule"]["ArchiveAndDistributionInformation"][0]
        print(
            f"   {item['meta']['concept-id']}  {umm['TemporalExtent']['RangeDateTime']['BeginningDateTime']}  "
            f"{product['Name']}  {product['SizeInBytes']} bytes"
        )
    if not items:
        raise SystemExit("the sandbox catalogue has no granule over Pasadena; this is a bug in the sandbox")

    step(2, f"get temporary S3 credentials from the door (.netrc at {netrc_path} holds the EDL login)")
    response = session.get(f"{urls.asf}/door/credentials", timeout=30)
    hops = " -> ".join(f"{r.status_code} {urlsplit(r.url).netloc}{urlsplit(r.url).path}" for r in response.history)
    print(f"GET {urls.asf}/door/credentials\n-> redirects: {hops}\n-> {response.status_code}")
    credentials = response.json()["Credentials"]
    print(
        f"   AccessKeyId={credentials['AccessKeyId']}  SecretAccessKey={masked(credentials['SecretAccessKey'])}  "
        f"SessionToken={masked(credentials['SessionToken'])}  Expiration={credentials['Expiration']}"
    )

    step(3, f"list s3://{PRODUCT_BUCKET}/ with the temporary keys (what `aws s3 ls` does)")
    s3 = boto3.client(
        "s3",
        endpoint_url=urls.s3,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    listing = s3.list_objects_v2(Bucket=PRODUCT_BUCKET)["Contents"]
    print(
        f"-> {len(listing)} objects, e.g. {listing[0]['Key']} ({listing[0]['Size']} bytes, "
        f"{listing[0].get('StorageClass', 'STANDARD')})"
    )

    step(4, "archive status of each product found in step 1")
    names = {item["umm"]["DataGranule"]["ArchiveAndDistributionInformation"][0]["Name"]: item for item in items}
    states = {}
    for name in names:
        states[name] = session.get(f"{urls.asf}/door/status/{name}", timeout=30).json()
        print(f"   {name}: {states[name]}")

    archived = [name for name, state in states.items() if state["status"] == "archived"]
    chosen = archived[0] if archived else next(iter(names))
    if archived:
        step(5, f"request {chosen} from long-term storage and wait until it is available")
        response = session.get(f"{urls.asf}/door/download/{chosen}", timeout=30)
        print(f"GET /door/download/{chosen}\n-> {response.status_code}: {response.text.strip()}")
        deadline = time.monotonic() + sandbox.config.retrieval_seconds + 30
        while True:
            state = session.get(f"{urls.asf}/door/status/{chosen}", timeout=30).json()
            print(f"   status: {state}", flush=True)
            if state["status"] == "available" or time.monotonic() > deadline:
                break
            time.sleep(1)
    else:
        step(5, "no product over Pasadena is archived in this catalogue; nothing to retrieve")

    step(6, f"download {chosen} through the door and verify it against CMR")
    expected = names[chosen]["umm"]["DataGranule"]["ArchiveAndDistributionInformation"][0]
    digest, size = hashlib.md5(usedforsecurity=False), 0
    with session.get(f"{urls.asf}/door/download/{chosen}", stream=True, timeout=60) as response:
        response.raise_for_status()
        print(
            f"-> {response.history[0].status_code} to a signed URL valid 15 s on "
            f"{urlsplit(response.url).netloc}, then {response.status_code}"
        )
        for chunk in response.iter_content(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    ok = size == expected["SizeInBytes"] and digest.hexdigest() == expected["Checksum"]["Value"]
    print(f"   {size} bytes, md5 {digest.hexdigest()}: {'matches CMR' if ok else 'DOES NOT MATCH CMR'}")
    if not ok:
        raise SystemExit("the download does not match CMR's size and MD5")

    step(7, "which hosts received an Authorization header (the EDL login must go to EDL only)")
    stats = session.get(f"{urls.sandbox}/__sandbox__/stats", timeout=30).json()
    for route, hosts in stats["authorization"].items():
        print(f"   {route}: {', '.join(hosts)}")
    print(f"   requests: {stats['requests']}")


def main() -> int:
    """Start a sandbox, walk through the steps, stop it (also on failure or Ctrl-C)."""
    with tempfile.TemporaryDirectory() as home:
        netrc_path = os.path.join(home, ".netrc")
        # The 2018 era: the page's door had /door/credentials keys, /door/status and GLACIER retrievals.
        with Sandbox(era="2018", granules=6, archived_fraction=0.5, retrieval_seconds=3) as sandbox:
            assert sandbox.urls is not None
            edl_host = urlsplit(sandbox.urls.edl).hostname
            with open(netrc_path, "w") as netrc:
                netrc.write(f"machine {edl_host} login {SANDBOX_USER} password {SANDBOX_PASSWORD}\n")
            os.chmod(netrc_path, 0o600)
            os.environ["NETRC"] = netrc_path
            print("Sandbox running:")
            for name, value in sandbox.environment().items():
                if not name.startswith("AIRFLOW_CONN"):
                    print(f"   {name}={value}")
            try:
                run(sandbox, netrc_path)
            except KeyboardInterrupt:
                print("\ninterrupted; stopping the sandbox", file=sys.stderr)
                return 130
    print("\nDone: the sandbox is stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
