"""The command line as a new user meets it today: a login alone searches, downloads over HTTPS through the door,
and ``asf-ifg credentials`` says plainly why there is nothing to fetch for GUNW (exit 2)."""

from __future__ import annotations

import hashlib
import json

from airflow_asf_ifg.sandbox.config import SANDBOX_PASSWORD, SANDBOX_USER

ARIA_S1_GUNW = "C2859376221-ASF"


def login_only(sandbox) -> dict[str, str]:
    connection = {
        "conn_type": "earthdata",
        "login": SANDBOX_USER,
        "password": SANDBOX_PASSWORD,
        "extra": {"edl_url": sandbox.urls.edl, "cmr_url": sandbox.urls.cmr},
    }
    return {"AIRFLOW_CONN_EARTHDATA_DEFAULT": json.dumps(connection)}


class TestToday:
    def test_search_then_download_over_https_with_a_login_alone(self, run_cli, asf_sandbox, tmp_path, stats):
        asf_sandbox.reset()
        found = run_cli(
            "search",
            ARIA_S1_GUNW,
            "--aoi=-118.1445,34.1478",
            "--format",
            "jsonl",
            "--max",
            "5",
            env=login_only(asf_sandbox),
        )
        assert found.returncode == 0, found.stderr
        product = json.loads(found.stdout.splitlines()[0])["files"][0]
        assert product["url"].startswith(f"{asf_sandbox.urls.asf}/door/download/") and not product.get("s3_url")
        result = run_cli("download", product["url"], "-o", str(tmp_path), env=login_only(asf_sandbox))
        assert result.returncode == 0, result.stderr
        body = (tmp_path / product["name"]).read_bytes()
        expected = {f["name"]: f for g in asf_sandbox.catalogue_document() for f in g["files"]}[product["name"]]
        assert (len(body), hashlib.md5(body, usedforsecurity=False).hexdigest()) == (expected["size"], expected["md5"])
        assert not set(stats()["requests"]) & {"credentials", "s3credentials", "status"}

    def test_a_file_name_alone_is_downloaded_from_the_url_in_its_cmr_record(self, run_cli, asf_sandbox, tmp_path):
        expected = next(f for g in asf_sandbox.catalogue_document() for f in g["files"] if f["role"] == "data")
        result = run_cli("download", expected["name"], "-o", str(tmp_path), env=login_only(asf_sandbox))
        assert result.returncode == 0, result.stderr
        body = (tmp_path / expected["name"]).read_bytes()
        assert (len(body), hashlib.md5(body, usedforsecurity=False).hexdigest()) == (expected["size"], expected["md5"])
        assert "size and MD5 match CMR" in result.stdout

    def test_a_file_name_with_no_verify_exits_2_before_any_request(self, run_cli, asf_sandbox, tmp_path, stats):
        asf_sandbox.reset()
        result = run_cli("download", "x.nc", "--no-verify", "-o", str(tmp_path), env=login_only(asf_sandbox))
        assert result.returncode == 2 and "leave out --no-verify" in result.stderr, result.stderr
        assert [route for route in stats()["requests"] if not route.startswith("control_")] == []

    def test_credentials_exit_2_and_name_what_exists(self, run_cli, asf_sandbox, stats):
        asf_sandbox.reset()
        result = run_cli("credentials", env=login_only(asf_sandbox))
        assert result.returncode == 2 and result.stdout == ""
        assert "sentinel1.asf.alaska.edu/s3credentials" in result.stderr and "GUNW" in result.stderr
        sent = [route for route in stats()["requests"] if not route.startswith("control_")]
        assert sent == []  # refused before any request
