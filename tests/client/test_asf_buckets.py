"""S3 clients on ASF's buckets: options from the settings, keys that refresh, the region they are signed for."""

from __future__ import annotations

import hashlib

import pytest

from airflow_asf_ifg.client.asf_buckets import (
    RETRIES,
    asf_async_s3_client,
    asf_s3_client,
    client_options,
)
from airflow_asf_ifg.client.credentials import afetch_credentials, fetch_credentials
from airflow_asf_ifg.client.earthdata import AsyncEarthdataSession, policy_for
from airflow_asf_ifg.client.settings import EarthdataSettings
from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET
from tests.client.test_credentials import session_for
from tests.sandbox.helpers import wait_for

pytestmark = pytest.mark.asf_sandbox(era="2018")  # the 2018 door's keys for its bucket


def sandbox_settings(sandbox) -> EarthdataSettings:
    return EarthdataSettings.from_extra(sandbox.earthdata_connection()["extra"])


def door(sandbox) -> str:
    return f"{sandbox.urls.asf}/door/credentials"


def first_product(sandbox) -> dict:
    return next(
        f for g in sandbox.catalogue_document() for f in g["files"] if f["role"] == "data" and not f["archived"]
    )


class TestClientOptions:
    def test_aws_itself(self):
        options = client_options(EarthdataSettings())
        assert "endpoint_url" not in options and options["verify"] is True
        assert options["config"].retries == RETRIES
        assert options["config"].s3 is None  # AWS: virtual-hosted buckets

    def test_an_s3_compatible_server_is_addressed_by_path(self):
        options = client_options(EarthdataSettings(s3_endpoint_url="http://127.0.0.1:9000", verify=False))
        assert (options["endpoint_url"], options["verify"]) == ("http://127.0.0.1:9000", False)
        assert options["config"].s3 == {"addressing_style": "path"} and options["config"].retries == RETRIES


class TestAsfS3Client:
    def test_reads_asf_bucket_across_expiries(self, asf_sandbox, asf_sandbox_settings, stats):
        asf_sandbox_settings(credential_ttl=2)
        http, product = session_for(asf_sandbox), first_product(asf_sandbox)
        s3 = asf_s3_client(
            sandbox_settings(asf_sandbox), door(asf_sandbox), lambda: fetch_credentials(http, door(asf_sandbox))
        )
        assert s3.meta.region_name == "us-east-1"  # where the 2018 door's keys work

        def read_after_a_refresh() -> bool:
            body = s3.get_object(Bucket=PRODUCT_BUCKET, Key=product["key"])["Body"].read()
            assert hashlib.md5(body, usedforsecurity=False).hexdigest() == product["md5"]
            return stats()["events"]["credentials_issued"] >= 2

        assert wait_for(read_after_a_refresh, timeout=15, what="a read with refreshed keys", every=0.5)

    def test_a_region_can_be_chosen(self, asf_sandbox):
        http = session_for(asf_sandbox)
        s3 = asf_s3_client(
            sandbox_settings(asf_sandbox),
            door(asf_sandbox),
            lambda: fetch_credentials(http, door(asf_sandbox)),
            region_name="us-west-2",
        )
        assert s3.meta.region_name == "us-west-2"


class TestAsfAsyncS3Client:
    async def test_reads_asf_bucket(self, asf_sandbox):
        settings, product = sandbox_settings(asf_sandbox), first_product(asf_sandbox)
        identity = session_for(asf_sandbox).policy.identity
        async with (
            AsyncEarthdataSession(policy_for(identity, settings)) as http,
            asf_async_s3_client(settings, door(asf_sandbox), lambda: afetch_credentials(http, door(asf_sandbox))) as s3,
        ):
            head = await s3.head_object(Bucket=PRODUCT_BUCKET, Key=product["key"])
        assert head["ContentLength"] == product["size"]
