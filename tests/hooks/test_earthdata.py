"""EarthdataHook: the connection's identity and endpoints, masking, sessions that log in through the sandbox."""

from __future__ import annotations

import json

import pytest

from airflow_asf_ifg.client.settings import DEFAULT_CMR_URL, DEFAULT_EDL_URL
from airflow_asf_ifg.exceptions import ConfigurationError, ConnectionFormatError, EarthdataLoginError
from airflow_asf_ifg.hooks.earthdata import EarthdataHook
from airflow_asf_ifg.sandbox.config import SANDBOX_PASSWORD, SANDBOX_USER

pytestmark = pytest.mark.asf_sandbox(era="2018")  # sessions that log in to the 2018 door


def redacted(value: str) -> str:
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact

    return redact(f"value={value}")


@pytest.fixture
def connection(asf_sandbox, monkeypatch):
    """Set AIRFLOW_CONN_EARTHDATA_TEST from the sandbox's connection with changes."""

    def set_connection(**changes) -> str:
        document = asf_sandbox.earthdata_connection()
        extra = {**document["extra"], **changes.pop("extra", {})}
        document = {**document, **changes, "extra": {k: v for k, v in extra.items() if v is not None}}
        monkeypatch.setenv("AIRFLOW_CONN_EARTHDATA_TEST", json.dumps(document))
        return "earthdata_test"

    return set_connection


class TestEarthdataHook:
    def test_login_and_password_from_the_connection(self, connection, asf_sandbox):
        hook = EarthdataHook(connection())
        assert (hook.identity.login, hook.identity.source) == (SANDBOX_USER, "connection login")
        assert hook.settings.edl_url == asf_sandbox.urls.edl
        assert hook.settings.cmr_url == asf_sandbox.urls.cmr
        assert redacted(SANDBOX_PASSWORD) == "value=***"

    def test_token_from_the_extra_is_masked(self, connection):
        hook = EarthdataHook(connection(login=None, password=None, extra={"token": "eyJ.secret-token.sig"}))
        assert hook.identity.token == "eyJ.secret-token.sig" and not hook.identity.can_log_in
        assert redacted("eyJ.secret-token.sig") == "value=***"

    def test_no_connection_means_public_services_and_netrc(self, asf_sandbox, netrc_for):
        netrc_for(asf_sandbox, login="netrc-user", password="netrc-password-1")
        hook = EarthdataHook("no_such_connection")
        assert hook.connection is None
        assert (hook.settings.edl_url, hook.settings.cmr_url) == (DEFAULT_EDL_URL, DEFAULT_CMR_URL)
        assert hook.identity.login is None  # the .netrc entry is for the sandbox's EDL host, not the public one

    def test_netrc_for_the_connections_edl_host(self, connection, asf_sandbox, netrc_for):
        path = netrc_for(asf_sandbox, login="netrc-user", password="netrc-password-2")
        hook = EarthdataHook(connection(login=None, password=None))
        assert (hook.identity.login, hook.identity.source) == ("netrc-user", path)
        assert redacted("netrc-password-2") == "value=***"

    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            pytest.param({"cmr_url": "cmr.example"}, "cmr_url 'cmr.example' is not an http(s) URL", id="bad-url"),
            pytest.param({"archive_status_url": "https://x/door/status/"}, "has no {name} placeholder", id="template"),
            pytest.param({"verify": "maybe"}, "verify 'maybe' is not a boolean", id="verify"),
            pytest.param({"cmr": "https://x"}, "unknown earthdata connection extra field(s) ['cmr']", id="unknown"),
        ],
    )
    def test_bad_extra_names_the_connection_and_field(self, connection, extra, message):
        hook = EarthdataHook(connection(extra=extra))
        with pytest.raises(ValueError, match="connection 'earthdata_test': ") as caught:
            _ = hook.settings
        assert message in str(caught.value)

    def test_session_logs_in_to_the_door(self, connection, asf_sandbox):
        response = EarthdataHook(connection()).get_session().get_checked(f"{asf_sandbox.urls.asf}/door/credentials")
        assert response.status_code == 200 and "Credentials" in response.json()

    async def test_async_session_logs_in_to_the_door(self, connection, asf_sandbox):
        async with EarthdataHook(connection()).get_async_session() as session:
            response = await session.fetch("GET", f"{asf_sandbox.urls.asf}/door/credentials")
        assert response.status == 200

    def test_wrong_password_in_the_connection(self, connection, asf_sandbox):
        session = EarthdataHook(connection(password="wrong")).get_session()
        with pytest.raises(EarthdataLoginError, match="wrong username or password"):
            session.get_checked(f"{asf_sandbox.urls.asf}/door/credentials")

    def test_test_connection(self, connection):
        assert EarthdataHook(connection()).test_connection() == (
            True,
            f"Earthdata Login accepted {SANDBOX_USER} (from connection login)",
        )
        ok, message = EarthdataHook(connection(password="wrong")).test_connection()
        assert not ok and "401" in message

    def test_test_connection_names_an_unresolvable_edl(self, connection):
        ok, message = EarthdataHook(connection(extra={"edl_url": "http://urs.invalid"})).test_connection()
        assert not ok and "host 'urs.invalid' does not resolve" in message and "check edl_url" in message

    def test_bearer_policy_skips_the_door_credentials_endpoint(self, connection, asf_sandbox):
        hook = EarthdataHook(connection(login=None, password=None, extra={"token": "t"}))
        policy = hook.auth_policy()
        assert policy.authorization(f"{asf_sandbox.urls.asf}/door/credentials") is None
        assert policy.authorization(f"{asf_sandbox.urls.cmr}/search/granules.json") == "Bearer t"


class TestConnectionType:
    @pytest.mark.parametrize(
        ("text", "conn_type"),
        [
            pytest.param("extra:{edl_url:http://x}", "extra", id="not-json-not-a-uri"),
            pytest.param("http://me:pw@urs.example/", "http", id="uri-of-another-type"),
            pytest.param('{"conn_type": "aws", "login": "KEY", "password": "pw"}', "aws", id="json-of-another-type"),
        ],
    )
    def test_a_connection_of_another_type_is_refused(self, text, conn_type, monkeypatch):
        monkeypatch.setenv("AIRFLOW_CONN_EARTHDATA_TEST", text)
        hook = EarthdataHook("earthdata_test")
        with pytest.raises(ConnectionFormatError) as caught:
            _ = hook.settings
        message = str(caught.value)
        assert isinstance(caught.value, ValueError) and isinstance(caught.value, ConfigurationError)
        assert message.startswith(f"connection 'earthdata_test' has conn_type {conn_type!r}, not 'earthdata'")
        assert 'give Airflow\'s JSON form {"conn_type": "earthdata", "login": ...' in message
        assert "or a URI earthdata://LOGIN:PASSWORD@/?edl_url=" in message
        assert hook.test_connection() == (False, message)

    def test_an_earthdata_uri_and_json_without_conn_type_are_read(self, monkeypatch):
        monkeypatch.setenv("AIRFLOW_CONN_EARTHDATA_TEST", "earthdata://me:pw@/?cmr_url=https%3A%2F%2Fcmr.example")
        assert EarthdataHook("earthdata_test").settings.cmr_url == "https://cmr.example"
        monkeypatch.setenv("AIRFLOW_CONN_EARTHDATA_TEST", json.dumps({"login": "me", "password": "pw"}))
        assert EarthdataHook("earthdata_test").identity.login == "me"
