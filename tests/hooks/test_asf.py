"""AsfHook against the sandbox: credentials that refresh under a long-running S3 client, GDAL options, masking."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from airflow_asf_ifg.hooks.asf import AsfHook
from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET

pytestmark = pytest.mark.asf_sandbox(era="2018")  # temporary keys from the 2018 door for its buckets

RUN_SECONDS = 20


def redacted(value: str) -> str:
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact

    return redact(f"value={value}")


@pytest.fixture
def hook(asf_sandbox, asf_sandbox_connections):
    asf_sandbox.reset()
    return AsfHook()


def available_products(sandbox) -> list[dict]:
    return [f for g in sandbox.catalogue_document() for f in g["files"] if f["role"] == "data" and not f["archived"]]


class TestCredentials:
    def test_get_credentials_masks_the_secrets(self, hook):
        credentials = hook.get_credentials()
        assert credentials.buckets == (PRODUCT_BUCKET,)
        assert redacted(credentials.secret_access_key) == "value=***"
        assert redacted(credentials.session_token) == "value=***"

    @pytest.mark.asf_sandbox(tea=True)  # TEA's /s3credentials is on the door only with TEA direct access
    def test_a_granules_endpoint_wins(self, hook, asf_sandbox, stats):
        hook.get_credentials(f"{asf_sandbox.urls.asf}/s3credentials")
        snapshot = stats()
        assert snapshot["requests"]["s3credentials"] == 2  # the redirect to EDL, then the answer
        assert "credentials" not in snapshot["requests"] and snapshot["events"]["credentials_issued"] == 1

    def test_no_endpoint_anywhere(self, asf_sandbox, monkeypatch):
        document = asf_sandbox.earthdata_connection()
        document["extra"].pop("s3_credentials_url")
        monkeypatch.setenv("AIRFLOW_CONN_EARTHDATA_BARE", json.dumps(document))
        with pytest.raises(ValueError, match="has no s3_credentials_url and the granule lists none"):
            AsfHook("earthdata_bare").get_credentials()


class TestRefreshingClients:
    def test_one_client_keeps_working_across_expiries(self, hook, asf_sandbox, asf_sandbox_settings, stats):
        asf_sandbox_settings(credential_ttl=5)
        s3 = hook.get_s3_client()
        products = available_products(asf_sandbox)
        deadline, reads, index = time.monotonic() + RUN_SECONDS, 0, 0
        while time.monotonic() < deadline:
            assert s3.list_objects_v2(Bucket=PRODUCT_BUCKET, MaxKeys=5)["KeyCount"] == 5
            product = products[index % len(products)]
            body = s3.get_object(Bucket=PRODUCT_BUCKET, Key=product["key"])["Body"].read()
            assert hashlib.md5(body, usedforsecurity=False).hexdigest() == product["md5"]
            reads, index = reads + 1, index + 1
        fetches = stats()["events"]["credentials_issued"]
        print(f"sync client: {reads} list+get rounds in {RUN_SECONDS} s, {fetches} credential fetches")
        assert fetches >= RUN_SECONDS // 5  # several refreshes, each before the 5 s keys expired
        assert "ExpiredToken" not in str(stats())

    async def test_the_async_client_too(self, hook, asf_sandbox, asf_sandbox_settings, stats):
        asf_sandbox_settings(credential_ttl=5)
        products = available_products(asf_sandbox)
        rounds = 0
        async with hook.get_async_s3_client() as s3:
            deadline = time.monotonic() + RUN_SECONDS
            while time.monotonic() < deadline:
                listing = await s3.list_objects_v2(Bucket=PRODUCT_BUCKET, MaxKeys=5)
                assert listing["KeyCount"] == 5
                product = products[rounds % len(products)]
                response = await s3.get_object(Bucket=PRODUCT_BUCKET, Key=product["key"])
                async with response["Body"] as body:
                    data = await body.read()
                assert hashlib.md5(data, usedforsecurity=False).hexdigest() == product["md5"]
                rounds += 1
        fetches = stats()["events"]["credentials_issued"]
        print(f"async client: {rounds} list+get rounds in {RUN_SECONDS} s, {fetches} credential fetches")
        assert fetches >= RUN_SECONDS // 5


class TestGdal:
    def test_options_for_the_sandbox_s3(self, hook, asf_sandbox):
        options = hook.gdal_config()
        assert options["AWS_S3_ENDPOINT"] == asf_sandbox.urls.s3.removeprefix("http://")
        assert (options["AWS_HTTPS"], options["AWS_VIRTUAL_HOSTING"]) == ("NO", "FALSE")
        assert options["AWS_REGION"] == "us-east-1"
        assert options["AWS_ACCESS_KEY_ID"].startswith("ASIA") and options["AWS_SESSION_TOKEN"]

    def test_vsizip_path_as_on_the_2018_page(self):
        assert (
            AsfHook.vsizip_path("grfn-content-prod", "S1-IFG_X.unw_geo.zip", "S1-IFG_X/merged/a.vrt")
            == "/vsizip//vsis3/grfn-content-prod/S1-IFG_X.unw_geo.zip/S1-IFG_X/merged/a.vrt"
        )
