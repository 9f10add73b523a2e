"""Temporary credentials: both shapes, bad shapes, fetching from the sandbox's door and TEA, S3's refusals."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime

import boto3
import botocore.exceptions
import pytest
import requests
import requests.adapters

from airflow_asf_ifg.client.credentials import (
    TemporaryCredentials,
    afetch_credentials,
    arefreshable_credentials,
    explain_s3_error,
    fetch_credentials,
    parse_expiration,
    refresh_margin,
    refreshable_credentials,
)
from airflow_asf_ifg.client.earthdata import (
    AsyncEarthdataSession,
    AuthPolicy,
    EarthdataIdentity,
    EarthdataSession,
    hop_retries,
    policy_for,
)
from airflow_asf_ifg.client.retry import RetryPolicy
from airflow_asf_ifg.client.settings import EarthdataSettings
from airflow_asf_ifg.exceptions import (
    AsfCredentialsError,
    ConfigurationError,
    CredentialsRetiredError,
    CredentialsUnavailableError,
    EarthdataLoginError,
    EulaNotAcceptedError,
    HostNotFoundError,
)
from airflow_asf_ifg.sandbox.config import (
    NO_EULA_PASSWORD,
    NO_EULA_USER,
    PRODUCT_BUCKET,
    SANDBOX_PASSWORD,
    SANDBOX_USER,
)

pytestmark = pytest.mark.asf_sandbox(era="2018")  # the 2018 door's /door/credentials and S3 keys for its buckets

DOOR = {
    "Credentials": {
        "AccessKeyId": "ASIAEXAMPLE",
        "SecretAccessKey": "door-secret-value",
        "SessionToken": "door-token-value",
        "Expiration": "2018-10-31 21:44:59+00:00",
    },
    "PolicyDocument": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::grfn-content-prod"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::grfn-content-prod/*"},
        ],
    },
}
TEA = {
    "accessKeyId": "ASIATEA",
    "secretAccessKey": "tea-secret-value",
    "sessionToken": "tea-token-value",
    "expiration": "2021-01-27 00:50:09+00:00",
}


def session_for(
    sandbox, login=SANDBOX_USER, password=SANDBOX_PASSWORD, token=None, hop_retries: bool = True
) -> EarthdataSession:
    """A session for the sandbox's user; ``hop_retries=False`` leaves each try of the fetch's own policy one request."""
    identity = EarthdataIdentity(token=token, login=login, password=password, source="test")
    session = EarthdataSession(
        AuthPolicy(identity, sandbox.urls.edl, [sandbox.urls.cmr, f"{sandbox.urls.asf}/s3credentials"])
    )
    if not hop_retries:
        for scheme in ("http://", "https://"):
            session.mount(scheme, requests.adapters.HTTPAdapter())
    return session


class TestShapes:
    def test_door_shape_with_policy_document(self):
        credentials = TemporaryCredentials.parse(DOOR, "https://grfn.asf.alaska.edu/door/credentials")
        assert credentials.access_key_id == "ASIAEXAMPLE"
        assert credentials.secret_access_key == "door-secret-value"
        assert credentials.session_token == "door-token-value"
        assert credentials.expiration == datetime(2018, 10, 31, 21, 44, 59, tzinfo=UTC)
        assert credentials.buckets == ("grfn-content-prod",)
        assert credentials.endpoint == "https://grfn.asf.alaska.edu/door/credentials"

    def test_tea_shape(self):
        credentials = TemporaryCredentials.parse(TEA)
        assert (credentials.access_key_id, credentials.secret_access_key, credentials.session_token) == (
            "ASIATEA",
            "tea-secret-value",
            "tea-token-value",
        )
        assert credentials.expiration == datetime(2021, 1, 27, 0, 50, 9, tzinfo=UTC)
        assert credentials.buckets == ()

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2021-01-27 00:50:09+00:00", datetime(2021, 1, 27, 0, 50, 9, tzinfo=UTC)),
            ("2021-01-27T00:50:09Z", datetime(2021, 1, 27, 0, 50, 9, tzinfo=UTC)),
            ("2021-01-27T02:50:09+02:00", datetime(2021, 1, 27, 0, 50, 9, tzinfo=UTC)),
            ("2021-01-27T00:50:09.123456", datetime(2021, 1, 27, 0, 50, 9, 123456, tzinfo=UTC)),
        ],
    )
    def test_expiration_formats(self, text, expected):
        assert parse_expiration(text) == expected

    def test_repr_hides_the_secrets(self):
        text = repr(TemporaryCredentials.parse(DOOR))
        assert "ASIAEXAMPLE" in text and "door-secret-value" not in text and "door-token-value" not in text

    @pytest.mark.parametrize(
        ("document", "message"),
        [
            pytest.param(
                {"Credentials": {"AccessKeyId": "A", "SecretAccessKey": "s3cr3t"}},
                "lack ['SessionToken', 'Expiration']",
                id="door-missing",
            ),
            pytest.param(
                {"accessKeyId": "A", "sessionToken": "t0k3n", "expiration": "2021-01-01 00:00:00+00:00"},
                "lack ['secretAccessKey']",
                id="tea-missing",
            ),
            pytest.param(
                {"error": "nope"},
                "lack ['accessKeyId', 'secretAccessKey', 'sessionToken', 'expiration']",
                id="unrelated",
            ),
            pytest.param(["not", "a", "dict"], "are not a JSON object but list", id="list"),
            pytest.param({**TEA, "expiration": "soon"}, "expiration 'soon' is not a date and time", id="bad-time"),
        ],
    )
    def test_bad_shapes_name_the_fields_not_the_values(self, document, message):
        with pytest.raises(AsfCredentialsError) as caught:
            TemporaryCredentials.parse(document)
        assert message in str(caught.value)
        for secret in ("s3cr3t", "t0k3n", "tea-secret-value", "tea-token-value"):
            assert secret not in str(caught.value)

    def test_refresh_margin(self):
        assert refresh_margin(3600) == 300
        assert refresh_margin(5) == 1.0
        assert refresh_margin(3600, margin_seconds=60) == 60


class TestFetch:
    def test_from_the_door(self, asf_sandbox):
        credentials = fetch_credentials(session_for(asf_sandbox), f"{asf_sandbox.urls.asf}/door/credentials")
        assert credentials.buckets == (PRODUCT_BUCKET,)
        assert 3000 < credentials.remaining_seconds() <= 3600

    @pytest.mark.asf_sandbox(tea=True)  # TEA's /s3credentials is on the door only with TEA direct access
    def test_from_tea_with_a_token(self, asf_sandbox):
        edl, auth = asf_sandbox.urls.edl, (SANDBOX_USER, SANDBOX_PASSWORD)
        token = requests.post(f"{edl}/api/users/token", auth=auth, timeout=10).json()["access_token"]
        try:
            credentials = fetch_credentials(
                session_for(asf_sandbox, None, None, token), f"{asf_sandbox.urls.asf}/s3credentials", app_name="tests"
            )
        finally:
            requests.post(f"{edl}/api/users/revoke_token", params={"token": token}, auth=auth, timeout=10)
        assert credentials.access_key_id.startswith("ASIA") and credentials.buckets == ()

    def test_retired_endpoint_names_the_current_one(self, asf_sandbox, asf_sandbox_settings):
        asf_sandbox_settings(credentials_gone=True)
        with pytest.raises(CredentialsRetiredError, match="answered 410 Gone: ASF retired this endpoint") as caught:
            fetch_credentials(session_for(asf_sandbox), f"{asf_sandbox.urls.asf}/door/credentials")
        assert "/s3credentials" in str(caught.value) and caught.value.status == 410

    def test_wrong_password(self, asf_sandbox):
        with pytest.raises(EarthdataLoginError, match="wrong username or password"):
            fetch_credentials(session_for(asf_sandbox, password="wrong"), f"{asf_sandbox.urls.asf}/door/credentials")

    @pytest.mark.asf_sandbox(tea=True)  # TEA's /s3credentials is on the door only with TEA direct access
    def test_eula(self, asf_sandbox):
        with pytest.raises(EulaNotAcceptedError, match="approve_app"):
            fetch_credentials(
                session_for(asf_sandbox, NO_EULA_USER, NO_EULA_PASSWORD), f"{asf_sandbox.urls.asf}/s3credentials"
            )

    def test_not_json(self, asf_sandbox):
        browse = next(f["url"] for g in asf_sandbox.catalogue_document() for f in g["files"] if f["role"] == "browse")
        with pytest.raises(AsfCredentialsError, match="answered 200 but not JSON"):
            fetch_credentials(session_for(asf_sandbox), browse)


class TestHostNotFound:
    """An endpoint whose host does not resolve (RFC 6761 .invalid) fails at once, naming the setting."""

    ENDPOINT = "https://tea.invalid/s3credentials"
    SETTINGS = EarthdataSettings(s3_credentials_url=ENDPOINT)

    def test_fetch(self):
        session = EarthdataSession(policy_for(EarthdataIdentity(login="u", password="p"), self.SETTINGS))
        with pytest.raises(HostNotFoundError, match="check s3_credentials_url in the earthdata connection") as caught:
            fetch_credentials(session, self.ENDPOINT)
        assert isinstance(caught.value, ConfigurationError) and caught.value.host == "tea.invalid"

    async def test_afetch(self):
        policy = policy_for(EarthdataIdentity(login="u", password="p"), self.SETTINGS)
        async with AsyncEarthdataSession(policy) as session:
            with pytest.raises(HostNotFoundError, match=r"host 'tea\.invalid' does not resolve"):
                await afetch_credentials(session, self.ENDPOINT)


class TestS3Refusals:
    @pytest.mark.asf_sandbox(tea=True)  # TEA's /s3credentials is on the door only with TEA direct access
    def test_outside_the_region_is_explained(self, asf_sandbox):
        credentials = fetch_credentials(session_for(asf_sandbox), f"{asf_sandbox.urls.asf}/s3credentials")
        s3 = boto3.client(
            "s3",
            endpoint_url=asf_sandbox.urls.s3,
            region_name="eu-central-1",
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
        )
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            s3.list_objects_v2(Bucket=PRODUCT_BUCKET)
        explained = explain_s3_error(caught.value, "us-west-2", PRODUCT_BUCKET)
        assert isinstance(explained, AsfCredentialsError)
        assert "in-region only" in str(explained) and "us-west-2" in str(explained)

    def test_expired_keys_are_explained(self, asf_sandbox, asf_sandbox_settings):
        asf_sandbox_settings(credential_ttl=1)
        credentials = fetch_credentials(session_for(asf_sandbox), f"{asf_sandbox.urls.asf}/door/credentials")
        s3 = boto3.client(
            "s3",
            endpoint_url=asf_sandbox.urls.s3,
            region_name="us-east-1",
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
        )
        while credentials.remaining_seconds() > -0.2:  # the condition: the keys' own expiry
            time.sleep(0.1)
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            s3.list_objects_v2(Bucket=PRODUCT_BUCKET)
        assert caught.value.response["Error"]["Code"] == "ExpiredToken"
        assert "expired (ExpiredToken)" in str(explain_s3_error(caught.value, None, PRODUCT_BUCKET))


class TestRefreshable:
    def test_a_failed_fetch_is_not_cached(self, asf_sandbox, asf_sandbox_settings, stats):
        asf_sandbox_settings(credential_ttl=2)
        session = session_for(asf_sandbox)
        url = f"{asf_sandbox.urls.asf}/door/credentials"
        credentials = refreshable_credentials(lambda: fetch_credentials(session, url))
        first = credentials.get_frozen_credentials().access_key
        asf_sandbox_settings(credentials_gone=True)

        def until_refused() -> None:  # the failure surfaces once the mandatory window is reached
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                credentials.get_frozen_credentials()
                time.sleep(0.1)

        with pytest.raises(CredentialsRetiredError):
            until_refused()
        asf_sandbox_settings(credentials_gone=False)
        assert credentials.get_frozen_credentials().access_key != first  # the next access fetched again


#: More tries than the default, so that a test at a high fault rate cannot run out of them by chance.
PATIENT = RetryPolicy(attempts=12)
FAULTS = [
    pytest.param({"fault_rate": 0.4}, "fault_error", id="5xx"),
    pytest.param({"throttle_rate": 0.4}, "fault_throttle", id="429"),
    pytest.param({"reset_rate": 0.4}, "fault_reset", id="reset"),
]


def wait_for(condition, seconds: float = 15.0) -> None:
    """Wait until ``condition()`` holds, polling, or fail at the deadline."""
    deadline = time.monotonic() + seconds
    waiter = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        waiter.wait(0.02)


def fault_count(stats, event: str) -> int:
    return stats()["events"].get(event, 0)


class TestFetchRetries:
    """A busy or failing credentials endpoint (or EDL on the way) is asked again; a refusal is not."""

    @pytest.mark.parametrize(("faults", "event"), FAULTS)
    def test_faults_are_asked_again(self, asf_sandbox, asf_sandbox_settings, stats, faults, event):
        url = f"{asf_sandbox.urls.asf}/door/credentials"
        session = session_for(asf_sandbox, hop_retries=False)  # each try one request: the policy's waits show
        fetch_credentials(session, url)  # logged in first: each later try is one request, faulty or not
        before, issued = fault_count(stats, event), fault_count(stats, "credentials_issued")
        resets = fault_count(stats, "fault_reset")
        asf_sandbox_settings(**faults)
        delays: list[float] = []
        fetched = 0
        while fault_count(stats, event) == before:  # until a fault was met (the draws are seeded)
            assert fetched < 30, f"no {event} in 30 fetches at {faults}"
            credentials = fetch_credentials(session, url, retry=PATIENT, sleep=delays.append)
            assert credentials.buckets == (PRODUCT_BUCKET,)
            fetched += 1
        assert delays, "a fault was met, so a fetch waited and asked again"
        # Each fetch got one set of keys, and a set was lost to each body cut off mid-way.
        assert fault_count(stats, "credentials_issued") - issued == fetched + fault_count(stats, "fault_reset") - resets
        if event == "fault_throttle":
            assert 1.0 in delays  # the sandbox's Retry-After: 1

    @pytest.mark.parametrize(("faults", "event"), FAULTS)
    async def test_async_faults_are_asked_again(self, asf_sandbox, asf_sandbox_settings, stats, faults, event):
        url = f"{asf_sandbox.urls.asf}/door/credentials"
        delays: list[float] = []

        async def record(seconds: float) -> None:
            delays.append(seconds)

        fetched = 0
        async with AsyncEarthdataSession(session_for(asf_sandbox).policy) as session:
            await afetch_credentials(session, url)  # logged in first
            before, issued = fault_count(stats, event), fault_count(stats, "credentials_issued")
            resets = fault_count(stats, "fault_reset")
            asf_sandbox_settings(**faults)
            while fault_count(stats, event) == before:
                assert fetched < 30, f"no {event} in 30 fetches at {faults}"
                credentials = await afetch_credentials(session, url, retry=PATIENT, sleep=record)
                assert credentials.buckets == (PRODUCT_BUCKET,)
                fetched += 1
        assert delays
        # Each fetch got one set of keys, and a set was lost to each body cut off mid-way.
        assert fault_count(stats, "credentials_issued") - issued == fetched + fault_count(stats, "fault_reset") - resets

    def test_gives_up_after_the_policy_s_tries(self, asf_sandbox, asf_sandbox_settings, stats):
        session = session_for(asf_sandbox)
        url = f"{asf_sandbox.urls.asf}/door/credentials"
        fetch_credentials(session, url)  # logged in: each later try is one hop
        asf_sandbox_settings(fault_rate=1.0)
        before = fault_count(stats, "fault_error")
        delays: list[float] = []
        with pytest.raises(CredentialsUnavailableError, match="kept failing after 3 tries") as caught:
            fetch_credentials(session, url, retry=RetryPolicy(attempts=3), sleep=delays.append)
        assert not caught.value.permanent
        asked_per_try = 1 + hop_retries().status  # the hop is asked again before the try counts as failed
        assert fault_count(stats, "fault_error") - before == 3 * asked_per_try and len(delays) == 2

    def test_a_failing_hop_is_asked_again_before_the_policy_waits(self, asf_sandbox, asf_sandbox_settings, stats):
        session = session_for(asf_sandbox)
        url = f"{asf_sandbox.urls.asf}/door/credentials"
        fetch_credentials(session, url)  # logged in: the fetch is one hop
        asf_sandbox_settings(fault_rate=0.5)
        asked, fetched, delays = stats()["requests"]["credentials"], 0, []
        while stats()["requests"]["credentials"] - asked == fetched:  # until some hop needed a second ask
            assert fetched < 30, "no fault in 30 fetches at fault_rate 0.5"
            fetch_credentials(session, url, retry=RetryPolicy(attempts=3), sleep=delays.append)
            fetched += 1
        # Some hop was asked again without a wait of the policy's (each of those starts one more try).
        assert stats()["requests"]["credentials"] - asked > fetched + len(delays)

    @pytest.mark.parametrize("kind", ["retired", "wrong-password"])
    def test_refusals_are_asked_once(self, asf_sandbox, asf_sandbox_settings, stats, kind):
        url = f"{asf_sandbox.urls.asf}/door/credentials"
        session = session_for(asf_sandbox, password="wrong" if kind == "wrong-password" else SANDBOX_PASSWORD)
        if kind == "retired":
            fetch_credentials(session, url)  # logged in first: the 410 is then one request
            asf_sandbox_settings(credentials_gone=True)
        before = stats()["requests"].get("credentials", 0)
        delays: list[float] = []
        with pytest.raises((CredentialsRetiredError, EarthdataLoginError)) as caught:
            fetch_credentials(session, url, sleep=delays.append)
        assert caught.value.permanent
        assert delays == [] and stats()["requests"].get("credentials", 0) - before == 1

    @pytest.mark.asf_sandbox(tea=True)  # TEA's /s3credentials is on the door only with TEA direct access
    def test_eula_is_asked_once(self, asf_sandbox, stats):
        delays: list[float] = []
        with pytest.raises(EulaNotAcceptedError):
            fetch_credentials(
                session_for(asf_sandbox, NO_EULA_USER, NO_EULA_PASSWORD),
                f"{asf_sandbox.urls.asf}/s3credentials",
                sleep=delays.append,
            )
        assert delays == []


class TestRefreshKeepsValidKeys:
    """A refresh that fails while the keys still work keeps them; once they have expired it raises."""

    TTL = 5.0

    def test_sync(self, asf_sandbox, asf_sandbox_settings, stats):
        asf_sandbox_settings(credential_ttl=self.TTL)
        session = session_for(asf_sandbox, hop_retries=False)  # a refresh fails at once, well inside the lifetime
        url = f"{asf_sandbox.urls.asf}/door/credentials"
        fetches: list[TemporaryCredentials] = []

        def fetch() -> TemporaryCredentials:
            fetches.append(fetch_credentials(session, url, retry=RetryPolicy(attempts=2), sleep=lambda s: None))
            return fetches[-1]

        credentials = refreshable_credentials(fetch)
        first = credentials.get_frozen_credentials().access_key
        asf_sandbox_settings(fault_rate=1.0)
        before = fault_count(stats, "fault_error")
        mandatory = refresh_margin(self.TTL) / 2
        wait_for(lambda: fetches[0].remaining_seconds() < mandatory * 0.8)  # inside botocore's mandatory window
        assert credentials.get_frozen_credentials().access_key == first  # refresh failed, keys kept
        assert fault_count(stats, "fault_error") > before  # a refresh was tried
        wait_for(lambda: fetches[0].remaining_seconds() <= 0)
        with pytest.raises(CredentialsUnavailableError):
            credentials.get_frozen_credentials()
        asf_sandbox_settings(fault_rate=0.0)
        assert credentials.get_frozen_credentials().access_key != first

    async def test_async(self, asf_sandbox, asf_sandbox_settings, stats):
        asf_sandbox_settings(credential_ttl=self.TTL)
        url = f"{asf_sandbox.urls.asf}/door/credentials"
        fetches: list[TemporaryCredentials] = []

        async def no_wait(seconds: float) -> None:
            return None

        async with AsyncEarthdataSession(session_for(asf_sandbox).policy) as session:

            async def fetch() -> TemporaryCredentials:
                fetches.append(await afetch_credentials(session, url, retry=RetryPolicy(attempts=2), sleep=no_wait))
                return fetches[-1]

            credentials = await arefreshable_credentials(fetch)
            first = (await credentials.get_frozen_credentials()).access_key
            asf_sandbox_settings(fault_rate=1.0)
            before = fault_count(stats, "fault_error")
            mandatory = refresh_margin(self.TTL) / 2
            while fetches[0].remaining_seconds() >= mandatory * 0.8:
                await asyncio.sleep(0.02)  # the condition: the keys' own expiry
            assert (await credentials.get_frozen_credentials()).access_key == first
            assert fault_count(stats, "fault_error") > before
            while fetches[0].remaining_seconds() > 0:
                await asyncio.sleep(0.02)
            with pytest.raises(CredentialsUnavailableError):
                await credentials.get_frozen_credentials()
