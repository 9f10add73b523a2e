"""The sandbox's 2018 ASF door and TEA over HTTP: mod_auth_urs logins, credentials, status, download."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from airflow_asf_ifg.sandbox.config import (
    NO_EULA_PASSWORD,
    NO_EULA_USER,
    PRODUCT_BUCKET,
    SANDBOX_PASSWORD,
    SANDBOX_USER,
)
from tests.sandbox.helpers import catalogue_file, wait_for

STS_EXPIRATION = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00$")

# The door as the 2018 page knew it; today's door is tested in test_eras.py.
pytestmark = pytest.mark.asf_sandbox(era="2018")


@pytest.fixture(autouse=True)
def _fresh_archive(asf_sandbox):
    asf_sandbox.reset()


@pytest.fixture
def user_token(asf_sandbox):
    """An EDL user token of the sandbox user, revoked afterwards."""
    edl, auth = asf_sandbox.urls.edl, (SANDBOX_USER, SANDBOX_PASSWORD)
    token = requests.post(f"{edl}/api/users/token", auth=auth, timeout=10).json()["access_token"]
    yield token
    requests.post(f"{edl}/api/users/revoke_token", params={"token": token}, auth=auth, timeout=10)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class TestLoginRedirect:
    @pytest.mark.parametrize("path", ["/door/credentials", "/door/status/x.zip", "/door/download/x.zip"])
    def test_unauthenticated_calls_go_to_edl_as_mod_auth_urs_sent_them(self, asf_sandbox, path):
        response = requests.get(f"{asf_sandbox.urls.asf}{path}", allow_redirects=False, timeout=10)
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{asf_sandbox.urls.edl}/oauth/authorize"
        assert location.query.startswith("app_type=401&client_id=")  # mod_auth_urs puts app_type first
        query = parse_qs(location.query)
        assert query["state"] == [b64(f"{asf_sandbox.urls.asf}{path}")]  # mod_auth_urs: base64 of the URL
        assert query["redirect_uri"] == [f"{asf_sandbox.urls.asf}/door/oauth"]

    def test_head_without_session_is_401(self, asf_sandbox):
        # mod_auth_urs cannot send a HEAD request through the login, so it refuses it.
        response = requests.head(f"{asf_sandbox.urls.asf}/door/download/x.zip", allow_redirects=False, timeout=10)
        assert response.status_code == 401

    def test_no_tea_and_no_asf_login_on_the_2018_door(self, asf_sandbox):
        for path in ("/s3credentials", "/login?code=x&state=y"):
            response = requests.get(f"{asf_sandbox.urls.asf}{path}", allow_redirects=False, timeout=10)
            assert response.status_code == 404, path

    def test_browsers_are_not_sent_app_type(self, asf_sandbox):
        response = requests.get(
            f"{asf_sandbox.urls.asf}/door/credentials",
            allow_redirects=False,
            timeout=10,
            headers={"User-Agent": "Mozilla/5.0"},
        )
        assert "app_type" not in response.headers["Location"]

    def test_without_credentials_a_script_ends_at_401(self, asf_sandbox):
        response = requests.get(f"{asf_sandbox.urls.asf}/door/credentials", timeout=10)
        assert response.status_code == 401
        assert urlsplit(response.url).netloc == urlsplit(asf_sandbox.urls.edl).netloc

    def test_netrc_login_sends_basic_only_to_edl(self, asf_sandbox, door_session, stats):
        asf_sandbox.stats.reset()
        response = door_session.get(f"{asf_sandbox.urls.asf}/door/credentials", timeout=10)
        assert response.status_code == 200
        assert [r.status_code for r in response.history] == [302, 302, 302]  # door, EDL, /door/oauth
        assert urlsplit(response.history[2].url).path == "/door/oauth"
        assert "GRFNDoor" in door_session.cookies  # mod_auth_urs names the cookie after UrsAuthGroup
        snapshot = stats()
        edl_host = urlsplit(asf_sandbox.urls.edl).netloc
        assert snapshot["authorization"]["edl_authorize"] == [edl_host]
        for route in ("credentials", "door_oauth"):
            assert route not in snapshot["authorization"]
        assert snapshot["requests"]["edl_authorize"] == 1

    def test_login_error_is_403_with_edl_message(self, asf_sandbox):
        response = requests.get(
            f"{asf_sandbox.urls.asf}/door/oauth",
            params={"error": "access_denied", "error_msg": "Please update your profile", "state": b64("x")},
            timeout=10,
        )
        assert response.status_code == 403 and "Please update your profile" in response.text

    def test_callback_without_state_is_403(self, asf_sandbox):
        response = requests.get(f"{asf_sandbox.urls.asf}/door/oauth", params={"code": "x"}, timeout=10)
        assert response.status_code == 403

    def test_login_with_a_forged_code_is_refused(self, asf_sandbox):
        response = requests.get(
            f"{asf_sandbox.urls.asf}/door/oauth",
            params={"code": "forged", "state": b64("x")},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 400  # EDL's invalid_grant, passed through as mod_auth_urs did


class TestDoorCredentials:
    def test_sts_shape_with_policy_document(self, asf_sandbox, door_session):
        response = door_session.get(f"{asf_sandbox.urls.asf}/door/credentials", timeout=10)
        assert response.text.startswith('{\n    "Credentials"')  # Flask's indent=4
        document = response.json()
        credentials = document["Credentials"]
        assert set(credentials) == {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
        assert credentials["AccessKeyId"].startswith("ASIA")
        assert STS_EXPIRATION.match(credentials["Expiration"])
        expires = datetime.fromisoformat(credentials["Expiration"])
        remaining = (expires - datetime.now(UTC)).total_seconds()
        assert asf_sandbox.config.credential_ttl - 5 <= remaining <= asf_sandbox.config.credential_ttl
        actions = {(s["Action"], s["Resource"]) for s in document["PolicyDocument"]["Statement"]}
        assert actions == {
            ("s3:ListBucket", f"arn:aws:s3:::{PRODUCT_BUCKET}"),
            ("s3:GetObject", f"arn:aws:s3:::{PRODUCT_BUCKET}/*"),
        }

    def test_lifetime_follows_credential_ttl(self, asf_sandbox, door_session, asf_sandbox_settings):
        asf_sandbox_settings(credential_ttl=60)
        credentials = door_session.get(f"{asf_sandbox.urls.asf}/door/credentials", timeout=10).json()["Credentials"]
        remaining = (datetime.fromisoformat(credentials["Expiration"]) - datetime.now(UTC)).total_seconds()
        assert 55 <= remaining <= 60

    def test_gone_answers_410_after_login(self, asf_sandbox, door_session, asf_sandbox_settings):
        asf_sandbox_settings(credentials_gone=True)
        unauthenticated = requests.get(f"{asf_sandbox.urls.asf}/door/credentials", allow_redirects=False, timeout=10)
        assert unauthenticated.status_code == 302  # the login check comes first, as in routes.py
        response = door_session.get(f"{asf_sandbox.urls.asf}/door/credentials", timeout=10)
        assert response.status_code == 410


class TestDoorStatusAndDownload:
    def test_available_product(self, asf_sandbox, door_session):
        item = catalogue_file(asf_sandbox, archived=False)
        response = door_session.get(f"{asf_sandbox.urls.asf}/door/status/{item['name']}", timeout=10)
        assert response.json() == {"status": "available"}

    def test_unknown_file_is_404(self, asf_sandbox, door_session):
        for route in ("status", "download"):
            response = door_session.get(f"{asf_sandbox.urls.asf}/door/{route}/no-such-file.zip", timeout=10)
            assert response.status_code == 404

    def test_download_redirects_to_a_15_second_signed_url_and_matches_cmr(self, asf_sandbox, door_session):
        item = catalogue_file(asf_sandbox, archived=False, beta=True)
        door_session.get(f"{asf_sandbox.urls.asf}/door/status/{item['name']}", timeout=10)  # log in
        response = door_session.get(item["url"], allow_redirects=False, timeout=10)
        assert response.status_code == 302
        signed = urlsplit(response.headers["Location"])
        assert f"{signed.scheme}://{signed.netloc}" == asf_sandbox.urls.s3
        assert parse_qs(signed.query)["X-Amz-Expires"] == ["15"]
        body = requests.get(response.headers["Location"], timeout=30).content  # no credentials needed
        assert len(body) == item["size"]
        assert hashlib.md5(body, usedforsecurity=False).hexdigest() == item["md5"]

    def test_archived_product_is_retrieved_once_then_served(
        self, asf_sandbox, door_session, asf_sandbox_settings, stats
    ):
        asf_sandbox_settings(retrieval_seconds=1.0)
        item = catalogue_file(asf_sandbox, archived=True)
        status_url = f"{asf_sandbox.urls.asf}/door/status/{item['name']}"
        assert door_session.get(status_url, timeout=10).json() == {"status": "archived"}
        head = door_session.head(item["url"], allow_redirects=True, timeout=10)
        assert head.status_code == 202
        assert door_session.get(status_url, timeout=10).json() == {"status": "archived"}  # HEAD starts nothing
        response = door_session.get(item["url"], timeout=10)
        assert response.status_code == 202
        assert response.text.startswith("Your requested data are being fetched from long-term storage.")
        assert door_session.get(status_url, timeout=10).json() == {"status": "retrieving"}
        assert door_session.get(item["url"], timeout=10).status_code == 202
        assert stats()["events"]["retrieval_started"] == 1
        state = wait_for(
            lambda: (s := door_session.get(status_url, timeout=10).json())["status"] == "available" and s,
            timeout=15,
            what="the retrieval to finish",
        )
        assert re.match(r"^\d{4}-\d\d-\d\d 00:00:00$", state["expiration_date"])
        download = door_session.get(item["url"], timeout=30)
        assert download.status_code == 200
        assert hashlib.md5(download.content, usedforsecurity=False).hexdigest() == item["md5"]


@pytest.mark.asf_sandbox(era="today", tea=True)
class TestTeaCredentials:
    KEYS = ["accessKeyId", "secretAccessKey", "sessionToken", "expiration"]

    def test_bearer_token(self, asf_sandbox, user_token):
        response = requests.get(
            f"{asf_sandbox.urls.asf}/s3credentials", timeout=10, headers={"Authorization": f"Bearer {user_token}"}
        )
        assert response.status_code == 200
        document = json.loads(response.text)
        assert list(document) == self.KEYS  # TEA's e2e test checks this exact key order
        assert STS_EXPIRATION.match(document["expiration"])
        assert "asf-urs" in response.cookies

    def test_cookie_after_netrc_login(self, asf_sandbox, door_session):
        response = door_session.get(f"{asf_sandbox.urls.asf}/s3credentials", timeout=10)
        assert response.status_code == 200 and list(response.json()) == self.KEYS

    def test_malformed_authorization_is_400(self, asf_sandbox):
        response = requests.get(
            f"{asf_sandbox.urls.asf}/s3credentials", headers={"Authorization": "Token abc"}, timeout=10
        )
        assert response.status_code == 400
        assert response.json() == {"status_code": 400, "error_description": "Malformed Authorization header"}

    def test_invalid_bearer_is_refused_by_edl(self, asf_sandbox):
        response = requests.get(
            f"{asf_sandbox.urls.asf}/s3credentials", timeout=10, headers={"Authorization": "Bearer not-a-token"}
        )
        assert response.status_code == 401

    def test_bearer_without_eula_passes_edls_403_through(self, asf_sandbox):
        edl, auth = asf_sandbox.urls.edl, (NO_EULA_USER, NO_EULA_PASSWORD)
        token = requests.post(f"{edl}/api/users/token", auth=auth, timeout=10).json()["access_token"]
        try:
            response = requests.get(
                f"{asf_sandbox.urls.asf}/s3credentials", timeout=10, headers={"Authorization": f"Bearer {token}"}
            )
        finally:
            requests.post(f"{edl}/api/users/revoke_token", params={"token": token}, auth=auth, timeout=10)
        assert response.status_code == 403
        assert response.json()["error_description"] == "EULA Acceptance Failure"
        assert "resolution_url" in response.json()
