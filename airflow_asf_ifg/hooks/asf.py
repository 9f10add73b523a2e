"""ASF's temporary S3 credentials through the ``earthdata`` connection: fetch, refresh, S3 clients, GDAL options."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from functools import cached_property
from typing import Any

import boto3
from airflow.sdk import BaseHook

from airflow_asf_ifg.client.asf_buckets import asf_async_s3_client, asf_boto3_session, asf_s3_client, client_options
from airflow_asf_ifg.client.credentials import (
    DEFAULT_MARGIN_SECONDS,
    TemporaryCredentials,
    afetch_credentials,
    fetch_credentials,
    gdal_options,
    region_for,
)
from airflow_asf_ifg.client.settings import credentials_endpoints_text
from airflow_asf_ifg.client.shared_clients import SharedClients, fingerprint
from airflow_asf_ifg.compat import amask_secret, mask_secret
from airflow_asf_ifg.exceptions import EndpointNotConfiguredError
from airflow_asf_ifg.hooks.earthdata import EarthdataHook

APP_NAME = "airflow-asf-ifg"
#: The process's aiobotocore clients on ASF's buckets, shared by every trigger of the triggerer's loop.
SHARED_S3_CLIENTS = SharedClients()


class AsfHook(BaseHook):
    """Temporary S3 credentials from ASF (the 2018 door or TEA), refreshed before they expire.

    The endpoint is the connection's ``s3_credentials_url`` unless a granule's own ``s3_credentials_url``
    is passed; ASF's buckets are reached at the connection's ``s3_endpoint_url`` (AWS when empty) in its
    ``region_name`` (default us-west-2, where TEA's keys work).

    :param earthdata_conn_id: the ``earthdata`` connection.
    :param margin_seconds: refresh this long before expiry (a fifth of a short lifetime at most).
    """

    conn_name_attr = "earthdata_conn_id"
    default_conn_name = EarthdataHook.default_conn_name
    hook_name = "ASF temporary S3 credentials"

    def __init__(
        self,
        earthdata_conn_id: str = default_conn_name,
        *,
        margin_seconds: float = DEFAULT_MARGIN_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.earthdata_conn_id = earthdata_conn_id
        self.margin_seconds = margin_seconds

    @cached_property
    def earthdata(self) -> EarthdataHook:
        """The hook that reads the connection and logs in."""
        return EarthdataHook(self.earthdata_conn_id)

    @property
    def region_name(self) -> str:
        """The region of ASF's buckets for the connection's endpoint (see :meth:`region_for`)."""
        return self.region_for(self.earthdata.settings.s3_credentials_url)

    def region_for(self, endpoint: str | None) -> str:
        """Where keys from ``endpoint`` work: the connection's ``region_name``, else us-east-1 for the 2018
        door (GRFN's buckets) and us-west-2 for TEA (NASA Earthdata Cloud).

        :param endpoint: the credentials endpoint.
        """
        return region_for(self.earthdata.settings, endpoint)

    def credentials_endpoint(self, endpoint: str | None = None) -> str:
        """The endpoint to use: ``endpoint`` (a granule's), else the connection's ``s3_credentials_url``.

        :param endpoint: a granule's ``s3_credentials_url``.
        """
        chosen = endpoint or self.earthdata.settings.s3_credentials_url
        if not chosen:
            raise EndpointNotConfiguredError(
                f"no temporary S3 credentials endpoint: connection {self.earthdata_conn_id!r} has no "
                f"s3_credentials_url and the granule lists none. {credentials_endpoints_text()}. Copy over HTTPS "
                f"(AsfToS3Operator source='auto' does for products without an s3:// URL), or set "
                f"s3_credentials_url in the connection's extra"
            )
        return chosen

    def get_credentials(self, endpoint: str | None = None) -> TemporaryCredentials:
        """Fetch temporary credentials once; their secrets are masked in logs before this returns.

        :param endpoint: a granule's ``s3_credentials_url`` (default: the connection's).
        """
        credentials = fetch_credentials(self.earthdata.get_session(), self.credentials_endpoint(endpoint), APP_NAME)
        mask_secret(credentials.secret_access_key)
        mask_secret(credentials.session_token)
        return self._announced(credentials)

    def _announced(self, credentials: TemporaryCredentials) -> TemporaryCredentials:
        """Log which keys were issued (their id only) and return them."""
        self.log.info(
            "Temporary S3 credentials %s from %s, valid until %s",
            credentials.access_key_id,
            credentials.endpoint,
            credentials.expiration.isoformat(),
        )
        return credentials

    async def aget_credentials(self, endpoint: str | None = None) -> TemporaryCredentials:
        """The asyncio twin of :meth:`get_credentials`, for triggers.

        :param endpoint: a granule's ``s3_credentials_url`` (default: the connection's).
        """
        async with self.earthdata.get_async_session() as session:
            credentials = await afetch_credentials(session, self.credentials_endpoint(endpoint), APP_NAME)
        await amask_secret(credentials.secret_access_key)
        await amask_secret(credentials.session_token)
        return self._announced(credentials)

    def get_boto3_session(self, endpoint: str | None = None, region_name: str | None = None) -> boto3.Session:
        """A boto3 session whose credentials refresh themselves before they expire.

        :param endpoint: a granule's ``s3_credentials_url`` (default: the connection's).
        :param region_name: the region to sign for (default: the connection's, else us-west-2).
        """
        chosen = self.credentials_endpoint(endpoint)
        return asf_boto3_session(
            self.earthdata.settings,
            chosen,
            lambda: self.get_credentials(chosen),
            region_name=region_name,
            margin_seconds=self.margin_seconds,
        )

    def client_config(self) -> dict[str, Any]:
        """``endpoint_url``, ``verify`` and botocore ``config`` for clients on ASF's buckets."""
        return client_options(self.earthdata.settings)

    def get_s3_client(self, endpoint: str | None = None, region_name: str | None = None) -> Any:
        """An S3 client on ASF's buckets that keeps working across credential expiries.

        :param endpoint: a granule's ``s3_credentials_url`` (default: the connection's).
        :param region_name: the region to sign for.
        """
        chosen = self.credentials_endpoint(endpoint)
        return asf_s3_client(
            self.earthdata.settings,
            chosen,
            lambda: self.get_credentials(chosen),
            region_name=region_name,
            margin_seconds=self.margin_seconds,
        )

    @contextlib.asynccontextmanager
    async def get_async_s3_client(
        self, endpoint: str | None = None, region_name: str | None = None, *, shared: bool = True
    ) -> AsyncIterator[Any]:
        """An aiobotocore S3 client with refreshing credentials: ``async with hook.get_async_s3_client() as s3``.

        Shared by default: every coroutine of the loop asking for the same endpoint, region and identity gets
        one client and one set of keys (a triggerer's hundreds of triggers fetch keys once, not once each).

        :param endpoint: a granule's ``s3_credentials_url`` (default: the connection's).
        :param region_name: the region to sign for.
        :param shared: lease the loop's shared client (False: open one of this caller's own).
        """
        chosen = self.credentials_endpoint(endpoint)
        region = region_name or self.region_for(chosen)

        def open_client() -> contextlib.AbstractAsyncContextManager[Any]:
            return asf_async_s3_client(
                self.earthdata.settings,
                chosen,
                lambda: self.aget_credentials(chosen),
                region_name=region,
                margin_seconds=self.margin_seconds,
            )

        if not shared:
            async with open_client() as client:
                yield client
            return
        settings, identity = self.earthdata.settings, self.earthdata.identity
        key = (
            chosen,
            region,
            settings.s3_endpoint_url,
            settings.verify,
            settings.edl_url,
            fingerprint(identity.login, identity.password, identity.token),
            self.margin_seconds,
        )
        async with SHARED_S3_CLIENTS.lease(key, open_client) as client:
            yield client

    def gdal_config(
        self,
        credentials: TemporaryCredentials | None = None,
        endpoint: str | None = None,
        region_name: str | None = None,
    ) -> dict[str, str]:
        """The configuration options GDAL's ``/vsis3/`` needs to read ASF's bucket with temporary keys.

        :param credentials: keys to use (default: fetch new ones).
        :param endpoint: a granule's ``s3_credentials_url`` (default: the connection's).
        :param region_name: the region to sign for.
        """
        return gdal_options(credentials or self.get_credentials(endpoint), self.earthdata.settings, region_name)

    @staticmethod
    def vsizip_path(bucket: str, key: str, member: str) -> str:
        """A GDAL path to a file inside a zip on S3, as on the 2018 page: ``/vsizip//vsis3/<bucket>/<key>/<member>``.

        :param bucket: the bucket.
        :param key: the zip's key.
        :param member: the path inside the zip (e.g. ``<product>/merged/filt_topophase.unw.geo.vrt``).
        """
        return f"/vsizip//vsis3/{bucket}/{key.lstrip('/')}/{member.lstrip('/')}"
