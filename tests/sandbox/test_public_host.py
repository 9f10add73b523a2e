"""``serve --host --public-host --bucket``: the sandbox as another container reaches it (docker compose profile)."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlsplit

import boto3
import pytest
import requests

from airflow_asf_ifg.sandbox.config import SANDBOX_PASSWORD, SANDBOX_USER, USER_ACCESS_KEY, USER_SECRET_KEY
from airflow_asf_ifg.sandbox.ports import free_port
from tests.sandbox.test_cli import serve

GUNW = "C2859376221-ASF"
SERVICES = ("CMR_URL", "EDL_URL", "ASF_URL", "S3_URL")


def user_s3(s3_url: str):
    """An S3 client with the sandbox's user keys, as AIRFLOW_CONN_AWS_DEFAULT gives them."""
    return boto3.client(
        "s3",
        endpoint_url=s3_url,
        region_name="us-east-1",
        aws_access_key_id=USER_ACCESS_KEY,
        aws_secret_access_key=USER_SECRET_KEY,
    )


class TestPublicHost:
    @pytest.mark.parametrize("era", ["today", "2018"])
    def test_every_url_handed_out_names_the_public_host_and_works(self, era):
        # Bound on 127.0.0.1, handed out as "localhost": the names differ, as 0.0.0.0 and "sandbox" do in compose.
        with serve(
            "--host",
            "127.0.0.1",
            "--public-host",
            "localhost",
            "--granules",
            "2",
            "--era",
            era,
            "--archived-fraction",
            "0",
        ) as (_, printed, _):
            urls = [urlsplit(printed[name]) for name in SERVICES]
            assert {url.hostname for url in urls} == {"localhost"}
            assert len({url.port for url in urls}) == 4, "one address, so each service needs its own port"
            earthdata = json.loads(printed["AIRFLOW_CONN_EARTHDATA_DEFAULT"])["extra"]
            assert earthdata["cmr_url"] == printed["CMR_URL"] and earthdata["edl_url"] == printed["EDL_URL"]
            assert {urlsplit(url).hostname for url in earthdata.values()} == {"localhost"}
            if era == "2018":
                assert earthdata["s3_credentials_url"] == printed["ASF_URL"] + "/door/credentials"
            else:
                assert "s3_credentials_url" not in earthdata and "archive_status_url" not in earthdata
            assert earthdata["s3_endpoint_url"] == printed["S3_URL"]
            assert json.loads(printed["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == printed["S3_URL"]

            records = requests.get(
                f"{printed['CMR_URL']}/search/granules.umm_json",
                params={"collection_concept_id": GUNW, "page_size": 1},
                timeout=10,
            )
            assert records.status_code == 200
            related = records.json()["items"][0]["umm"]["RelatedUrls"]
            http_urls = [item["URL"] for item in related if item["URL"].startswith("http")]
            assert http_urls and all(urlsplit(url).hostname == "localhost" for url in http_urls)
            data_url = next(url for url in http_urls if "/door/download/" in url)
            assert data_url.startswith(printed["ASF_URL"] + "/door/download/")

            # The whole door flow over the public URLs: EDL login, the door's own call to EDL (server side, by
            # the public name), then the presigned S3 URL; the bytes match the catalogue's MD5.
            catalogue = requests.get(f"{printed['CMR_URL']}/__sandbox__/catalogue", timeout=10).json()
            name = data_url.rsplit("/", 1)[1]
            expected = next(f["md5"] for g in catalogue for f in g["files"] if f["name"] == name)
            with requests.Session() as session:
                to_login = session.get(data_url, allow_redirects=False, timeout=10)
                assert urlsplit(to_login.headers["Location"]).netloc == urlsplit(printed["EDL_URL"]).netloc
                download = session.get(to_login.headers["Location"], auth=(SANDBOX_USER, SANDBOX_PASSWORD), timeout=30)
            assert download.status_code == 200, download.text[:300]
            assert urlsplit(download.url).netloc == urlsplit(printed["S3_URL"]).netloc
            assert hashlib.md5(download.content, usedforsecurity=False).hexdigest() == expected

    def test_port_gives_four_consecutive_ports_in_service_order(self):
        first = free_port(consecutive=4)
        with serve("--host", "127.0.0.1", "--port", str(first), "--granules", "1") as (_, printed, _):
            assert [urlsplit(printed[name]).port for name in SERVICES] == [first, first + 1, first + 2, first + 3]
            # Without --public-host the bound address is the one handed out.
            assert {urlsplit(printed[name]).hostname for name in SERVICES} == {"127.0.0.1"}

    def test_buckets_exist_empty_and_writable_with_the_user_keys(self):
        with serve("--granules", "1", "--metadata-only", "--bucket", "asf-ifg-ingest", "--bucket", "second.bucket") as (
            _,
            printed,
            _,
        ):
            s3 = user_s3(printed["S3_URL"])
            names = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
            assert {"asf-ifg-ingest", "second.bucket"} <= names
            assert s3.list_objects_v2(Bucket="asf-ifg-ingest").get("KeyCount") == 0
            s3.put_object(Bucket="asf-ifg-ingest", Key="sentinel-1/x.nc", Body=b"bytes")
            assert s3.get_object(Bucket="asf-ifg-ingest", Key="sentinel-1/x.nc")["Body"].read() == b"bytes"
