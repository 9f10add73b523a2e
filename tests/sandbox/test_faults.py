"""Injected faults over HTTP: 500/503, throttling with Retry-After, resets mid-body, latency; seeded draws."""

from __future__ import annotations

import time

import botocore.config
import botocore.exceptions
import pytest
import requests

from airflow_asf_ifg.sandbox.config import SandboxConfig
from airflow_asf_ifg.sandbox.state import FaultInjector
from tests.sandbox.helpers import s3_client, user_s3

GUNW = {"collection_concept_id": "C2859376221-ASF", "page_size": 50}


@pytest.fixture
def bucket_with_object(asf_sandbox):
    s3 = user_s3(asf_sandbox)
    s3.create_bucket(Bucket="fault-bucket")
    s3.put_object(Bucket="fault-bucket", Key="big.bin", Body=b"z" * 200_000)
    return "fault-bucket", "big.bin"


def no_retry_s3(asf_sandbox):
    connection = asf_sandbox.aws_connection()
    return s3_client(
        asf_sandbox,
        aws_access_key_id=connection["login"],
        aws_secret_access_key=connection["password"],
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )


class TestCmrFaults:
    def test_errors_are_500_or_503_with_cmr_error_body(self, asf_sandbox, asf_sandbox_settings):
        asf_sandbox_settings(fault_rate=1.0)
        statuses = set()
        for _ in range(20):
            response = requests.get(f"{asf_sandbox.urls.cmr}/search/granules.umm_json", params=GUNW, timeout=10)
            statuses.add(response.status_code)
            assert "errors" in response.json()
        assert statuses == {500, 503}

    def test_throttling_is_429_with_retry_after(self, asf_sandbox, asf_sandbox_settings):
        asf_sandbox_settings(throttle_rate=1.0)
        response = requests.get(f"{asf_sandbox.urls.cmr}/search/granules.umm_json", params=GUNW, timeout=10)
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) >= 1
        assert response.json()["errors"]

    def test_reset_cuts_the_body(self, asf_sandbox, asf_sandbox_settings):
        asf_sandbox_settings(reset_rate=1.0)
        with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
            requests.get(f"{asf_sandbox.urls.cmr}/search/granules.umm_json", params=GUNW, timeout=10).json()

    def test_half_the_requests_fail_at_rate_one_half(self, asf_sandbox, asf_sandbox_settings):
        asf_sandbox_settings(fault_rate=0.5)
        failures = sum(
            requests.get(
                f"{asf_sandbox.urls.cmr}/search/granules.umm_json", params={**GUNW, "page_size": 0}, timeout=10
            ).status_code
            >= 500
            for _ in range(200)
        )
        assert 60 <= failures <= 140

    def test_latency_is_added(self, asf_sandbox, asf_sandbox_settings):
        asf_sandbox_settings(latency_ms=300)
        started = time.monotonic()
        requests.get(f"{asf_sandbox.urls.cmr}/search/granules.umm_json", params=GUNW, timeout=10)
        assert time.monotonic() - started >= 0.3

    def test_control_routes_never_fail(self, asf_sandbox, asf_sandbox_settings):
        asf_sandbox_settings(fault_rate=1.0)
        assert requests.get(f"{asf_sandbox.urls.sandbox}/__sandbox__/stats", timeout=10).status_code == 200
        assert (
            requests.get(f"{asf_sandbox.urls.sandbox}/__sandbox__/stats", timeout=10).json()["events"]["fault_error"]
            >= 0
        )


class TestS3Faults:
    def test_throttling_is_slow_down(self, asf_sandbox, asf_sandbox_settings, bucket_with_object):
        asf_sandbox_settings(throttle_rate=1.0)
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            no_retry_s3(asf_sandbox).head_object(Bucket=bucket_with_object[0], Key=bucket_with_object[1])
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503

    def test_errors_are_internal_error(self, asf_sandbox, asf_sandbox_settings, bucket_with_object):
        asf_sandbox_settings(fault_rate=1.0)
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            no_retry_s3(asf_sandbox).list_objects_v2(Bucket=bucket_with_object[0])
        assert caught.value.response["Error"]["Code"] in ("InternalError", "ServiceUnavailable")

    def test_reset_cuts_an_object_body(self, asf_sandbox, asf_sandbox_settings, bucket_with_object):
        s3 = no_retry_s3(asf_sandbox)
        asf_sandbox_settings(reset_rate=1.0)
        response = s3.get_object(Bucket=bucket_with_object[0], Key=bucket_with_object[1])
        assert response["ContentLength"] == 200_000
        with pytest.raises((botocore.exceptions.BotoCoreError, ConnectionError)):
            response["Body"].read()

    def test_a_slow_complete_that_fails_is_an_error_after_a_200(self, asf_sandbox, asf_sandbox_settings):
        # S3 has answered 200 before it knows: the error comes in the body, which botocore reads as the error.
        s3 = no_retry_s3(asf_sandbox)
        s3.create_bucket(Bucket="fault-bucket")
        upload = s3.create_multipart_upload(Bucket="fault-bucket", Key="slow.bin")["UploadId"]
        s3.upload_part(Bucket="fault-bucket", Key="slow.bin", UploadId=upload, PartNumber=1, Body=b"p")
        asf_sandbox_settings(complete_seconds=1.5)
        wrong = {"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]}
        with pytest.raises(botocore.exceptions.ClientError, match="InvalidPart"):
            s3.complete_multipart_upload(Bucket="fault-bucket", Key="slow.bin", UploadId=upload, MultipartUpload=wrong)
        s3.abort_multipart_upload(Bucket="fault-bucket", Key="slow.bin", UploadId=upload)


class TestFaultDraws:
    def test_same_seed_same_sequence(self):
        config = SandboxConfig(fault_rate=0.3, throttle_rate=0.2, reset_rate=0.1)
        first = FaultInjector(7, lambda: config)
        second = FaultInjector(7, lambda: config)
        assert [first.draw() for _ in range(200)] == [second.draw() for _ in range(200)]

    def test_rates_split_the_draws(self):
        config = SandboxConfig(fault_rate=0.3, throttle_rate=0.2, reset_rate=0.1)
        injector = FaultInjector(3, lambda: config)
        draws = [injector.draw() for _ in range(5000)]
        for kind, rate in (("error", 0.3), ("throttle", 0.2), ("reset", 0.1), (None, 0.4)):
            assert abs(draws.count(kind) / len(draws) - rate) < 0.03
