"""Plain helpers of the sandbox tests: S3 clients on the sandbox, condition waits, catalogue look-ups."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import boto3

from airflow_asf_ifg.sandbox import Sandbox


def s3_client(sandbox: Sandbox, region: str = "us-east-1", **credentials: str):
    """A boto3 S3 client on the sandbox's S3 server."""
    return boto3.client("s3", endpoint_url=sandbox.urls.s3, region_name=region, **credentials)


def user_s3(sandbox: Sandbox):
    """An S3 client with the sandbox's user keys (the AIRFLOW_CONN_AWS_DEFAULT identity)."""
    connection = sandbox.aws_connection()
    return s3_client(sandbox, aws_access_key_id=connection["login"], aws_secret_access_key=connection["password"])


def empty_bucket(sandbox: Sandbox, bucket: str):
    """Reset the sandbox and return a user S3 client with ``bucket`` created and emptied."""
    sandbox.reset()
    client = user_s3(sandbox)
    client.create_bucket(Bucket=bucket)
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=item["Key"])
    return client


def ingest_sandbox(sandbox: Sandbox, bucket: str, retrieval_seconds: float) -> Iterator[Sandbox]:
    """The sandbox in today's era, stats and retrievals reset, with ``bucket`` empty; settings put back after.

    :param sandbox: the session's sandbox.
    :param bucket: the destination bucket (created).
    :param retrieval_seconds: how long a retrieval takes meanwhile.
    """
    sandbox.reset()
    sandbox.update_config({"retrieval_seconds": retrieval_seconds, "era": "today"})
    empty_bucket(sandbox, bucket)
    yield sandbox
    sandbox.update_config({"retrieval_seconds": 5.0, "era": "today"})
    sandbox.reset()  # revised granules back to their first revision


def wait_for(condition: Callable[[], object], timeout: float, what: str, every: float = 0.1) -> object:
    """Poll ``condition`` every ``every`` seconds until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def catalogue_file(sandbox: Sandbox, *, archived: bool, role: str = "data", beta: bool | None = None) -> dict:
    """A file from the catalogue with the given archive flag."""
    for granule in sandbox.catalogue_document():
        if beta is not None and granule["short_name"].startswith("SENTINEL-1_INSAR") != beta:
            continue
        for item in granule["files"]:
            if item["role"] == role and item["archived"] == archived:
                return {**item, "granule": granule}
    raise LookupError(f"no {role} file with archived={archived} in the catalogue")
