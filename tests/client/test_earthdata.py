"""Earthdata Login sessions against the sandbox: every identity source, where credentials go, EDL's errors."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import aiohttp
import pytest
import requests
import urllib3.exceptions

from airflow_asf_ifg.client.earthdata import (
    AsyncEarthdataSession,
    AuthPolicy,
    EarthdataIdentity,
    EarthdataSession,
    HopRetry,
    hop_retries,
    netrc_login,
    policy_for,
    resolve_identity,
    token_user,
)
from airflow_asf_ifg.client.settings import EarthdataSettings
from airflow_asf_ifg.exceptions import ConfigurationError, EarthdataLoginError, EulaNotAcceptedError, HostNotFoundError
from airflow_asf_ifg.sandbox.config import NO_EULA_PASSWORD, NO_EULA_USER, SANDBOX_PASSWORD, SANDBOX_USER
from airflow_asf_ifg.sandbox.edl import PROFILE_PASSWORD, PROFILE_USER
from tests.client.helpers import closed_port_url

pytestmark = pytest.mark.asf_sandbox(era="2018")  # the 2018 door's EDL redirect chain and TEA's /s3credentials

PASSWORD = EarthdataIdentity(login=SANDBOX_USER, password=SANDBOX_PASSWORD, source="test")


@pytest.fixture(autouse=True)
def _fresh(asf_sandbox):
    asf_sandbox.reset()


@pytest.fixture
def new_token(asf_sandbox):
    """Create EDL user tokens for a user; revoke them afterwards."""
    made: list[tuple[tuple[str, str], str]] = []

    def create(login: str = SANDBOX_USER, password: str = SANDBOX_PASSWORD) -> str:
        response = requests.post(f"{asf_sandbox.urls.edl}/api/users/token", auth=(login, password), timeout=10)
        token = response.json()["access_token"]
        made.append(((login, password), token))
        return token

    yield create
    for auth, token in made:
        requests.post(f"{asf_sandbox.urls.edl}/api/users/revoke_token", params={"token": token}, auth=auth, timeout=10)


def policy(sandbox, identity: EarthdataIdentity) -> AuthPolicy:
    return AuthPolicy(identity, sandbox.urls.edl, [sandbox.urls.cmr, f"{sandbox.urls.asf}/s3credentials"])


def host(url: str) -> str:
    return urlsplit(url).netloc


class TestIdentity:
    def test_connection_login_comes_before_netrc(self, asf_sandbox, netrc_for):
        netrc_for(asf_sandbox, login="from-netrc", password="x")
        identity = resolve_identity(token=None, login="from-conn", password="pw", edl_url=asf_sandbox.urls.edl)
        assert (identity.login, identity.source) == ("from-conn", "connection login")

    def test_token_is_kept_beside_a_netrc_login(self, asf_sandbox, netrc_for):
        path = netrc_for(asf_sandbox)
        identity = resolve_identity(token="t", login=None, password=None, edl_url=asf_sandbox.urls.edl)
        assert identity.token == "t" and identity.login == SANDBOX_USER
        assert identity.source == f"connection token and {path}"

    def test_netrc_is_read_for_the_edl_host_only(self, asf_sandbox, netrc_for):
        netrc_for(asf_sandbox)
        assert netrc_login(urlsplit(asf_sandbox.urls.edl).hostname) == (
            SANDBOX_USER,
            SANDBOX_PASSWORD,
            netrc_login("127.0.0.2")[2],
        )
        assert netrc_login(urlsplit(asf_sandbox.urls.asf).hostname) is None

    def test_nothing_at_all(self, asf_sandbox):
        identity = resolve_identity(token=None, login=None, password=None, edl_url=asf_sandbox.urls.edl)
        assert identity == EarthdataIdentity(source="none") and not identity.can_log_in

    def test_login_without_password_is_refused(self):
        with pytest.raises(EarthdataLoginError, match="has login 'me' but no password"):
            resolve_identity(token=None, login="me", password=None, edl_url="https://urs.earthdata.nasa.gov")

    def test_broken_netrc_names_the_file_and_line(self, tmp_path, monkeypatch):
        path = tmp_path / "netrc"
        path.write_text("machine urs.earthdata.nasa.gov login me password pw\nnonsense here\n")
        monkeypatch.setenv("NETRC", str(path))
        with pytest.raises(EarthdataLoginError, match=f"cannot read {path}.*line"):
            resolve_identity(token=None, login=None, password=None, edl_url="https://urs.earthdata.nasa.gov")

    def test_repr_hides_secrets(self):
        text = repr(EarthdataIdentity(token="tok-secret", login="me", password="pw-secret"))
        assert "tok-secret" not in text and "pw-secret" not in text and "me" in text


class TestAuthPolicy:
    def test_basic_goes_to_the_edl_origin_only(self):
        rules = AuthPolicy(PASSWORD, "https://urs.earthdata.nasa.gov", ["https://cmr.earthdata.nasa.gov"])
        assert rules.authorization("https://urs.earthdata.nasa.gov/oauth/authorize").startswith("Basic ")
        for url in (
            "https://urs.earthdata.nasa.gov:8443/x",
            "http://urs.earthdata.nasa.gov/x",
            "https://grfn.asf.alaska.edu/door/credentials",
            "https://cmr.earthdata.nasa.gov/search",
            "https://grfn-content-prod.s3.amazonaws.com/x.nc?X-Amz-Signature=1",
        ):
            assert rules.authorization(url) is None, url

    def test_bearer_goes_where_it_is_accepted(self):
        identity = EarthdataIdentity(token="tok", source="test")
        rules = AuthPolicy(
            identity,
            "https://urs.earthdata.nasa.gov",
            ["https://cmr.earthdata.nasa.gov", "https://sentinel1.asf.alaska.edu/s3credentials"],
        )
        for url in (
            "https://urs.earthdata.nasa.gov/api/users/me",
            "https://cmr.earthdata.nasa.gov/search/granules",
            "https://sentinel1.asf.alaska.edu/s3credentials",
        ):
            assert rules.authorization(url) == "Bearer tok", url
        for url in (
            "https://sentinel1.asf.alaska.edu/door/download/x.zip",
            "https://d1.cloudfront.net/x.nc",
            "https://grfn.asf.alaska.edu/door/credentials",
        ):
            assert rules.authorization(url) is None, url

    def test_token_user(self, new_token):
        assert token_user(new_token()) == SANDBOX_USER
        with pytest.raises(EarthdataLoginError, match="not a user token"):
            token_user("EDL-legacy-opaque-token")


class TestRedirectChain:
    def test_door_credentials_with_a_password(self, asf_sandbox, stats):
        session = EarthdataSession(policy(asf_sandbox, PASSWORD))
        response = session.get_checked(f"{asf_sandbox.urls.asf}/door/credentials")
        assert response.status_code == 200 and "Credentials" in response.json()
        assert [host(r.url) for r in response.history] == [
            host(asf_sandbox.urls.asf),
            host(asf_sandbox.urls.edl),
            host(asf_sandbox.urls.asf),
        ]
        authorization = stats()["authorization"]
        # The door's own code exchange and profile lookup (mod_auth_urs), server to server.
        assert authorization == {
            "edl_authorize": [host(asf_sandbox.urls.edl)],
            "edl_oauth_token": [host(asf_sandbox.urls.edl)],
            "edl_profile": [host(asf_sandbox.urls.edl)],
        }

    def test_cookie_keeps_the_session(self, asf_sandbox, stats):
        session = EarthdataSession(policy(asf_sandbox, PASSWORD))
        for _ in range(3):
            session.get_checked(f"{asf_sandbox.urls.asf}/door/credentials")
        assert stats()["requests"]["edl_authorize"] == 1

    def test_netrc_identity_through_door_download_and_s3(self, asf_sandbox, netrc_for, stats):
        netrc_for(asf_sandbox)
        identity = resolve_identity(token=None, login=None, password=None, edl_url=asf_sandbox.urls.edl)
        session = EarthdataSession(policy(asf_sandbox, identity))
        product = next(
            f for g in asf_sandbox.catalogue_document() for f in g["files"] if f["role"] == "data" and not f["archived"]
        )
        response = session.get_checked(product["url"])
        assert response.status_code == 200 and len(response.content) == product["size"]
        assert host(response.url) == host(asf_sandbox.urls.s3)
        # Nothing to the door or S3: only EDL's, and the door's own calls to EDL.
        assert set(stats()["authorization"]) == {"edl_authorize", "edl_oauth_token", "edl_profile"}

    @pytest.mark.asf_sandbox(tea=True)  # TEA's /s3credentials is on the door only with TEA direct access
    def test_tea_with_a_bearer_token_only(self, asf_sandbox, new_token, stats):
        session = EarthdataSession(policy(asf_sandbox, EarthdataIdentity(token=new_token(), source="test")))
        response = session.get_checked(f"{asf_sandbox.urls.asf}/s3credentials")
        assert list(response.json()) == ["accessKeyId", "secretAccessKey", "sessionToken", "expiration"]
        snapshot = stats()
        assert snapshot["authorization"]["s3credentials"] == [host(asf_sandbox.urls.asf)]
        assert "edl_authorize" not in snapshot["requests"]

    def test_token_alone_cannot_open_the_door(self, asf_sandbox, new_token, stats):
        session = EarthdataSession(policy(asf_sandbox, EarthdataIdentity(token=new_token(), source="test")))
        with pytest.raises(EarthdataLoginError, match="cannot use a token"):
            session.get_checked(f"{asf_sandbox.urls.asf}/door/credentials")
        assert "credentials" not in stats()["authorization"]  # no bearer to the door

    def test_cmr_receives_the_bearer(self, asf_sandbox, new_token, stats):
        session = EarthdataSession(policy(asf_sandbox, EarthdataIdentity(token=new_token(), source="test")))
        session.get(f"{asf_sandbox.urls.cmr}/search/granules.json", params={"provider": "ASF"})
        assert stats()["authorization"]["cmr_granules"] == [host(asf_sandbox.urls.cmr)]


class TestLoginErrors:
    def test_wrong_password_is_not_retried(self, asf_sandbox, stats):
        wrong = EarthdataIdentity(login=SANDBOX_USER, password="wrong", source="connection login")
        session = EarthdataSession(policy(asf_sandbox, wrong))
        with pytest.raises(EarthdataLoginError, match=r"wrong username or password\. Not retried"):
            session.get_checked(f"{asf_sandbox.urls.asf}/door/credentials")
        assert stats()["requests"]["edl_authorize"] == 1

    def test_no_credentials(self, asf_sandbox):
        session = EarthdataSession(policy(asf_sandbox, EarthdataIdentity()))
        with pytest.raises(EarthdataLoginError, match="no Earthdata Login credentials"):
            session.get_checked(f"{asf_sandbox.urls.asf}/door/credentials")

    def test_eula_with_a_password_gives_the_resolution_url(self, asf_sandbox):
        identity = EarthdataIdentity(login=NO_EULA_USER, password=NO_EULA_PASSWORD, source="test")
        session = EarthdataSession(policy(asf_sandbox, identity))
        with pytest.raises(EulaNotAcceptedError) as caught:
            session.get_checked(f"{asf_sandbox.urls.asf}/door/credentials")
        assert caught.value.resolution_url.startswith(f"{asf_sandbox.urls.edl}/approve_app?client_id=")
        assert caught.value.resolution_url in str(caught.value)

    @pytest.mark.asf_sandbox(tea=True)  # TEA's /s3credentials is on the door only with TEA direct access
    def test_eula_with_a_token_through_tea(self, asf_sandbox, new_token):
        token = new_token(NO_EULA_USER, NO_EULA_PASSWORD)
        session = EarthdataSession(policy(asf_sandbox, EarthdataIdentity(token=token, source="test")))
        with pytest.raises(EulaNotAcceptedError, match="EULA Acceptance Failure"):
            session.get_checked(f"{asf_sandbox.urls.asf}/s3credentials")

    def test_error_msg_on_the_final_url_is_shown(self, asf_sandbox):
        identity = EarthdataIdentity(login=PROFILE_USER, password=PROFILE_PASSWORD, source="test")
        session = EarthdataSession(policy(asf_sandbox, identity))
        with pytest.raises(EarthdataLoginError, match="Please update your profile; fix it at") as caught:
            session.get_checked(f"{asf_sandbox.urls.asf}/door/credentials")
        assert caught.value.resolution_url == f"{asf_sandbox.urls.edl}/profile"

    @pytest.mark.asf_sandbox(tea=True)  # TEA's /s3credentials is on the door only with TEA direct access
    def test_revoked_token_is_refused(self, asf_sandbox, new_token):
        token = new_token()
        requests.post(
            f"{asf_sandbox.urls.edl}/api/users/revoke_token",
            params={"token": token},
            auth=(SANDBOX_USER, SANDBOX_PASSWORD),
            timeout=10,
        )
        session = EarthdataSession(policy(asf_sandbox, EarthdataIdentity(token=token, source="test")))
        with pytest.raises(EarthdataLoginError, match="refused the EDL token"):
            session.get_checked(f"{asf_sandbox.urls.asf}/s3credentials")


class TestAsyncSession:
    async def test_door_credentials_with_a_password(self, asf_sandbox, stats):
        async with AsyncEarthdataSession(policy(asf_sandbox, PASSWORD)) as session:
            first = await session.fetch("GET", f"{asf_sandbox.urls.asf}/door/credentials")
            second = await session.fetch("GET", f"{asf_sandbox.urls.asf}/door/credentials")
        assert first.status == 200 and "Credentials" in first.json()
        assert len(first.history) == 3 and second.history == []  # the cookie was kept (an IP host, too)
        snapshot = stats()
        assert snapshot["authorization"]["edl_authorize"] == [host(asf_sandbox.urls.edl)]
        assert "credentials" not in snapshot["authorization"] and "asf_login" not in snapshot["authorization"]

    async def test_wrong_password(self, asf_sandbox):
        wrong = EarthdataIdentity(login=SANDBOX_USER, password="wrong", source="test")
        async with AsyncEarthdataSession(policy(asf_sandbox, wrong)) as session:
            with pytest.raises(EarthdataLoginError, match="wrong username or password"):
                await session.fetch("GET", f"{asf_sandbox.urls.asf}/door/status/x.zip")

    @pytest.mark.asf_sandbox(tea=True)  # TEA's /s3credentials is on the door only with TEA direct access
    async def test_tea_with_a_token(self, asf_sandbox, new_token):
        identity = EarthdataIdentity(token=new_token(), source="test")
        async with AsyncEarthdataSession(policy(asf_sandbox, identity)) as session:
            response = await session.fetch("GET", f"{asf_sandbox.urls.asf}/s3credentials")
        assert response.status == 200 and "sessionToken" in response.json()

    async def test_eula(self, asf_sandbox):
        identity = EarthdataIdentity(login=NO_EULA_USER, password=NO_EULA_PASSWORD, source="test")
        async with AsyncEarthdataSession(policy(asf_sandbox, identity)) as session:
            with pytest.raises(EulaNotAcceptedError):
                await session.fetch("GET", f"{asf_sandbox.urls.asf}/door/credentials")


class TestHostNotFound:
    """A host that does not resolve (RFC 6761: .invalid never does) fails at once, naming the setting."""

    SETTINGS = EarthdataSettings(edl_url="http://urs.invalid", cmr_url="http://cmr.invalid")

    def test_sync_names_the_host_and_setting(self):
        session = EarthdataSession(policy_for(PASSWORD, self.SETTINGS))
        with pytest.raises(HostNotFoundError) as caught:
            session.get_checked("http://urs.invalid/api/users/tokens")
        assert isinstance(caught.value, ConfigurationError) and caught.value.host == "urs.invalid"
        assert "host 'urs.invalid' does not resolve" in str(caught.value)
        assert "check edl_url in the earthdata connection" in str(caught.value)

    async def test_async_names_the_host_and_setting(self):
        async with AsyncEarthdataSession(policy_for(PASSWORD, self.SETTINGS)) as session:
            with pytest.raises(HostNotFoundError, match="check cmr_url in the earthdata connection") as caught:
                await session.fetch("GET", "http://cmr.invalid/search/collections.json")
        assert caught.value.host == "cmr.invalid"

    async def test_async_refused_connection_stays_a_connection_error(self):
        async with AsyncEarthdataSession(policy_for(PASSWORD, self.SETTINGS)) as session:
            with pytest.raises(aiohttp.ClientConnectorError) as caught:
                await session.fetch("GET", closed_port_url())
        assert not isinstance(caught.value, ConfigurationError)

    def test_sync_refused_connection_stays_a_connection_error(self):
        with pytest.raises(requests.ConnectionError):
            EarthdataSession(policy_for(PASSWORD, self.SETTINGS)).get(closed_port_url())

    @pytest.mark.parametrize(
        ("errno", "permanent"),
        [(socket.EAI_NONAME, True), (socket.EAI_AGAIN, False)],
        ids=["name-unknown", "resolver-busy"],
    )
    def test_only_an_unknown_name_is_final(self, errno, permanent):
        from airflow_asf_ifg.client.earthdata import host_not_found

        failure = socket.gaierror(errno, "lookup failed")
        assert (host_not_found(failure, "https://cmr.example.org/search") is not None) is permanent


class TestHopRetries:
    """A hop answering 429 or 5xx is asked again, except an OAuth callback: its code is for one use."""

    def test_a_hop_is_asked_again_twice(self):
        retry = hop_retries()
        once = retry.increment("GET", "https://door.example/download/x.nc", _pool=None)
        twice = once.increment("GET", "https://door.example/download/x.nc", _pool=None)
        with pytest.raises(urllib3.exceptions.MaxRetryError):
            twice.increment("GET", "https://door.example/download/x.nc", _pool=None)
        assert 503 in retry.status_forcelist and 401 not in retry.status_forcelist  # a refusal is not retried

    @pytest.mark.parametrize(
        "url", ["https://auth.example/login?code=abc&state=x", "https://door.example/door/oauth?state=e&code=abc"]
    )
    def test_an_oauth_callback_is_never_sent_twice(self, url):
        with pytest.raises(urllib3.exceptions.MaxRetryError, match="not sent twice"):
            hop_retries().increment("GET", url, _pool=None)

    def test_the_session_uses_them_on_both_schemes(self):
        session = EarthdataSession(AuthPolicy(EarthdataIdentity(), "https://urs.example"))
        for scheme in ("http://", "https://"):
            assert isinstance(session.get_adapter(f"{scheme}door.example").max_retries, HopRetry)
