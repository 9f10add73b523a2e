"""AsfS3CredentialsOperator in real Airflow (``dag.test()``): facts out, secrets never in XCom or logs."""

from __future__ import annotations

import configparser
import stat
from datetime import UTC, datetime

import pytest

from airflow_asf_ifg.operators.credentials import AsfS3CredentialsOperator
from airflow_asf_ifg.sandbox.config import PRODUCT_BUCKET
from tests.conftest import task_states, xcom_value

DAG_SOURCE = """
from datetime import datetime
from airflow.sdk import DAG
from airflow_asf_ifg.operators.credentials import AsfS3CredentialsOperator

with DAG("__DAG_ID__", schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as dag:
    AsfS3CredentialsOperator(task_id="credentials", {arguments})
"""
WHEN = datetime(2024, 1, 2, tzinfo=UTC)
# The 2018 door's /door/credentials (and, where a test says so, TEA's keys).
pytestmark = pytest.mark.asf_sandbox(era="2018")


@pytest.fixture
def run(dag_from_source, asf_sandbox, asf_sandbox_connections):
    asf_sandbox.reset()

    def go(arguments: str = ""):
        return dag_from_source(DAG_SOURCE.replace("{arguments}", arguments)).test(logical_date=WHEN)

    return go


def secrets_issued(sandbox) -> list[str]:
    return [
        value for issued in sandbox.credentials.issued() for value in (issued.secret_access_key, issued.session_token)
    ]


class TestPreflight:
    def test_returns_facts_and_no_secret_anywhere(self, run, asf_sandbox, capfd):
        dag_run = run()
        assert dag_run.state == "success"
        facts = xcom_value(dag_run, "credentials")
        assert facts["bucket"] == PRODUCT_BUCKET and facts["buckets"] == [PRODUCT_BUCKET]
        assert facts["endpoint"] == f"{asf_sandbox.urls.asf}/door/credentials"
        assert facts["region"] == "us-east-1" and 3500 <= facts["lifetime_seconds"] <= 3600
        assert set(facts) == {
            "expiration",
            "endpoint",
            "bucket",
            "buckets",
            "region",
            "lifetime_seconds",
            "output_path",
        }
        logs = capfd.readouterr()
        secrets = secrets_issued(asf_sandbox)
        assert secrets
        for secret in secrets:
            assert secret not in str(facts)
            assert secret not in logs.out and secret not in logs.err
        assert "Temporary S3 credentials work" in logs.out

    def test_writes_an_aws_profile_0600_and_keeps_other_profiles(self, run, asf_sandbox, tmp_path):
        path = tmp_path / "aws" / "credentials"
        path.parent.mkdir()
        path.write_text("[default]\naws_access_key_id = MINE\naws_secret_access_key = mine\n")
        for _ in range(2):  # re-written on each run
            assert run(f'output_path="{path}"').state == "success"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        profiles = configparser.ConfigParser()
        profiles.read(path)
        assert profiles["default"]["aws_access_key_id"] == "MINE"
        latest = asf_sandbox.credentials.issued()[-1]
        assert profiles["asf"]["aws_access_key_id"] == latest.access_key_id
        assert profiles["asf"]["aws_session_token"] == latest.session_token
        assert profiles["asf"]["endpoint_url"] == asf_sandbox.urls.s3
        assert list(tmp_path.glob("aws/.credentials.*")) == []  # no temporary file left behind

    def test_writes_an_env_file_for_gdal_and_the_aws_cli(self, run, asf_sandbox, tmp_path):
        path = tmp_path / "asf.env"
        assert run(f'output_path="{path}", output_format="env"').state == "success"
        text = path.read_text()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        latest = asf_sandbox.credentials.issued()[-1]
        assert f"export AWS_ACCESS_KEY_ID={latest.access_key_id}\n" in text
        assert f"export AWS_S3_ENDPOINT={asf_sandbox.urls.s3.removeprefix('http://')}\n" in text
        assert "export AWS_VIRTUAL_HOSTING=FALSE\n" in text and text.startswith("# ASF temporary S3 credentials")


class TestFailures:
    def test_retired_endpoint_fails_without_retry(self, run, asf_sandbox_settings, capfd):
        asf_sandbox_settings(credentials_gone=True)
        dag_run = run("retries=3")
        assert dag_run.state == "failed" and task_states(dag_run) == {"credentials": "failed"}
        assert "answered 410 Gone: ASF retired this endpoint" in capfd.readouterr().out

    @pytest.mark.asf_sandbox(tea=True)
    def test_outside_the_region(self, run, asf_sandbox, capfd):
        dag_run = run(
            f's3_credentials_url="{asf_sandbox.urls.asf}/s3credentials", bucket="{PRODUCT_BUCKET}", '
            'region_name="eu-central-1"'
        )
        assert dag_run.state == "failed"
        out = capfd.readouterr().out
        assert "in-region only" in out and "(this request was signed for eu-central-1)" in out

    def test_bad_output_format_fails_at_parse_time(self):
        with pytest.raises(ValueError, match="output_format 'ini' is not one of"):
            AsfS3CredentialsOperator(task_id="x", output_format="ini")

    @pytest.mark.parametrize(
        "profile",
        ["asf]\n[default", "a[b", "asf\naws_access_key_id = x", ""],
        ids=["section", "bracket", "lf", "empty"],
    )
    def test_a_profile_name_that_would_corrupt_the_credentials_file_is_refused(self, profile):
        from airflow_asf_ifg.exceptions import InvalidInputError

        with pytest.raises(InvalidInputError, match="profile_name"):
            AsfS3CredentialsOperator(task_id="x", profile_name=profile)

    def test_aws_profile_text_refuses_it_too(self):
        from airflow_asf_ifg.exceptions import InvalidInputError
        from airflow_asf_ifg.operators.credentials import aws_profile_text

        with pytest.raises(InvalidInputError, match="profile_name"):
            aws_profile_text("", "a]b", None, "us-west-2", None)  # refused before the keys are read
