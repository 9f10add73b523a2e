"""Which way a product file is copied, and the copy, against the sandbox's door, TEA keys and S3."""

from __future__ import annotations

import pytest

from airflow_asf_ifg.client.asf_buckets import asf_s3_client
from airflow_asf_ifg.client.copy import choose_source, copy_product, readable_by, reads_over_s3
from airflow_asf_ifg.client.credentials import fetch_credentials
from airflow_asf_ifg.client.granule import Granule, ProductFile
from airflow_asf_ifg.client.settings import EarthdataSettings
from airflow_asf_ifg.client.transfer import HttpsSource, S3Source, Transfer
from airflow_asf_ifg.exceptions import AsfCredentialsError, InvalidInputError
from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET
from tests.client.test_credentials import session_for
from tests.sandbox.helpers import catalogue_file, empty_bucket

# The 2018 buckets with TEA's s3:// links and /s3credentials keys (valid in us-west-2 only).
pytestmark = pytest.mark.asf_sandbox(era="2018", tea=True)

DEST = "copy-dest"


def granule_of(sandbox, item: dict) -> Granule:
    """The Granule a search would give for a catalogue file: its HTTPS and s3:// URLs, size and MD5."""
    product = ProductFile(
        item["name"],
        "data",
        url=item["url"],
        s3_url=f"s3://{item['bucket']}/{item['key']}",
        size_bytes=item["size"],
        checksum=item["md5"],
        checksum_algorithm="MD5",
    )
    return Granule(
        granule_ur=item["granule"]["granule_ur"],
        concept_id=item["granule"]["concept_id"],
        s3_credentials_url=f"{sandbox.urls.asf}/s3credentials",
        files=[product],
    )


class Builders:
    """The callables copy_product takes, counting their calls: clients on ASF's bucket, Earthdata sessions."""

    def __init__(self, sandbox, **extra: str) -> None:
        self.settings = EarthdataSettings.from_extra({**sandbox.earthdata_connection()["extra"], **extra})
        self.sandbox = sandbox
        self.endpoints: list[str | None] = []
        self.sessions = 0

    def asf_s3_client(self, endpoint: str | None):
        self.endpoints.append(endpoint)
        http = session_for(self.sandbox)
        return asf_s3_client(self.settings, endpoint or "", lambda: fetch_credentials(http, endpoint or ""))

    def earthdata_session(self):
        self.sessions += 1
        return session_for(self.sandbox)


@pytest.fixture
def dest(asf_sandbox):
    client = empty_bucket(asf_sandbox, DEST)
    yield client
    assert client.list_multipart_uploads(Bucket=DEST).get("Uploads", []) == []


@pytest.fixture
def available(asf_sandbox) -> Granule:
    return granule_of(asf_sandbox, catalogue_file(asf_sandbox, archived=False, beta=False))


class TestReadsOverS3:
    @pytest.mark.parametrize(
        ("urls", "source", "over_s3"),
        [
            ({"url": "https://door/x.nc", "s3_url": "s3://b/x.nc"}, "auto", True),
            ({"url": "https://door/x.nc"}, "auto", False),
            ({"url": "https://door/x.nc", "s3_url": "s3://b/x.nc"}, "https", False),
            ({"s3_url": "s3://b/x.nc"}, "s3", True),
        ],
        ids=["auto-both", "auto-https-only", "forced-https", "forced-s3"],
    )
    def test_the_way(self, urls, source, over_s3):
        assert reads_over_s3(ProductFile("x.nc", **urls), source) is over_s3

    @pytest.mark.parametrize(
        ("urls", "source", "message"),
        [
            ({"url": "https://door/x.nc"}, "s3", "x.nc has no s3:// URL in CMR; use source='https' or 'auto'"),
            ({"s3_url": "s3://b/x.nc"}, "https", "x.nc has no HTTPS URL in CMR; use source='s3' or 'auto'"),
        ],
        ids=["no-s3-url", "no-https-url"],
    )
    def test_a_missing_url_is_refused(self, urls, source, message):
        with pytest.raises(InvalidInputError, match=message):
            reads_over_s3(ProductFile("x.nc", **urls), source)


class TestChooseSource:
    def test_https_needs_no_s3_client(self, asf_sandbox, dest, available):
        builders = Builders(asf_sandbox)
        chosen = choose_source(
            available.files[0], "https", dest, lambda: builders.asf_s3_client(None), builders.earthdata_session
        )
        assert isinstance(chosen.source, HttpsSource) and chosen.source.url == available.files[0].url
        assert (chosen.server_side_from, chosen.with_asf_keys, builders.endpoints) == (None, False, [])

    def test_asf_bucket_is_read_with_asf_keys(self, asf_sandbox, dest, available):
        builders = Builders(asf_sandbox)
        chosen = choose_source(
            available.files[0],
            "auto",
            dest,
            lambda: builders.asf_s3_client(available.s3_credentials_url),
            builders.earthdata_session,
        )
        assert isinstance(chosen.source, S3Source) and chosen.with_asf_keys and chosen.server_side_from is None
        assert not readable_by(dest, PRODUCT_BUCKET, chosen.source.key)  # ASF's bucket refuses the user's keys
        assert (builders.endpoints, builders.sessions) == ([available.s3_credentials_url], 0)

    def test_an_object_the_destination_reads_is_copied_inside_s3(self, asf_sandbox, dest):
        dest.put_object(Bucket=DEST, Key="mirror/x.nc", Body=b"x" * 100)
        builders = Builders(asf_sandbox)
        chosen = choose_source(
            ProductFile("x.nc", s3_url=f"s3://{DEST}/mirror/x.nc"),
            "auto",
            dest,
            lambda: builders.asf_s3_client(None),
            builders.earthdata_session,
        )
        assert chosen.server_side_from == (DEST, "mirror/x.nc") and chosen.source.client is dest
        assert not chosen.with_asf_keys and builders.endpoints == []


class TestCopyProduct:
    def test_over_s3_with_the_granules_keys(self, asf_sandbox, dest, available, stats):
        builders = Builders(asf_sandbox)
        product = available.files[0]
        result = copy_product(
            Transfer(dest),
            available,
            product,
            DEST,
            f"gunw/{product.name}",
            asf_s3_client=builders.asf_s3_client,
            earthdata_session=builders.earthdata_session,
        )
        assert (result.status, result.bytes, result.checksum) == ("copied", product.size_bytes, product.checksum)
        assert result.source == product.s3_url and builders.endpoints == [available.s3_credentials_url]
        metadata = dest.head_object(Bucket=DEST, Key=f"gunw/{product.name}")["Metadata"]
        assert (metadata["asf-concept-id"], metadata["asf-granule-ur"]) == (available.concept_id, available.granule_ur)
        assert stats()["events"]["credentials_issued"] == 1

    def test_over_https_through_the_door(self, asf_sandbox, dest, available):
        builders = Builders(asf_sandbox)
        product = available.files[0]
        result = copy_product(
            Transfer(dest),
            available,
            product,
            DEST,
            product.name,
            source="https",
            asf_s3_client=builders.asf_s3_client,
            earthdata_session=builders.earthdata_session,
        )
        assert (result.status, result.source, builders.sessions) == ("copied", product.url, 1)

    def test_keys_signed_out_of_region_are_explained(self, asf_sandbox, dest, available):
        builders = Builders(asf_sandbox, region_name="us-east-1")  # TEA's keys work in us-west-2 only
        refused = rf"S3 refused the temporary credentials for s3://{PRODUCT_BUCKET} \(403\)\. .* in-region only"
        with pytest.raises(AsfCredentialsError, match=refused) as caught:  # HeadObject's bare 403
            copy_product(
                Transfer(dest),
                available,
                available.files[0],
                DEST,
                "x.nc",
                asf_s3_client=builders.asf_s3_client,
                earthdata_session=builders.earthdata_session,
            )
        assert caught.value.permanent  # the same keys are refused on every retry
        assert "Contents" not in dest.list_objects_v2(Bucket=DEST)
