"""Copying one product file into the user's bucket: which way (inside S3, ASF's bucket with temporary keys, or
HTTPS through Earthdata Login), then the copy, with S3's refusals of ASF's keys said in words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from airflow_asf_ifg.client.credentials import explain_s3_error
from airflow_asf_ifg.client.granule import Granule, ProductFile
from airflow_asf_ifg.client.s3 import parse_s3_url
from airflow_asf_ifg.client.transfer import HttpsSource, S3Source, Transfer, TransferResult
from airflow_asf_ifg.exceptions import InvalidInputError

__all__ = [
    "ChosenSource",
    "choose_source",
    "copy_product",
    "readable_by",
    "reads_over_s3",
]


def reads_over_s3(product: ProductFile, source: str) -> bool:
    """Whether ``product`` is read from its ``s3://`` URL, not its HTTPS one; refused if CMR lists no such URL.

    :param product: the file.
    :param source: ``auto`` (S3 when CMR lists an ``s3://`` URL), ``s3`` or ``https``.
    """
    over_s3 = source == "s3" or (source == "auto" and product.s3_url is not None)
    if over_s3 and not product.s3_url:
        raise InvalidInputError(f"{product.name} has no s3:// URL in CMR; use source='https' or 'auto'")
    if not over_s3 and not product.url:
        raise InvalidInputError(f"{product.name} has no HTTPS URL in CMR; use source='s3' or 'auto'")
    return over_s3


def readable_by(client: Any, bucket: str, key: str) -> bool:
    """Whether ``client``'s own identity can read the object (its HeadObject answers).

    :param client: a boto3 S3 client.
    :param bucket: the bucket.
    :param key: the key.
    """
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False  # ASF's buckets refuse other identities: they are read with ASF's keys
    return True


@dataclass(frozen=True)
class ChosenSource:
    """Where a copy reads a product file.

    :param source: what to read.
    :param server_side_from: (bucket, key) the destination identity reads itself: the copy stays inside S3.
    :param with_asf_keys: whether it is read from ASF's bucket with ASF's temporary keys.
    """

    source: S3Source | HttpsSource
    server_side_from: tuple[str, str] | None = None
    with_asf_keys: bool = False


def choose_source(
    product: ProductFile,
    source: str,
    destination: Any,
    asf_s3_client: Callable[[], Any],
    earthdata_session: Callable[[], Any],
) -> ChosenSource:
    """Choose how to read ``product``: inside S3 when the destination can read it, else with ASF's keys, or HTTPS.

    :param product: the file.
    :param source: ``auto``, ``s3`` or ``https``.
    :param destination: a boto3 S3 client of the destination identity.
    :param asf_s3_client: builds an S3 client on ASF's bucket with refreshing temporary keys (called if needed).
    :param earthdata_session: builds an Earthdata session (called if the file is read over HTTPS).
    """
    if not reads_over_s3(product, source):
        return ChosenSource(HttpsSource(earthdata_session(), product.url or ""))
    bucket, key = parse_s3_url(product.s3_url or "")
    if readable_by(destination, bucket, key):  # one identity reads and writes: no byte passes through here
        return ChosenSource(S3Source(destination, bucket, key), server_side_from=(bucket, key))
    return ChosenSource(S3Source(asf_s3_client(), bucket, key), with_asf_keys=True)


def copy_product(
    transfer: Transfer,
    granule: Granule,
    product: ProductFile,
    bucket: str,
    key: str,
    *,
    asf_s3_client: Callable[[str | None], Any],
    earthdata_session: Callable[[], Any],
    source: str = "auto",
) -> TransferResult:
    """Copy one file of ``granule`` to ``s3://bucket/key`` the way :func:`choose_source` chooses; skip it if there.

    S3's refusal of ASF's keys (out of region, unknown, expired) is raised as an
    :class:`~airflow_asf_ifg.exceptions.AsfCredentialsError` that says what to do.

    :param transfer: the copy engine on the destination client.
    :param granule: the granule (its concept id and GranuleUR go into the object's metadata).
    :param product: the file.
    :param bucket: destination bucket.
    :param key: destination key.
    :param asf_s3_client: builds an S3 client on ASF's bucket for a credentials endpoint (the granule's, or None).
    :param earthdata_session: builds an Earthdata session.
    :param source: ``auto``, ``s3`` or ``https``.
    """
    chosen = choose_source(
        product, source, transfer.destination, lambda: asf_s3_client(granule.s3_credentials_url), earthdata_session
    )
    metadata = {"asf-concept-id": granule.concept_id or "", "asf-granule-ur": granule.granule_ur}
    try:
        return transfer.copy(
            chosen.source,
            bucket,
            key,
            size=product.size_bytes,
            checksum=product.checksum,
            checksum_algorithm=product.checksum_algorithm,
            metadata=metadata,
            server_side_from=chosen.server_side_from,
        )
    except ClientError as error:
        if not chosen.with_asf_keys or not isinstance(chosen.source, S3Source):
            raise
        # The keys work in the region their client signs for, nowhere else (TEA DownloadRoleInRegion).
        explained = explain_s3_error(error, chosen.source.client.meta.region_name, chosen.source.bucket)
        if explained is error:
            raise
        raise explained from error
