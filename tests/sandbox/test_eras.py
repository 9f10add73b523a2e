"""The sandbox's two eras over real HTTP: today's GRFN services (the default), TEA opt-in, 2018's, and switching."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

import botocore.exceptions
import pytest
import requests

from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET
from airflow_asf_ifg.sandbox.s3 import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY
from tests.sandbox.helpers import s3_client, wait_for

GUNW = "C2859376221-ASF"
DIRECT = "GET DATA VIA DIRECT ACCESS"


@pytest.fixture(autouse=True)
def _fresh_archive(asf_sandbox):
    asf_sandbox.reset()


def umm_items(sandbox, **params) -> list[dict]:
    response = requests.get(
        f"{sandbox.urls.cmr}/search/granules.umm_json", params={"page_size": 2000, **params}, timeout=30
    )
    assert response.status_code == 200
    return response.json()["items"]


def atom_entries(sandbox, **params) -> list[dict]:
    response = requests.get(
        f"{sandbox.urls.cmr}/search/granules.json", params={"page_size": 2000, **params}, timeout=30
    )
    assert response.status_code == 200
    return response.json()["feed"]["entry"]


def products(sandbox) -> list[str]:
    """Every product (data file) key of the catalogue."""
    return [g.data_file.name for g in sandbox.catalogue]


def archived_in_2018(sandbox) -> str:
    """A product that the 2018 era keeps in GLACIER."""
    return next(g.data_file.name for g in sandbox.catalogue if g.data_file.archived)


def admin_s3(sandbox):
    return s3_client(sandbox, aws_access_key_id=ADMIN_ACCESS_KEY, aws_secret_access_key=ADMIN_SECRET_KEY)


def door_url(sandbox, path: str) -> str:
    return f"{sandbox.urls.asf}{path}"


def assert_goes_to_edl(response, sandbox) -> dict[str, list[str]]:
    assert response.status_code == 302, response.text[:200]
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{sandbox.urls.edl}/oauth/authorize"
    return parse_qs(location.query)


@pytest.mark.asf_sandbox(era="today")
class TestToday:
    def test_records_list_the_door_and_public_files_only(self, asf_sandbox):
        items = umm_items(asf_sandbox, collection_concept_id=GUNW)
        assert items
        for item in items:
            related = item["umm"]["RelatedUrls"]
            assert not [r for r in related if r["URL"].startswith("s3://") or "/s3credentials" in r["URL"]]
            assert not [r for r in related if r["Type"] == DIRECT]
            data = [r["URL"] for r in related if r["Type"] == "GET DATA"]
            name = item["umm"]["DataGranule"]["ArchiveAndDistributionInformation"][0]["Name"]
            assert data == [f"{asf_sandbox.urls.asf}/door/download/{name}"]
            others = [r["URL"] for r in related if r["Type"] != "GET DATA"]
            assert others and all(url.startswith(f"{asf_sandbox.urls.s3}/grfn-public-prod/") for url in others)
        for entry in atom_entries(asf_sandbox, provider="ASF"):
            assert not [link for link in entry["links"] if link["href"].startswith("s3://")]

    def test_login_goes_through_asf_login_with_the_asf_urs_cookie(self, asf_sandbox, door_session):
        name = products(asf_sandbox)[0]
        query = assert_goes_to_edl(
            requests.get(door_url(asf_sandbox, f"/door/download/{name}?x=1"), allow_redirects=False, timeout=10),
            asf_sandbox,
        )
        assert query["redirect_uri"] == [f"{asf_sandbox.urls.asf}/login"]  # auth.asf.alaska.edu/login
        assert query["state"] == [door_url(asf_sandbox, f"/door/download/{name}")]  # routes.py: base_url
        assert query["app_type"] == ["401"]
        response = door_session.get(door_url(asf_sandbox, f"/door/download/{name}"), timeout=30)
        assert response.status_code == 200
        assert [r.status_code for r in response.history] == [302, 302, 307, 302]  # door, EDL, /login, door
        assert "asf-urs" in door_session.cookies and "GRFNDoor" not in door_session.cookies
        assert urlsplit(response.url).netloc == urlsplit(asf_sandbox.urls.s3).netloc

    def test_door_credentials_are_gone_after_the_login_check(self, asf_sandbox, door_session):
        assert_goes_to_edl(
            requests.get(door_url(asf_sandbox, "/door/credentials"), allow_redirects=False, timeout=10), asf_sandbox
        )
        response = door_session.get(door_url(asf_sandbox, "/door/credentials"), timeout=10)
        assert response.status_code == 410

    def test_status_is_gone_after_the_login_check(self, asf_sandbox, door_session):
        name = products(asf_sandbox)[0]
        assert_goes_to_edl(
            requests.get(door_url(asf_sandbox, f"/door/status/{name}"), allow_redirects=False, timeout=10), asf_sandbox
        )
        assert door_session.get(door_url(asf_sandbox, f"/door/status/{name}"), timeout=10).status_code == 404

    def test_no_tea_on_the_grfn_door(self, asf_sandbox, door_session):
        assert_goes_to_edl(
            requests.get(door_url(asf_sandbox, "/s3credentials"), allow_redirects=False, timeout=10), asf_sandbox
        )
        assert door_session.get(door_url(asf_sandbox, "/s3credentials"), timeout=10).status_code == 404

    def test_other_paths_check_the_cookie_then_404(self, asf_sandbox, door_session):
        for path in ("/door/oauth", "/door/", "/anything/else"):
            assert_goes_to_edl(
                requests.get(door_url(asf_sandbox, path), allow_redirects=False, timeout=10), asf_sandbox
            )
            assert door_session.get(door_url(asf_sandbox, path), timeout=10).status_code == 404, path

    def test_every_product_download_is_a_302_to_a_15_second_signed_url(self, asf_sandbox, door_session, stats):
        expected = {f["name"]: f["md5"] for g in asf_sandbox.catalogue_document() for f in g["files"]}
        door_session.get(door_url(asf_sandbox, "/door/credentials"), timeout=10)  # log in
        asf_sandbox.stats.reset()
        for name in products(asf_sandbox):
            for method in ("HEAD", "GET"):
                response = door_session.request(
                    method, door_url(asf_sandbox, f"/door/download/{name}"), allow_redirects=False, timeout=10
                )
                assert response.status_code == 302, (name, method, response.status_code)
            signed = urlsplit(response.headers["Location"])
            assert f"{signed.scheme}://{signed.netloc}" == asf_sandbox.urls.s3  # a host of its own
            assert parse_qs(signed.query)["X-Amz-Expires"] == ["15"]
            body = requests.get(response.headers["Location"], timeout=30).content  # the URL alone is enough
            assert hashlib.md5(body, usedforsecurity=False).hexdigest() == expected[name]
        assert "retrieval_started" not in stats()["events"]

    def test_signed_url_expires(self, asf_sandbox, door_session):
        name = products(asf_sandbox)[0]
        door_session.get(door_url(asf_sandbox, "/door/credentials"), timeout=10)
        location = door_session.get(
            door_url(asf_sandbox, f"/door/download/{name}"), allow_redirects=False, timeout=10
        ).headers["Location"]
        assert requests.get(location, timeout=10).status_code == 200
        refused = wait_for(
            lambda: (r := requests.get(location, timeout=10)).status_code == 403 and r.content,
            timeout=30,
            what="the signed URL to expire",
            every=1,
        )
        assert b"Request has expired" in refused

    def test_nothing_is_in_glacier(self, asf_sandbox):
        s3 = admin_s3(asf_sandbox)
        for name in products(asf_sandbox):
            head = s3.head_object(Bucket=PRODUCT_BUCKET, Key=name)
            assert head.get("StorageClass", "STANDARD") == "STANDARD", name
        listed = s3.list_objects_v2(Bucket=PRODUCT_BUCKET)["Contents"]
        assert {item["StorageClass"] for item in listed} == {"STANDARD"}
        assert not [f for g in asf_sandbox.catalogue_document() for f in g["files"] if f["archived"]]

    def test_connection_needs_only_login_and_password(self, asf_sandbox):
        connection = asf_sandbox.earthdata_connection()
        assert connection["login"] and connection["password"]
        assert set(connection["extra"]) == {"edl_url", "cmr_url", "s3_endpoint_url"}


@pytest.mark.asf_sandbox(era="today", tea=True)
class TestTea:
    def test_gunw_records_list_the_s3_link_and_the_credentials_endpoint(self, asf_sandbox):
        for item in umm_items(asf_sandbox, provider="ASF"):
            related = item["umm"]["RelatedUrls"]
            direct = [r["URL"] for r in related if r["Type"] == DIRECT]
            name = item["umm"]["DataGranule"]["ArchiveAndDistributionInformation"][0]["Name"]
            if item["meta"]["collection-concept-id"] == GUNW:
                assert direct == [f"s3://{PRODUCT_BUCKET}/{name}"]
                assert f"{asf_sandbox.urls.asf}/s3credentials" in [r["URL"] for r in related]
                assert f"{asf_sandbox.urls.asf}/door/download/{name}" in [r["URL"] for r in related]
            else:
                assert direct == [], "only ARIA_S1_GUNW is offered as Cumulus collections are"
        gunw = atom_entries(asf_sandbox, collection_concept_id=GUNW)
        assert all(any(link["href"].startswith("s3://") for link in entry["links"]) for entry in gunw)

    def test_s3credentials_keys_read_the_s3_link_in_region(self, asf_sandbox, door_session):
        item = umm_items(asf_sandbox, collection_concept_id=GUNW)[0]["umm"]
        s3_url = next(r["URL"] for r in item["RelatedUrls"] if r["Type"] == DIRECT)
        expected = item["DataGranule"]["ArchiveAndDistributionInformation"][0]["Checksum"]["Value"]
        keys = door_session.get(door_url(asf_sandbox, "/s3credentials"), timeout=10).json()
        assert list(keys) == ["accessKeyId", "secretAccessKey", "sessionToken", "expiration"]
        credentials = {
            "aws_access_key_id": keys["accessKeyId"],
            "aws_secret_access_key": keys["secretAccessKey"],
            "aws_session_token": keys["sessionToken"],
        }
        bucket, key = s3_url.removeprefix("s3://").split("/", 1)
        body = s3_client(asf_sandbox, region="us-west-2", **credentials).get_object(Bucket=bucket, Key=key)["Body"]
        assert hashlib.md5(body.read(), usedforsecurity=False).hexdigest() == expected
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            s3_client(asf_sandbox, region="us-east-1", **credentials).get_object(Bucket=bucket, Key=key)
        assert caught.value.response["Error"]["Code"] == "AccessDenied"

    def test_the_door_is_still_todays(self, asf_sandbox, door_session):
        assert door_session.get(door_url(asf_sandbox, "/door/credentials"), timeout=10).status_code == 410


@pytest.mark.asf_sandbox(era="2018")
class TestEra2018:
    def test_records_have_no_s3_link(self, asf_sandbox):
        for item in umm_items(asf_sandbox, provider="ASF"):
            assert not [r for r in item["umm"]["RelatedUrls"] if r["URL"].startswith("s3://")]

    def test_status_202_retrieval_and_sts_keys(self, asf_sandbox, door_session, asf_sandbox_settings):
        asf_sandbox_settings(retrieval_seconds=1.0)
        name = archived_in_2018(asf_sandbox)
        status_url, download_url = (
            door_url(asf_sandbox, f"/door/status/{name}"),
            door_url(asf_sandbox, f"/door/download/{name}"),
        )
        assert door_session.get(status_url, timeout=10).json() == {"status": "archived"}
        assert door_session.get(download_url, timeout=10).status_code == 202
        assert door_session.get(status_url, timeout=10).json() == {"status": "retrieving"}
        wait_for(
            lambda: door_session.get(status_url, timeout=10).json()["status"] == "available",
            timeout=15,
            what="the retrieval",
        )
        assert door_session.get(download_url, allow_redirects=False, timeout=10).status_code == 302
        credentials = door_session.get(door_url(asf_sandbox, "/door/credentials"), timeout=10).json()["Credentials"]
        s3 = s3_client(
            asf_sandbox,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        assert s3.head_object(Bucket=PRODUCT_BUCKET, Key=name)["StorageClass"] == "GLACIER"

    def test_connection_names_the_doors_endpoints(self, asf_sandbox, asf_sandbox_connections):
        extra = asf_sandbox.earthdata_connection()["extra"]
        assert extra["s3_credentials_url"] == door_url(asf_sandbox, "/door/credentials")
        assert extra["archive_status_url"] == door_url(asf_sandbox, "/door/status/{name}")
        assert '"archive_status_url"' in asf_sandbox_connections["AIRFLOW_CONN_EARTHDATA_DEFAULT"]


class TestSwitching:
    def storage_class(self, sandbox, name: str) -> str:
        return admin_s3(sandbox).head_object(Bucket=PRODUCT_BUCKET, Key=name).get("StorageClass", "STANDARD")

    def test_back_and_forth_in_process(self, asf_sandbox, asf_sandbox_settings, door_session):
        name = archived_in_2018(asf_sandbox)
        assert self.storage_class(asf_sandbox, name) == "STANDARD"
        asf_sandbox_settings(era="2018", retrieval_seconds=60)
        assert self.storage_class(asf_sandbox, name) == "GLACIER"
        assert next(f for g in asf_sandbox.catalogue_document() for f in g["files"] if f["name"] == name)["archived"]
        assert door_session.get(door_url(asf_sandbox, f"/door/download/{name}"), timeout=10).status_code == 202
        assert door_session.get(door_url(asf_sandbox, f"/door/status/{name}"), timeout=10).json() == {
            "status": "retrieving"
        }
        asf_sandbox_settings(era="today")
        assert self.storage_class(asf_sandbox, name) == "STANDARD"
        assert "Restore" not in admin_s3(asf_sandbox).head_object(Bucket=PRODUCT_BUCKET, Key=name)
        assert (
            door_session.get(
                door_url(asf_sandbox, f"/door/download/{name}"), allow_redirects=False, timeout=10
            ).status_code
            == 302
        )
        asf_sandbox_settings(era="2018")
        # The retrieval clock was reset: the product is archived again, with no restore under way.
        assert door_session.get(door_url(asf_sandbox, f"/door/status/{name}"), timeout=10).json() == {
            "status": "archived"
        }
        assert "Restore" not in admin_s3(asf_sandbox).head_object(Bucket=PRODUCT_BUCKET, Key=name)

    def test_over_the_control_route(self, asf_sandbox, asf_sandbox_settings):
        url = f"{asf_sandbox.urls.sandbox}/__sandbox__/config"
        name = archived_in_2018(asf_sandbox)
        changed = requests.post(url, json={"era": "2018", "tea": True}, timeout=10).json()
        assert (changed["era"], changed["tea"]) == ("2018", True)
        assert self.storage_class(asf_sandbox, name) == "GLACIER"
        assert requests.post(url, json={"era": "today"}, timeout=10).json()["era"] == "today"
        assert self.storage_class(asf_sandbox, name) == "STANDARD"
        refused = requests.post(url, json={"era": "2019"}, timeout=10)
        assert refused.status_code == 400
        assert "era '2019' is not one the sandbox knows; accepted: today, 2018" in refused.json()["errors"][0]
        assert asf_sandbox.config.era == "today"


class TestMarker:
    @pytest.mark.asf_sandbox(era="2018", tea=True, credential_ttl=120)
    def test_applies_before_the_connections_are_read(self, asf_sandbox, asf_sandbox_connections):
        assert (asf_sandbox.config.era, asf_sandbox.config.tea, asf_sandbox.config.credential_ttl) == (
            "2018",
            True,
            120,
        )
        assert "/door/status/{name}" in asf_sandbox_connections["AIRFLOW_CONN_EARTHDATA_DEFAULT"]

    def test_restored_afterwards(self, asf_sandbox):
        assert (asf_sandbox.config.era, asf_sandbox.config.tea, asf_sandbox.config.credential_ttl) == (
            "today",
            False,
            3600.0,
        )
        assert self_storage_is_standard(asf_sandbox)


def self_storage_is_standard(sandbox) -> bool:
    listed = admin_s3(sandbox).list_objects_v2(Bucket=PRODUCT_BUCKET)["Contents"]
    return {item["StorageClass"] for item in listed} == {"STANDARD"}
