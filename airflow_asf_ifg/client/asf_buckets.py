"""S3 clients on ASF's buckets: where the buckets are, how requests to them are retried, keys that refresh."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import boto3
from botocore.config import Config

from airflow_asf_ifg.client.credentials import (
    DEFAULT_MARGIN_SECONDS,
    TemporaryCredentials,
    aiobotocore_session,
    arefreshable_credentials,
    boto3_session,
    refreshable_credentials,
    region_for,
)
from airflow_asf_ifg.client.settings import EarthdataSettings

__all__ = [
    "RETRIES",
    "asf_async_s3_client",
    "asf_boto3_session",
    "asf_s3_client",
    "client_options",
]

#: botocore's standard retry mode, ten attempts: S3 throttles (503 SlowDown) and fails now and then (500).
RETRIES = {"mode": "standard", "max_attempts": 10}


def client_options(settings: EarthdataSettings) -> dict[str, Any]:
    """``endpoint_url``, ``verify`` and botocore ``config`` for clients on ASF's buckets.

    :param settings: ``s3_endpoint_url`` (path-style addressing there) and TLS verification.
    """
    options: dict[str, Any] = {"verify": settings.verify, "config": Config(retries=RETRIES)}
    if settings.s3_endpoint_url:
        # An S3-compatible server at one host: bucket names go in the path, not in the host name.
        options["endpoint_url"] = settings.s3_endpoint_url
        options["config"] = options["config"].merge(Config(s3={"addressing_style": "path"}))
    return options


def asf_boto3_session(
    settings: EarthdataSettings,
    endpoint: str,
    fetch: Callable[[], TemporaryCredentials],
    *,
    region_name: str | None = None,
    margin_seconds: float = DEFAULT_MARGIN_SECONDS,
) -> boto3.Session:
    """A boto3 session whose keys from ``endpoint`` refresh themselves before they expire.

    :param settings: the connection's settings (the region of ASF's buckets).
    :param endpoint: the credentials endpoint ``fetch`` reads.
    :param fetch: returns fresh temporary credentials.
    :param region_name: the region to sign for (default: where ``endpoint``'s keys work).
    :param margin_seconds: refresh this long before expiry.
    """
    credentials = refreshable_credentials(fetch, margin_seconds)
    return boto3_session(credentials, region_name or region_for(settings, endpoint))


def asf_s3_client(
    settings: EarthdataSettings,
    endpoint: str,
    fetch: Callable[[], TemporaryCredentials],
    *,
    region_name: str | None = None,
    margin_seconds: float = DEFAULT_MARGIN_SECONDS,
) -> Any:
    """A boto3 S3 client on ASF's buckets that keeps working across credential expiries.

    :param settings: the connection's settings.
    :param endpoint: the credentials endpoint ``fetch`` reads.
    :param fetch: returns fresh temporary credentials.
    :param region_name: the region to sign for (default: where ``endpoint``'s keys work).
    :param margin_seconds: refresh this long before expiry.
    """
    session = asf_boto3_session(settings, endpoint, fetch, region_name=region_name, margin_seconds=margin_seconds)
    return session.client("s3", **client_options(settings))


@contextlib.asynccontextmanager
async def asf_async_s3_client(
    settings: EarthdataSettings,
    endpoint: str,
    fetch: Callable[[], Awaitable[TemporaryCredentials]],
    *,
    region_name: str | None = None,
    margin_seconds: float = DEFAULT_MARGIN_SECONDS,
) -> AsyncIterator[Any]:
    """An aiobotocore S3 client on ASF's buckets with refreshing keys: ``async with asf_async_s3_client(...) as s3``.

    :param settings: the connection's settings.
    :param endpoint: the credentials endpoint ``fetch`` reads.
    :param fetch: coroutine function returning fresh temporary credentials.
    :param region_name: the region to sign for (default: where ``endpoint``'s keys work).
    :param margin_seconds: refresh this long before expiry.
    """
    credentials = await arefreshable_credentials(fetch, margin_seconds)
    session = aiobotocore_session(credentials)
    async with session.create_client(
        "s3", region_name=region_name or region_for(settings, endpoint), **client_options(settings)
    ) as client:
        yield client
