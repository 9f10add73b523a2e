"""The sandbox's Earthdata Login over HTTP: the authorize dance, EULA and profile errors, the token API."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from airflow_asf_ifg.sandbox.config import NO_EULA_PASSWORD, NO_EULA_USER, SANDBOX_PASSWORD, SANDBOX_USER
from airflow_asf_ifg.sandbox.edl import ASF_CLIENT_ID, PROFILE_PASSWORD, PROFILE_USER


@pytest.fixture
def authorize_url(asf_sandbox):
    def build(app_type: bool = True, state: str = "http://example.invalid/after") -> str:
        params = {
            "client_id": ASF_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": f"{asf_sandbox.urls.asf}/login",
            "state": state,
        }
        if app_type:
            params["app_type"] = "401"
        return requests.Request("GET", f"{asf_sandbox.urls.edl}/oauth/authorize", params=params).prepare().url

    return build


@pytest.fixture(autouse=True)
def _clean_tokens(asf_sandbox):
    yield
    auth = (SANDBOX_USER, SANDBOX_PASSWORD)
    for token in requests.get(f"{asf_sandbox.urls.edl}/api/users/tokens", auth=auth, timeout=10).json():
        requests.post(
            f"{asf_sandbox.urls.edl}/api/users/revoke_token",
            params={"token": token["access_token"]},
            auth=auth,
            timeout=10,
        )


def authorize_as_sandbox_user(sandbox, params: dict) -> requests.Response:
    """EDL's /oauth/authorize with the sandbox user's Basic credentials, redirects not followed."""
    return requests.get(
        f"{sandbox.urls.edl}/oauth/authorize",
        params=params,
        auth=(SANDBOX_USER, SANDBOX_PASSWORD),
        allow_redirects=False,
        timeout=10,
    )


class TestAuthorize:
    def test_scripts_get_401_with_basic_challenge(self, authorize_url):
        response = requests.get(authorize_url(), allow_redirects=False, timeout=10)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith('Basic realm="Please enter your Earthdata Login')

    def test_browsers_get_a_login_page(self, authorize_url):
        response = requests.get(authorize_url(app_type=False), allow_redirects=False, timeout=10)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/html")

    def test_basic_login_redirects_with_code_and_state(self, authorize_url, asf_sandbox):
        response = requests.get(
            authorize_url(state="http://x/y?z=1"),
            auth=(SANDBOX_USER, SANDBOX_PASSWORD),
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{asf_sandbox.urls.asf}/login"
        query = parse_qs(location.query)
        assert query["state"] == ["http://x/y?z=1"]
        assert len(query["code"][0]) > 20
        assert "_urs-gui_session" in response.cookies

    def test_wrong_password_is_401_without_redirect(self, authorize_url):
        response = requests.get(authorize_url(), auth=(SANDBOX_USER, "wrong"), allow_redirects=False, timeout=10)
        assert response.status_code == 401
        assert "Location" not in response.headers

    def test_unaccepted_eula_is_403_with_resolution_url(self, authorize_url, asf_sandbox):
        response = requests.get(
            authorize_url(), auth=(NO_EULA_USER, NO_EULA_PASSWORD), allow_redirects=False, timeout=10
        )
        assert response.status_code == 403
        assert response.json() == {
            "status_code": 403,
            "error_description": "EULA Acceptance Failure",
            "resolution_url": f"{asf_sandbox.urls.edl}/approve_app?client_id={ASF_CLIENT_ID}",
        }

    def test_profile_problem_ends_with_error_msg_on_the_redirect(self, authorize_url):
        response = requests.get(
            authorize_url(), auth=(PROFILE_USER, PROFILE_PASSWORD), allow_redirects=False, timeout=10
        )
        assert response.status_code == 302
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        assert query["error"] == ["access_denied"]
        assert query["error_msg"] == ["Please update your profile"]
        assert query["resolution_url"][0].endswith("/profile")

    def test_session_cookie_skips_the_password(self, authorize_url):
        with requests.Session() as session:
            session.get(authorize_url(), auth=(SANDBOX_USER, SANDBOX_PASSWORD), allow_redirects=False, timeout=10)
            again = session.get(authorize_url(), allow_redirects=False, timeout=10)
        assert again.status_code == 302 and "code=" in again.headers["Location"]

    @pytest.mark.parametrize("callback", ["/login", "/door/oauth"])
    def test_both_asf_redirect_uris_are_registered(self, asf_sandbox, callback):
        # Today's auth.asf.alaska.edu/login (and TEA's /login), and 2018's mod_auth_urs /door/oauth.
        params = {
            "client_id": ASF_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": f"{asf_sandbox.urls.asf}{callback}",
            "state": "s",
        }
        response = authorize_as_sandbox_user(asf_sandbox, params)
        assert response.status_code == 302
        assert response.headers["Location"].startswith(f"{asf_sandbox.urls.asf}{callback}?code=")

    def test_unregistered_redirect_uri_is_400(self, asf_sandbox):
        params = {"client_id": ASF_CLIENT_ID, "response_type": "code", "redirect_uri": "http://evil.invalid/login"}
        response = authorize_as_sandbox_user(asf_sandbox, params)
        assert response.status_code == 400
        assert "redirect_uri 'http://evil.invalid/login' is not registered" in response.json()["error_description"]

    def test_unknown_client_is_400(self, asf_sandbox):
        response = requests.get(
            f"{asf_sandbox.urls.edl}/oauth/authorize",
            params={"client_id": "nope", "response_type": "code", "redirect_uri": "x"},
            timeout=10,
        )
        assert response.status_code == 400


class TestCodeExchange:
    def test_code_works_once(self, authorize_url, asf_sandbox):
        redirect = requests.get(
            authorize_url(), auth=(SANDBOX_USER, SANDBOX_PASSWORD), allow_redirects=False, timeout=10
        ).headers["Location"]
        code = parse_qs(urlsplit(redirect).query)["code"][0]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": f"{asf_sandbox.urls.asf}/login"}
        app_auth = (ASF_CLIENT_ID, "sandbox-asf-app-secret")
        first = requests.post(f"{asf_sandbox.urls.edl}/oauth/token", data=form, auth=app_auth, timeout=10)
        assert first.status_code == 200
        assert first.json()["endpoint"] == f"/api/users/{SANDBOX_USER}"
        second = requests.post(f"{asf_sandbox.urls.edl}/oauth/token", data=form, auth=app_auth, timeout=10)
        assert second.status_code == 400 and second.json()["error"] == "invalid_grant"

    def test_wrong_app_secret_is_401(self, asf_sandbox):
        response = requests.post(
            f"{asf_sandbox.urls.edl}/oauth/token",
            data={"grant_type": "authorization_code"},
            auth=(ASF_CLIENT_ID, "wrong"),
            timeout=10,
        )
        assert response.status_code == 401


class TestTokens:
    def test_create_list_find_and_revoke(self, asf_sandbox):
        edl, auth = asf_sandbox.urls.edl, (SANDBOX_USER, SANDBOX_PASSWORD)
        created = requests.post(f"{edl}/api/users/token", auth=auth, timeout=10).json()
        assert created["token_type"] == "Bearer" and created["access_token"].count(".") == 2  # a JWT
        assert len(created["expiration_date"].split("/")) == 3  # MM/DD/YYYY
        assert requests.get(f"{edl}/api/users/tokens", auth=auth, timeout=10).json() == [created]
        assert requests.post(f"{edl}/api/users/find_or_create_token", auth=auth, timeout=10).json() == created
        requests.post(f"{edl}/api/users/revoke_token", params={"token": created["access_token"]}, auth=auth, timeout=10)
        assert requests.get(f"{edl}/api/users/tokens", auth=auth, timeout=10).json() == []

    def test_at_most_two_tokens(self, asf_sandbox):
        edl, auth = asf_sandbox.urls.edl, (SANDBOX_USER, SANDBOX_PASSWORD)
        for _ in range(2):
            assert requests.post(f"{edl}/api/users/token", auth=auth, timeout=10).status_code == 200
        third = requests.post(f"{edl}/api/users/token", auth=auth, timeout=10)
        assert third.status_code == 403 and third.json()["error"] == "max_token_limit"

    def test_wrong_password_is_401(self, asf_sandbox):
        response = requests.post(f"{asf_sandbox.urls.edl}/api/users/token", auth=(SANDBOX_USER, "nope"), timeout=10)
        assert response.status_code == 401

    def test_bearer_profile_and_revocation(self, asf_sandbox):
        edl, auth = asf_sandbox.urls.edl, (SANDBOX_USER, SANDBOX_PASSWORD)
        token = requests.post(f"{edl}/api/users/token", auth=auth, timeout=10).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        profile = requests.get(
            f"{edl}/api/users/{SANDBOX_USER}", headers=headers, params={"client_id": ASF_CLIENT_ID}, timeout=10
        )
        assert profile.status_code == 200 and profile.json()["uid"] == SANDBOX_USER
        requests.post(f"{edl}/api/users/revoke_token", params={"token": token}, auth=auth, timeout=10)
        assert requests.get(f"{edl}/api/users/{SANDBOX_USER}", headers=headers, timeout=10).status_code == 401

    def test_bearer_of_user_without_eula_is_403(self, asf_sandbox):
        edl = asf_sandbox.urls.edl
        auth = (NO_EULA_USER, NO_EULA_PASSWORD)
        token = requests.post(f"{edl}/api/users/token", auth=auth, timeout=10).json()["access_token"]
        try:
            response = requests.get(
                f"{edl}/api/users/{NO_EULA_USER}",
                params={"client_id": ASF_CLIENT_ID},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert response.status_code == 403
            assert response.json()["resolution_url"].endswith(f"client_id={ASF_CLIENT_ID}")
        finally:
            requests.post(f"{edl}/api/users/revoke_token", params={"token": token}, auth=auth, timeout=10)
