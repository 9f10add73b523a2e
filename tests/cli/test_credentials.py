"""``asf-ifg credentials`` and the 2018 page's tools on its output: the AWS CLI, boto3, gdalinfo, gdal_translate."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
import zipfile

import boto3
import pytest

from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET
from tests.cli.conftest import exports, tool
from tests.sandbox.helpers import s3_client

pytestmark = pytest.mark.asf_sandbox(era="2018")  # the 2018 page's commands: keys from /door/credentials

UNWRAPPED = ".unw_geo.zip"


@pytest.fixture
def keys(run_cli) -> dict[str, str]:
    result = run_cli("credentials")
    assert result.returncode == 0, result.stderr
    return exports(result.stdout)


@pytest.fixture
def gdal_env(run_cli) -> dict[str, str]:
    result = run_cli("credentials", "--format", "gdal")
    assert result.returncode == 0, result.stderr
    return {**os.environ, **exports(result.stdout)}


def page_tool(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def vsizip(product: dict, member: str) -> str:
    stem = product["name"].removesuffix(UNWRAPPED)
    return f"/vsizip/vsis3/{PRODUCT_BUCKET}/{product['name']}/{stem}/merged/{member}"


class TestCredentialsOutput:
    def test_env_lines_are_the_pages_three_keys_and_the_region(self, run_cli, asf_sandbox):
        result = run_cli("credentials")
        assert list(exports(result.stdout)) == [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_DEFAULT_REGION",
        ]
        issued = asf_sandbox.credentials.lookup(exports(result.stdout)["AWS_ACCESS_KEY_ID"])
        assert issued is not None and issued.session_token == exports(result.stdout)["AWS_SESSION_TOKEN"]
        assert re.search(r"valid until \d{4}-\d\d-\d\dT", result.stderr)
        assert "AWS_" not in result.stderr

    def test_gdal_lines_hold_every_option_for_the_sandboxs_s3(self, run_cli, asf_sandbox):
        variables = exports(run_cli("credentials", "--format", "gdal").stdout)
        assert variables["AWS_S3_ENDPOINT"] == asf_sandbox.urls.s3.removeprefix("http://")
        assert (variables["AWS_VIRTUAL_HOSTING"], variables["AWS_HTTPS"]) == ("FALSE", "NO")
        assert variables["AWS_REGION"] == "us-east-1" and variables["GDAL_DISABLE_READDIR_ON_OPEN"] == "EMPTY_DIR"

    def test_json_has_the_keys_and_expiration(self, run_cli, asf_sandbox):
        document = json.loads(run_cli("credentials", "--format", "json").stdout)
        assert set(document) == {
            "accessKeyId",
            "secretAccessKey",
            "sessionToken",
            "expiration",
            "region",
            "s3_endpoint_url",
        }
        assert document["s3_endpoint_url"] == asf_sandbox.urls.s3

    def test_todays_410_names_the_fix(self, run_cli, asf_sandbox_settings):
        asf_sandbox_settings(credentials_gone=True)
        result = run_cli("credentials")
        assert result.returncode == 1
        assert "410 Gone" in result.stderr and "s3_credentials_url" in result.stderr


class TestAwsCli:
    def test_ls_and_cp_of_a_product(self, keys, asf_sandbox, product_files, tmp_path):
        aws = tool("aws")
        product = product_files(archived=False, suffix=UNWRAPPED)[0]
        env = {**os.environ, **keys}
        listing = page_tool(
            [aws, "s3", "ls", "--endpoint-url", asf_sandbox.urls.s3, f"s3://{PRODUCT_BUCKET}/{product['name']}"], env
        )
        assert listing.returncode == 0, listing.stderr
        assert listing.stdout.split()[2:] == [str(product["size"]), product["name"]]
        copied = page_tool(
            [
                aws,
                "s3",
                "cp",
                "--endpoint-url",
                asf_sandbox.urls.s3,
                f"s3://{PRODUCT_BUCKET}/{product['name']}",
                str(tmp_path),
            ],
            env,
        )
        assert copied.returncode == 0, copied.stderr
        assert hashlib.md5((tmp_path / product["name"]).read_bytes()).hexdigest() == product["md5"]

    def test_without_the_keys_s3_refuses(self, asf_sandbox, product_files):
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "ASIANOTISSUED0000000",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_SESSION_TOKEN": "y",
        }
        product = product_files(archived=False, suffix=UNWRAPPED)[0]
        listing = page_tool(
            [
                tool("aws"),
                "s3",
                "ls",
                "--endpoint-url",
                asf_sandbox.urls.s3,
                f"s3://{PRODUCT_BUCKET}/{product['name']}",
            ],
            env,
        )
        assert listing.returncode != 0 and "InvalidAccessKeyId" in listing.stderr


class TestBoto3:
    def test_the_pages_boto3_session_reads_the_product(self, run_cli, asf_sandbox, product_files):
        document = json.loads(run_cli("credentials", "--format", "json").stdout)
        session = boto3.session.Session(
            document["accessKeyId"], document["secretAccessKey"], document["sessionToken"], document["region"]
        )
        s3 = session.client("s3", endpoint_url=document["s3_endpoint_url"])
        product = product_files(archived=False, suffix=UNWRAPPED)[0]
        body = s3.get_object(Bucket=PRODUCT_BUCKET, Key=product["name"])["Body"].read()
        assert hashlib.md5(body).hexdigest() == product["md5"]


class TestGdal:
    def test_gdalinfo_reads_the_vrt_in_the_zip_on_s3(self, gdal_env, asf_sandbox, product_files, tmp_path):
        product = product_files(archived=False, suffix=UNWRAPPED)[0]
        result = page_tool([tool("gdalinfo"), "-json", vsizip(product, "filt_topophase.unw.geo.vrt")], gdal_env)
        assert result.returncode == 0, result.stderr
        info = json.loads(result.stdout)
        vrt = _generated_vrt(asf_sandbox, product, tmp_path)
        width, height = int(vrt.get("rasterXSize")), int(vrt.get("rasterYSize"))
        transform = [float(v) for v in vrt.find("GeoTransform").text.split(",")]
        assert info["size"] == [width, height]
        assert [(b["description"], b["type"]) for b in info["bands"]] == [
            ("amplitude", "Float32"),
            ("unwrapped_phase", "Float32"),
        ]
        assert info["geoTransform"] == pytest.approx(transform)
        assert transform[1] * 1200 == pytest.approx(round(transform[1] * 1200))  # 3 arc-second multiples
        assert 'ID["EPSG",4326]' in info["coordinateSystem"]["wkt"]

    def test_gdal_translate_to_a_geotiff_that_gdalinfo_reads_back(self, gdal_env, product_files, tmp_path):
        product = product_files(archived=False, suffix=UNWRAPPED)[0]
        out = tmp_path / "coherence.tif"
        translated = page_tool(
            [tool("gdal_translate"), "-of", "GTiff", vsizip(product, "phsig.cor.geo.vrt"), str(out)], gdal_env
        )
        assert translated.returncode == 0, translated.stderr
        source = json.loads(
            page_tool([tool("gdalinfo"), "-json", "-stats", vsizip(product, "phsig.cor.geo.vrt")], gdal_env).stdout
        )
        back = json.loads(page_tool([tool("gdalinfo"), "-json", "-stats", str(out)], {**os.environ}).stdout)
        assert back["driverShortName"] == "GTiff" and back["size"] == source["size"]
        assert back["geoTransform"] == pytest.approx(source["geoTransform"])
        assert back["bands"][0]["mean"] == pytest.approx(source["bands"][0]["mean"])
        assert back["bands"][0]["minimum"] > 0.0 and back["bands"][0]["maximum"] <= 1.0  # coherence


def _generated_vrt(sandbox, product: dict, tmp_path) -> ET.Element:
    """The VRT the sandbox wrote, read from the zip it serves (through its admin key, not through GDAL)."""
    from airflow_asf_ifg.sandbox.s3 import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY

    s3 = s3_client(sandbox, aws_access_key_id=ADMIN_ACCESS_KEY, aws_secret_access_key=ADMIN_SECRET_KEY)
    path = tmp_path / product["name"]
    s3.download_file(PRODUCT_BUCKET, product["name"], str(path))
    stem = product["name"].removesuffix(UNWRAPPED)
    with zipfile.ZipFile(path) as archive:
        return ET.fromstring(archive.read(f"{stem}/merged/filt_topophase.unw.geo.vrt"))
