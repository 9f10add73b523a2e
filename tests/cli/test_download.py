"""``asf-ifg status`` and ``asf-ifg download``: search → status → retrieval → verified download, as the 2018 scripts."""

from __future__ import annotations

import hashlib
import json

import pytest

from airflow_asf_ifg.cli.download import name_candidates
from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET
from tests.sandbox.helpers import s3_client

pytestmark = pytest.mark.asf_sandbox(era="2018")  # the 2018 door's archive status, retrievals and downloads


def states(result) -> dict[str, str]:
    return {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()}


@pytest.fixture
def quick_retrieval(asf_sandbox, asf_sandbox_settings):
    asf_sandbox.reset()  # archived products are archived again
    asf_sandbox_settings(retrieval_seconds=1.0)


class TestNameCandidates:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("P-v1.2.1-standard.unw_geo.zip", ["P-v1.2.1-standard.unw_geo", "P-v1.2.1-standard", "P-v1.2", "P-v1"]),
            ("S1-GUNW-X-v2_0_4.nc", ["S1-GUNW-X-v2_0_4"]),
            ("noext", ["noext"]),
        ],
    )
    def test_strips_one_suffix_at_a_time(self, name, expected):
        assert name_candidates(name) == expected


class TestStatus:
    def test_door_states_of_available_archived_and_missing(self, run_cli, product_files, quick_retrieval):
        archived, available = product_files(archived=True)[0]["name"], product_files(archived=False)[0]["name"]
        result = run_cli("status", archived, available, "nosuch.zip")
        assert result.returncode == 0, result.stderr
        assert states(result) == {archived: "archived", available: "available", "nosuch.zip": "missing"}

    def test_s3_urls_are_read_with_head_object(self, run_cli, product_files, quick_retrieval):
        archived = product_files(archived=True)[0]["name"]
        result = run_cli("status", "--format", "json", f"s3://{PRODUCT_BUCKET}/{archived}")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["state"] == "archived"


class TestDownload:
    def test_search_status_download_of_an_archived_product(
        self, run_cli, asf_sandbox, quick_retrieval, tmp_path, stats
    ):
        found = run_cli("search", "C1379535600-ASF", "C1379535891-ASF", "--format", "jsonl", "--max", "100")
        archived = {f["name"]: f for g in asf_sandbox.catalogue_document() for f in g["files"] if f["archived"]}
        files = [f for line in found.stdout.splitlines() for f in json.loads(line)["files"] if f["name"] in archived]
        product = files[0]
        assert states(run_cli("status", product["url"]))[product["url"]] == "archived"

        result = run_cli("download", product["url"], "-o", str(tmp_path), "--poll", "0.2")
        assert result.returncode == 0, result.stderr
        assert "retrieval: 1 retrieving" in result.stderr and "retrieval: 1 available" in result.stderr
        assert "size and MD5 match CMR" in result.stdout
        written = tmp_path / product["name"]
        assert hashlib.md5(written.read_bytes()).hexdigest() == product["checksum"]
        assert not (tmp_path / f"{product['name']}.part").exists()
        assert stats()["events"]["retrieval_started"] == 1
        assert states(run_cli("status", product["name"]))[product["name"]] == "available"

        again = run_cli("download", product["name"], "-o", str(tmp_path))
        assert again.returncode == 0 and "skipped" in again.stdout

    def test_a_part_file_is_resumed_and_verified(
        self, run_cli, product_files, quick_retrieval, tmp_path, stats, asf_sandbox
    ):
        product = product_files(archived=False)[0]
        body = _product_bytes(asf_sandbox, product["name"])
        (tmp_path / f"{product['name']}.part").write_bytes(body[: len(body) // 3])
        asf_sandbox.stats.reset()
        result = run_cli("download", product["name"], "-o", str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert (tmp_path / product["name"]).read_bytes() == body
        # The rest of the file, plus the one byte of the availability probe (Range: bytes=0-0).
        assert stats()["bytes_served"][f"{PRODUCT_BUCKET}/{product['name']}"] == len(body) - len(body) // 3 + 1

    def test_a_corrupt_part_file_fails_and_is_removed(self, run_cli, product_files, tmp_path, quick_retrieval):
        product = product_files(archived=False)[0]
        (tmp_path / f"{product['name']}.part").write_bytes(b"not the product")
        result = run_cli("download", product["name"], "-o", str(tmp_path))
        assert result.returncode == 1
        assert "ChecksumMismatchError" in result.stderr and "run again" in result.stderr
        assert not (tmp_path / f"{product['name']}.part").exists() and not (tmp_path / product["name"]).exists()
        assert run_cli("download", product["name"], "-o", str(tmp_path)).returncode == 0

    def test_a_full_length_part_file_is_renamed_without_a_request(
        self, run_cli, product_files, quick_retrieval, tmp_path, stats, asf_sandbox
    ):
        product = product_files(archived=False)[0]
        body = _product_bytes(asf_sandbox, product["name"])
        (tmp_path / f"{product['name']}.part").write_bytes(body)  # a crash after the last write, before the rename
        asf_sandbox.stats.reset()
        result = run_cli("download", product["name"], "-o", str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert (tmp_path / product["name"]).read_bytes() == body
        assert not (tmp_path / f"{product['name']}.part").exists()
        # Only the one byte of the availability probe was read.
        assert stats()["bytes_served"].get(f"{PRODUCT_BUCKET}/{product['name']}", 0) <= 1

    def test_a_full_length_corrupt_part_file_is_downloaded_again(
        self, run_cli, product_files, quick_retrieval, tmp_path, asf_sandbox
    ):
        product = product_files(archived=False)[0]
        body = _product_bytes(asf_sandbox, product["name"])
        (tmp_path / f"{product['name']}.part").write_bytes(bytes(len(body)))  # the right size, the wrong bytes
        result = run_cli("download", product["name"], "-o", str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert (tmp_path / product["name"]).read_bytes() == body
        assert not (tmp_path / f"{product['name']}.part").exists()

    @pytest.mark.parametrize(
        "name",
        ["..%2F..%2Fescaped.txt", "..%5C..%5Cescaped.txt", "%2E%2E", ".hidden", "a%00b.zip"],
        ids=["slash", "backslash", "dotdot", "leading-dot", "nul"],
    )
    def test_a_url_naming_a_path_is_refused_before_any_request(self, run_cli, tmp_path, stats, asf_sandbox, name):
        output = tmp_path / "out"
        asf_sandbox.stats.reset()
        result = run_cli("download", f"https://example.invalid/x/{name}", "-o", str(output), "--no-verify")
        assert result.returncode == 2, result.stderr
        assert "refused" in result.stderr or "names no file" in result.stderr
        assert list(tmp_path.iterdir()) == [] and not stats()["bytes_served"]

    @pytest.mark.parametrize("name", ["..", ".part", "a\\b.zip"], ids=["dotdot", "leading-dot", "backslash"])
    def test_a_file_name_naming_a_path_is_refused(self, run_cli, tmp_path, name):
        result = run_cli("download", name, "-o", str(tmp_path / "out"), "--no-verify")
        assert result.returncode == 2, result.stderr
        assert not (tmp_path / "out").exists()

    @pytest.mark.parametrize("option", ["--poll", "--timeout"])
    @pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
    def test_a_wait_that_never_ends_is_refused(self, run_cli, tmp_path, option, value):
        result = run_cli("download", "x.zip", "-o", str(tmp_path), option, value)
        assert result.returncode == 2
        assert "finite number greater than 0" in result.stderr or "greater than 0" in result.stderr

    def test_a_reset_mid_body_is_resumed(
        self, run_cli, product_files, tmp_path, quick_retrieval, asf_sandbox_settings, stats
    ):
        product = product_files(archived=False)[0]
        asf_sandbox_settings(reset_next=2)  # the first cuts the one-byte availability probe
        result = run_cli("download", product["name"], "-o", str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert "resuming" in result.stderr and stats()["events"]["fault_reset"] >= 1
        assert hashlib.md5((tmp_path / product["name"]).read_bytes()).hexdigest() == product["md5"]

    @pytest.mark.parametrize(
        ("faults", "event"),
        [
            pytest.param({"throttle_rate": 0.2}, "fault_throttle", id="throttled"),
            pytest.param({"reset_rate": 0.3}, "fault_reset", id="bodies-cut"),
        ],
    )
    def test_an_archived_product_through_faults(
        self, run_cli, product_files, tmp_path, quick_retrieval, asf_sandbox, asf_sandbox_settings, stats, faults, event
    ):
        product = product_files(archived=True)[0]
        for attempt in range(10):  # the draws are seeded: a run may meet no fault, so run until one does
            asf_sandbox.reset()  # archived again, stats zeroed
            asf_sandbox_settings(**faults)
            output = tmp_path / str(attempt)
            result = run_cli("download", product["name"], "-o", str(output), "--poll", "0.2")
            assert result.returncode == 0, result.stderr
            assert "size and MD5 match CMR" in result.stdout
            assert hashlib.md5((output / product["name"]).read_bytes()).hexdigest() == product["md5"]
            events = stats()["events"]
            assert events["retrieval_started"] == 1
            if events.get(event, 0) > 0:
                break
        else:
            pytest.fail(f"no {event} in 10 downloads at {faults}")

    def test_a_timeout_exits_1_and_names_the_files(
        self, run_cli, product_files, asf_sandbox, asf_sandbox_settings, tmp_path
    ):
        asf_sandbox.reset()
        asf_sandbox_settings(retrieval_seconds=600.0)
        product = product_files(archived=True)[0]
        result = run_cli("download", product["name"], "-o", str(tmp_path), "--poll", "0.2", "--timeout", "0.5")
        assert result.returncode == 1
        assert "still in long-term storage" in result.stderr and product["name"] in result.stderr


def _product_bytes(sandbox, key: str) -> bytes:

    from airflow_asf_ifg.sandbox.s3 import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY

    s3 = s3_client(sandbox, aws_access_key_id=ADMIN_ACCESS_KEY, aws_secret_access_key=ADMIN_SECRET_KEY)
    return s3.get_object(Bucket=PRODUCT_BUCKET, Key=key)["Body"].read()
