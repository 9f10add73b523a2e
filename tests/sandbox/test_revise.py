"""A new revision of a granule, published while the sandbox runs: new bytes in S3, a new revision in CMR."""

from __future__ import annotations

import hashlib

import pytest
import requests

from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET
from airflow_asf_ifg.sandbox.demo import ARIA_S1_GUNW
from airflow_asf_ifg.sandbox.s3 import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY
from tests.sandbox.helpers import s3_client

SIZE = 6 * 1024 * 1024


def record(sandbox, granule_ur: str) -> dict:
    """The granule's UMM-JSON item from the sandbox's CMR."""
    found = requests.get(
        f"{sandbox.urls.cmr}/search/granules.umm_json",
        params={"collection_concept_id": ARIA_S1_GUNW, "granule_ur": granule_ur},
        timeout=30,
    ).json()["items"]
    assert len(found) == 1, found
    return found[0]


def stored_md5(sandbox, key: str) -> str:
    admin = s3_client(sandbox, aws_access_key_id=ADMIN_ACCESS_KEY, aws_secret_access_key=ADMIN_SECRET_KEY)
    body = admin.get_object(Bucket=PRODUCT_BUCKET, Key=key)["Body"].read()
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def product_size_and_md5(item: dict) -> tuple[int, str]:
    files = item["umm"]["DataGranule"]["ArchiveAndDistributionInformation"]
    product = files[0]
    return product["SizeInBytes"], product["Checksum"]["Value"]


@pytest.fixture
def granule(asf_sandbox):
    """Today's first GUNW granule; the catalogue is put back as it started afterwards."""
    found = next(g for g in asf_sandbox.catalogue_document() if g["collection_concept_id"] == ARIA_S1_GUNW)
    yield found
    asf_sandbox.reset()


class TestRevise:
    def test_over_the_control_route(self, asf_sandbox, granule):
        before = record(asf_sandbox, granule["granule_ur"])
        answer = requests.post(
            f"{asf_sandbox.urls.sandbox}/__sandbox__/revise",
            json={"granule_ur": granule["granule_ur"], "product_bytes": SIZE},
            timeout=120,
        )
        assert answer.status_code == 200, answer.text
        revised = answer.json()
        product = revised["files"][0]
        assert revised["revision_id"] == 2 and revised["revision_date"] > granule["revision_date"]
        assert abs(product["size"] - SIZE) < SIZE // 5 and product["md5"] != granule["files"][0]["md5"]
        after = record(asf_sandbox, granule["granule_ur"])
        assert (before["meta"]["revision-id"], after["meta"]["revision-id"]) == (1, 2)
        assert product_size_and_md5(after) == (product["size"], product["md5"])
        assert stored_md5(asf_sandbox, product["key"]) == product["md5"]  # the bytes CMR describes

    def test_reset_puts_the_first_revision_back(self, asf_sandbox, granule):
        asf_sandbox.revise(granule["granule_ur"], SIZE)
        asf_sandbox.reset()
        item = record(asf_sandbox, granule["granule_ur"])
        product = granule["files"][0]
        assert item["meta"]["revision-id"] == 1
        assert product_size_and_md5(item) == (product["size"], product["md5"])
        assert stored_md5(asf_sandbox, product["key"]) == product["md5"]

    @pytest.mark.parametrize(
        ("asked", "message"),
        [
            ({"granule_ur": "S1-GUNW-nothing"}, "granule_ur 'S1-GUNW-nothing' is not in the catalogue"),
            ({"granule_ur": None}, '{"granule_ur": "...", "product_bytes": N (optional)}'),
            ({"product_bytes": 100}, "must be a whole number of at least 1024"),
            ({"product_bytes": "big"}, "product_bytes 'big' must be a whole number"),
        ],
    )
    def test_bad_requests_are_refused_with_what_is_accepted(self, asf_sandbox, granule, asked, message):
        body = {"granule_ur": granule["granule_ur"], **asked}
        answer = requests.post(f"{asf_sandbox.urls.sandbox}/__sandbox__/revise", json=body, timeout=30)
        assert answer.status_code == 400
        assert message in answer.json()["errors"][0]
        assert record(asf_sandbox, granule["granule_ur"])["meta"]["revision-id"] == 1


class TestPublish:
    def test_a_new_granule_appears_in_cmr_and_s3(self, asf_sandbox, granule):
        answer = requests.post(
            f"{asf_sandbox.urls.sandbox}/__sandbox__/publish",
            json={"like": granule["granule_ur"], "start": "2026-11-30T01:02:03+00:00"},
            timeout=120,
        )
        assert answer.status_code == 200, answer.text
        published = answer.json()
        assert published["granule_ur"] != granule["granule_ur"] and "20261130_20261118" in published["granule_ur"]
        assert published["footprint"] == [list(p) for p in granule["footprint"]] and published["revision_id"] == 1
        item = record(asf_sandbox, published["granule_ur"])
        assert item["meta"]["concept-id"] == published["concept_id"]
        product = published["files"][0]
        assert product_size_and_md5(item) == (product["size"], product["md5"])
        assert stored_md5(asf_sandbox, product["key"]) == product["md5"]
        again = requests.post(
            f"{asf_sandbox.urls.sandbox}/__sandbox__/publish",
            json={"like": granule["granule_ur"], "start": "2026-11-30T01:02:03+00:00"},
            timeout=120,
        )
        assert again.status_code == 400 and "published already" in again.json()["errors"][0]

    def test_reset_removes_what_was_published(self, asf_sandbox, granule):
        published = asf_sandbox.publish(granule["granule_ur"])
        asf_sandbox.reset()
        assert published.granule_ur not in {g["granule_ur"] for g in asf_sandbox.catalogue_document()}
        found = requests.get(
            f"{asf_sandbox.urls.cmr}/search/granules.umm_json",
            params={"collection_concept_id": ARIA_S1_GUNW, "granule_ur": published.granule_ur},
            timeout=30,
        ).json()["items"]
        assert found == []

    @pytest.mark.parametrize(
        ("asked", "message"),
        [
            ({"like": "S1-GUNW-nothing"}, "like 'S1-GUNW-nothing' is not a GranuleUR in the catalogue"),
            ({"like": None}, '{"like": "<GranuleUR>"'),
            ({"start": "2026-11-30T01:02:03"}, "needs a time zone"),
            ({"product_bytes": 10}, "must be a whole number of at least 1024"),
        ],
    )
    def test_bad_requests_are_refused_with_what_is_accepted(self, asf_sandbox, granule, asked, message):
        body = {"like": granule["granule_ur"], **asked}
        answer = requests.post(f"{asf_sandbox.urls.sandbox}/__sandbox__/publish", json=body, timeout=30)
        assert answer.status_code == 400 and message in answer.json()["errors"][0]
