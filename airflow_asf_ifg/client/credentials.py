"""ASF's temporary S3 credentials: both response shapes, fetching them, and sessions that refresh them.

Shapes (``asf_cmr_edl.md`` sections 1.4 and 2): the 2018 door's STS document ``{"Credentials":
{AccessKeyId, SecretAccessKey, SessionToken, Expiration}, "PolicyDocument": ...}`` and TEA's
``{accessKeyId, secretAccessKey, sessionToken, expiration}``; both last one hour and cannot be
extended, so long work refreshes them the botocore way (``RefreshableCredentials``) before they expire.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import boto3
import botocore.session
import requests
from botocore.credentials import RefreshableCredentials

from airflow_asf_ifg.client.earthdata import AsyncEarthdataSession, EarthdataSession, FetchedResponse
from airflow_asf_ifg.client.retry import RETRYABLE_STATUSES, RetryPolicy
from airflow_asf_ifg.client.s3 import error_code, error_status
from airflow_asf_ifg.client.settings import EarthdataSettings
from airflow_asf_ifg.exceptions import AsfCredentialsError, CredentialsRetiredError, CredentialsUnavailableError

__all__ = [
    "DEFAULT_MARGIN_SECONDS",
    "EARTHDATA_CLOUD_REGION",
    "GRFN_REGION",
    "SHORT_LIFETIME_FRACTION",
    "TemporaryCredentials",
    "afetch_credentials",
    "aiobotocore_session",
    "arefreshable_credentials",
    "boto3_session",
    "endpoint_host",
    "explain_s3_error",
    "fetch_credentials",
    "gdal_endpoint_options",
    "gdal_options",
    "parse_expiration",
    "refresh_margin",
    "refreshable_credentials",
    "region_for",
    "shell_exports",
]

#: Refresh this long before expiry (botocore's own advisory window is 15 minutes of a 1 h lifetime).
DEFAULT_MARGIN_SECONDS = 300.0
#: For short lifetimes, refresh when this share of the lifetime is left.
SHORT_LIFETIME_FRACTION = 0.2
#: TEA's keys are valid in NASA Earthdata Cloud's region only (TEA DownloadRoleInRegion).
EARTHDATA_CLOUD_REGION = "us-west-2"
#: The 2018 GRFN buckets were in us-east-1 (asf_cmr_edl.md section 1.1).
GRFN_REGION = "us-east-1"
_DOOR_FIELDS = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
_TEA_FIELDS = ("accessKeyId", "secretAccessKey", "sessionToken", "expiration")
_BUCKET_ARN = re.compile(r"^arn:aws:s3:::([^/*]+)")
#: Answers worth asking again: the endpoint (or EDL on the way) is busy or failed for now.
#: Failures worth asking again: the connection dropped, timed out, or the body was cut off mid-way.
_RETRY_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_ARETRY_ERRORS = (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, asyncio.TimeoutError)
log = logging.getLogger(__name__)


def parse_expiration(value: Any) -> datetime:
    """An expiration as ASF writes it (``2018-10-31 21:44:59+00:00``) or in ISO 8601, as aware UTC.

    :param value: the expiration text.
    """
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise AsfCredentialsError(
            f"the credentials' expiration {value!r} is not a date and time "
            f"(expected 'YYYY-MM-DD HH:MM:SS+00:00' or ISO 8601)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def refresh_margin(lifetime_seconds: float, margin_seconds: float = DEFAULT_MARGIN_SECONDS) -> float:
    """Seconds before expiry to refresh: the margin, or a fifth of a lifetime shorter than five margins.

    :param lifetime_seconds: how long the credentials were valid when fetched.
    :param margin_seconds: the wanted margin.
    """
    return max(0.1, min(margin_seconds, lifetime_seconds * SHORT_LIFETIME_FRACTION))


@dataclass(frozen=True)
class TemporaryCredentials:
    """Temporary S3 keys from ASF; ``repr`` hides the secrets.

    :param access_key_id: the key id.
    :param secret_access_key: the secret key.
    :param session_token: the session token S3 requires with them.
    :param expiration: when they stop working (aware UTC).
    :param buckets: buckets the PolicyDocument lets them read (empty when it was not sent).
    :param endpoint: where they came from.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime
    buckets: tuple[str, ...] = ()
    endpoint: str | None = None

    @classmethod
    def parse(cls, document: Any, endpoint: str | None = None) -> TemporaryCredentials:
        """Read the 2018 door's STS shape or TEA's camelCase shape.

        :param document: the JSON response.
        :param endpoint: where it came from, for messages.
        """
        where = f" from {endpoint}" if endpoint else ""
        if not isinstance(document, dict):
            raise AsfCredentialsError(f"the credentials{where} are not a JSON object but {type(document).__name__}")
        if "Credentials" in document:
            body = document["Credentials"] if isinstance(document["Credentials"], dict) else {}
            names = _DOOR_FIELDS
        else:
            body, names = document, _TEA_FIELDS
        missing = [name for name in names if not body.get(name)]
        if missing:
            # Field names only: the values may be secrets.
            raise AsfCredentialsError(
                f"the credentials{where} lack {missing}; got fields {sorted(body)}. Expected the door's "
                f"{{'Credentials': {{{', '.join(_DOOR_FIELDS)}}}}} or TEA's {{{', '.join(_TEA_FIELDS)}}}"
            )
        return cls(
            access_key_id=str(body[names[0]]),
            secret_access_key=str(body[names[1]]),
            session_token=str(body[names[2]]),
            expiration=parse_expiration(body[names[3]]),
            buckets=_policy_buckets(document.get("PolicyDocument")),
            endpoint=endpoint,
        )

    def remaining_seconds(self, now: datetime | None = None) -> float:
        """Seconds until expiry.

        :param now: the current time (default: now).
        """
        return (self.expiration - (now or datetime.now(UTC))).total_seconds()

    def botocore_metadata(self) -> dict[str, str]:
        """The dict botocore's RefreshableCredentials reads."""
        return {
            "access_key": self.access_key_id,
            "secret_key": self.secret_access_key,
            "token": self.session_token,
            "expiry_time": self.expiration.isoformat(),
        }

    def environment(self, region_name: str | None = None) -> dict[str, str]:
        """``AWS_*`` variables for the AWS CLI, boto3 and GDAL.

        :param region_name: region to sign for.
        """
        variables = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }
        if region_name:
            variables.update(AWS_REGION=region_name, AWS_DEFAULT_REGION=region_name)
        return variables


def _policy_buckets(policy: Any) -> tuple[str, ...]:
    if not isinstance(policy, dict):
        return ()
    buckets: list[str] = []
    for statement in policy.get("Statement") or []:
        resources = statement.get("Resource") if isinstance(statement, dict) else None
        for resource in [resources] if isinstance(resources, str) else resources or []:
            match = _BUCKET_ARN.match(str(resource))
            if match and match.group(1) not in buckets:
                buckets.append(match.group(1))
    return tuple(buckets)


def _check_answer(endpoint: str, status: int, content_type: str, text: str) -> None:
    if status == 200:
        return
    if status == 410:
        raise CredentialsRetiredError(
            f"{endpoint} answered 410 Gone: ASF retired this endpoint (the 2018 /door/credentials has answered 410 "
            f"since 2020). Set s3_credentials_url in the earthdata connection to a TEA endpoint such as "
            f"https://sentinel1.asf.alaska.edu/s3credentials, or use the granule's own s3_credentials_url "
            f"from CMR",
            status,
        )
    detail = text.strip()[:300] if "html" not in content_type else re.sub(r"<[^>]+>", " ", text).strip()[:300]
    raise AsfCredentialsError(f"{endpoint} answered {status}: {' '.join(detail.split())}", status)


def _gave_up(endpoint: str, retry: RetryPolicy, last: str, status: int | None) -> CredentialsUnavailableError:
    return CredentialsUnavailableError(
        f"{endpoint} kept failing after {retry.attempts} tries; last: {last}. The credentials endpoint is "
        f"busy or down: run again later",
        status,
    )


def _retry_log(endpoint: str, attempt: int, retry: RetryPolicy, last: str, delay: float) -> None:
    log.warning("%s: %s (try %d of %d); asking again in %.1f s", endpoint, last, attempt, retry.attempts, delay)


def fetch_credentials(
    session: EarthdataSession,
    endpoint: str,
    app_name: str | None = None,
    *,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> TemporaryCredentials:
    """GET temporary credentials, logging in through EDL if the endpoint redirects there.

    A 429 or 5xx answer, a dropped connection or a cut-off body is asked again with backoff (honouring
    ``Retry-After``); a refused login, a retired endpoint or an unaccepted EULA is not.

    :param session: an Earthdata session (its policy decides where the login goes).
    :param endpoint: the door's ``/door/credentials`` or a TEA ``/s3credentials`` URL.
    :param app_name: TEA's ``app-name`` header (it names the STS session).
    :param retry: tries and backoff (default: CMR's, six tries).
    :param sleep: how to wait between tries.
    """
    retry = retry or RetryPolicy()
    headers = {"app-name": app_name} if app_name else {}
    last, status = "", None
    for attempt in range(1, retry.attempts + 1):
        retry_after = None
        try:
            response = session.get_checked(endpoint, headers=headers)
        except _RETRY_ERRORS as error:
            last, status = f"{type(error).__name__}: {error}", None
        else:
            if response.status_code not in RETRYABLE_STATUSES:
                return _parse_answer(
                    endpoint,
                    response.status_code,
                    response.headers.get("Content-Type", ""),
                    response.text if response.status_code != 200 else "",
                    response.json,
                )
            last, status = f"HTTP {response.status_code}", response.status_code
            retry_after = response.headers.get("Retry-After")
        if attempt < retry.attempts:
            delay = retry.delay(attempt, retry_after)
            _retry_log(endpoint, attempt, retry, last, delay)
            sleep(delay)
    raise _gave_up(endpoint, retry, last, status)


def _parse_answer(
    endpoint: str, status: int, content_type: str, text: str, document: Callable[[], Any]
) -> TemporaryCredentials:
    _check_answer(endpoint, status, content_type, text)
    try:
        body = document()
    except ValueError:
        raise AsfCredentialsError(f"{endpoint} answered 200 but not JSON (Content-Type {content_type!r})") from None
    return TemporaryCredentials.parse(body, endpoint)


async def afetch_credentials(
    session: AsyncEarthdataSession,
    endpoint: str,
    app_name: str | None = None,
    *,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> TemporaryCredentials:
    """The asyncio twin of :func:`fetch_credentials`, retrying the same failures.

    :param session: an open asyncio Earthdata session.
    :param endpoint: the credentials URL.
    :param app_name: TEA's ``app-name`` header.
    :param retry: tries and backoff (default: CMR's, six tries).
    :param sleep: how to wait between tries.
    """
    retry = retry or RetryPolicy()
    last, status = "", None
    for attempt in range(1, retry.attempts + 1):
        retry_after = None
        response: FetchedResponse | None = None
        try:
            response = await session.fetch("GET", endpoint, headers={"app-name": app_name} if app_name else None)
        except _ARETRY_ERRORS as error:
            last, status = f"{type(error).__name__}: {error}", None
        if response is not None:
            if response.status not in RETRYABLE_STATUSES:
                return _parse_answer(
                    endpoint,
                    response.status,
                    response.headers.get("Content-Type", ""),
                    response.body[:4000].decode(errors="replace") if response.status != 200 else "",
                    response.json,
                )
            last, status = f"HTTP {response.status}", response.status
            retry_after = response.headers.get("Retry-After")
        if attempt < retry.attempts:
            delay = retry.delay(attempt, retry_after)
            _retry_log(endpoint, attempt, retry, last, delay)
            await sleep(delay)
    raise _gave_up(endpoint, retry, last, status)


def _keep_current(current: TemporaryCredentials, error: Exception) -> dict[str, str]:
    """The current keys when they are still valid after a failed refresh; else the refresh's error."""
    remaining = current.remaining_seconds()
    if remaining <= 0:
        raise error
    # botocore raises a failed refresh inside its mandatory window although the keys still work: keep
    # them until they really expire, and ask again on the next request.
    log.warning(
        "refreshing the temporary credentials from %s failed (%s); keeping the current ones, valid %.0f s more",
        current.endpoint or "the credentials endpoint",
        error,
        remaining,
    )
    return current.botocore_metadata()


def refreshable_credentials(
    fetch: Callable[[], TemporaryCredentials], margin_seconds: float = DEFAULT_MARGIN_SECONDS
) -> RefreshableCredentials:
    """botocore credentials that call ``fetch`` again before the current keys expire.

    botocore refreshes inside its advisory window and blocks inside its mandatory one; both are set
    from each fetch's lifetime. A failed fetch keeps the current keys while they are valid (and is tried
    again on the next request); once they have expired it raises: nothing failed is cached.

    :param fetch: returns fresh credentials.
    :param margin_seconds: how long before expiry to refresh.
    """
    current = fetch()
    margin = refresh_margin(current.remaining_seconds(), margin_seconds)
    credentials = RefreshableCredentials.create_from_metadata(
        metadata=current.botocore_metadata(),
        refresh_using=lambda: refresh(),
        method="asf-temporary-credentials",
        advisory_timeout=margin,
        mandatory_timeout=margin / 2,
    )

    def refresh() -> dict[str, str]:
        nonlocal current
        try:
            fresh = fetch()
        except Exception as error:
            return _keep_current(current, error)
        current = fresh
        lifetime_margin = refresh_margin(fresh.remaining_seconds(), margin_seconds)
        credentials._advisory_refresh_timeout = lifetime_margin
        credentials._mandatory_refresh_timeout = lifetime_margin / 2
        return fresh.botocore_metadata()

    return credentials


def boto3_session(credentials: RefreshableCredentials, region_name: str | None) -> boto3.Session:
    """A boto3 session on refreshable credentials (the amazon provider's ``BaseSessionFactory`` pattern).

    :param credentials: from :func:`refreshable_credentials`.
    :param region_name: the region to sign for.
    """
    core = botocore.session.get_session()
    core._credentials = credentials
    return boto3.Session(botocore_session=core, region_name=region_name)


async def arefreshable_credentials(
    fetch: Callable[[], Awaitable[TemporaryCredentials]], margin_seconds: float = DEFAULT_MARGIN_SECONDS
) -> Any:
    """aiobotocore credentials that await ``fetch`` again before the current keys expire; a failed fetch
    keeps the current keys while they are valid, as :func:`refreshable_credentials` does.

    :param fetch: coroutine function returning fresh credentials.
    :param margin_seconds: how long before expiry to refresh.
    """
    from aiobotocore.credentials import AioRefreshableCredentials

    current = await fetch()
    margin = refresh_margin(current.remaining_seconds(), margin_seconds)

    async def refresh() -> dict[str, str]:
        nonlocal current
        try:
            fresh = await fetch()
        except Exception as error:
            return _keep_current(current, error)
        current = fresh
        lifetime_margin = refresh_margin(fresh.remaining_seconds(), margin_seconds)
        credentials._advisory_refresh_timeout = lifetime_margin
        credentials._mandatory_refresh_timeout = lifetime_margin / 2
        return fresh.botocore_metadata()

    credentials = AioRefreshableCredentials.create_from_metadata(
        metadata=current.botocore_metadata(), refresh_using=refresh, method="asf-temporary-credentials"
    )
    credentials._advisory_refresh_timeout = margin
    credentials._mandatory_refresh_timeout = margin / 2
    return credentials


def aiobotocore_session(credentials: Any) -> Any:
    """An aiobotocore session on refreshable credentials (create clients with ``async with``).

    :param credentials: from :func:`arefreshable_credentials`.
    """
    from aiobotocore.session import get_session

    session = get_session()
    session._credentials = credentials
    return session


def explain_s3_error(
    error: Exception, region_name: str | None, bucket: str | None = None, signed_region: str | None = None
) -> Exception:
    """Turn S3's refusal of temporary credentials into an error that says what to do.

    :param error: a botocore ``ClientError``.
    :param region_name: the region the credentials are valid in.
    :param bucket: the bucket that was read.
    :param signed_region: the region the refused request was signed for, when known.
    """
    code = error_code(error)
    where = f"s3://{bucket}" if bucket else "ASF's bucket"
    # HeadObject's answers have no body: its refusal is a bare 403, with no code to tell the reason.
    if code == "AccessDenied" or (code in ("403", "Forbidden") and error_status(error) == 403):
        region = region_name or EARTHDATA_CLOUD_REGION
        signed = f" (this request was signed for {signed_region})" if signed_region else ""
        return AsfCredentialsError(
            f"S3 refused the temporary credentials for {where} ({code}). ASF's temporary credentials are "
            f"in-region only: they work for requests signed for and sent from {region}{signed}, i.e. from an "
            f"Airflow worker in AWS {region}; elsewhere copy over HTTPS through Earthdata Login instead",
            403,
        )
    if code in ("ExpiredToken", "TokenRefreshRequired"):
        return AsfCredentialsError(
            f"S3 says the temporary credentials for {where} expired ({code}); they are "
            f"refreshed before expiry, so the credentials endpoint failed to give new ones",
            400,
        )
    if code in ("InvalidAccessKeyId", "InvalidToken", "SignatureDoesNotMatch"):
        return AsfCredentialsError(
            f"S3 does not know the temporary credentials for {where} ({code}); fetch new "
            f"ones, and check s3_endpoint_url and region_name in the earthdata connection",
            403,
        )
    return error


def endpoint_host(url: str | None) -> str | None:
    """``host:port`` of an S3 endpoint URL, as GDAL's ``AWS_S3_ENDPOINT`` wants it.

    :param url: the endpoint URL.
    """
    return urlsplit(url).netloc if url else None


def region_for(settings: EarthdataSettings, endpoint: str | None) -> str:
    """Where keys from ``endpoint`` work: the settings' ``region_name``, else us-east-1 for the 2018 door
    (GRFN's buckets) and us-west-2 for TEA (NASA Earthdata Cloud).

    :param settings: the connection's settings.
    :param endpoint: the credentials endpoint.
    """
    if settings.region_name:
        return settings.region_name
    return GRFN_REGION if endpoint and "/door/" in endpoint else EARTHDATA_CLOUD_REGION


def gdal_options(
    credentials: TemporaryCredentials, settings: EarthdataSettings, region_name: str | None = None
) -> dict[str, str]:
    """Every configuration option GDAL's ``/vsis3/`` needs to read ASF's bucket with temporary keys.

    :param credentials: the keys.
    :param settings: where ASF's buckets are (``s3_endpoint_url``) and whether TLS is verified.
    :param region_name: the region to sign for (default: :func:`region_for` the keys' endpoint).
    """
    options = credentials.environment(region_name or region_for(settings, credentials.endpoint))
    options.pop("AWS_DEFAULT_REGION", None)
    return {**options, **gdal_endpoint_options(settings)}


def gdal_endpoint_options(settings: EarthdataSettings) -> dict[str, str]:
    """GDAL's options for where ASF's bucket is and how to reach it, without the keys.

    :param settings: ``s3_endpoint_url`` and TLS verification.
    """
    options = {}
    if settings.s3_endpoint_url:
        options["AWS_S3_ENDPOINT"] = endpoint_host(settings.s3_endpoint_url) or ""
        options["AWS_VIRTUAL_HOSTING"] = "FALSE"  # path-style: bucket names in the path
        options["AWS_HTTPS"] = "NO" if settings.s3_endpoint_url.startswith("http://") else "YES"
    if not settings.verify:
        options["GDAL_HTTP_UNSAFESSL"] = "YES"
    # A zip on S3 is read by ranges; listing the "directory" first would cost a request per open.
    options["GDAL_DISABLE_READDIR_ON_OPEN"] = "EMPTY_DIR"
    return options


def shell_exports(variables: dict[str, str]) -> str:
    """``export NAME=value`` lines, each value quoted for a POSIX shell, ready for ``eval``.

    :param variables: the variables.
    """
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())
