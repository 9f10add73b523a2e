"""AsfS3CredentialsOperator: check that ASF's temporary S3 credentials can be had and used, before copying."""

from __future__ import annotations

import configparser
import contextlib
import os
import tempfile
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_asf_ifg.compat import AirflowFailException
from airflow_asf_ifg.exceptions import AsfCredentialsError, InvalidInputError
from airflow_asf_ifg.failing import permanent_errors_fail_the_task
from airflow_asf_ifg.hooks import EARTHDATA_DEFAULT_CONN_ID
from airflow_asf_ifg.validation import check_profile_name

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_asf_ifg.client.credentials import TemporaryCredentials
    from airflow_asf_ifg.hooks.asf import AsfHook

OUTPUT_FORMATS = ("aws-profile", "env")


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (0600), atomically: no reader ever sees half of it.

    :param path: the file.
    :param text: its content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created 0600
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def aws_profile_text(
    existing: str, profile: str, credentials: TemporaryCredentials, region_name: str, endpoint_url: str | None
) -> str:
    """An AWS shared-credentials file with ``profile`` (re)written and other profiles kept.

    :param existing: the file's current text ('' when new).
    :param profile: the profile name.
    :param credentials: the keys.
    :param region_name: the region.
    :param endpoint_url: an S3 endpoint for tools that read ``endpoint_url`` from the profile.
    """
    check_profile_name(profile)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(existing)
    parser[profile] = {
        "aws_access_key_id": credentials.access_key_id,
        "aws_secret_access_key": credentials.secret_access_key,
        "aws_session_token": credentials.session_token,
        "region": region_name,
        "expiration": credentials.expiration.isoformat(),
    }
    if endpoint_url:
        parser[profile]["endpoint_url"] = endpoint_url
    lines: list[str] = []
    for section in parser.sections():
        lines.append(f"[{section}]")
        lines += [f"{key} = {value}" for key, value in parser[section].items()]
        lines.append("")
    return "\n".join(lines)


def env_text(variables: dict[str, str], credentials: TemporaryCredentials) -> str:
    """``export NAME=value`` lines for a shell, with the expiration as a comment.

    :param variables: the variables.
    :param credentials: the keys (for the expiration).
    """
    lines = [f"# ASF temporary S3 credentials, valid until {credentials.expiration.isoformat()}"]
    lines += [f"export {name}={value}" for name, value in variables.items()]
    return "\n".join(lines) + "\n"


class AsfS3CredentialsOperator(BaseOperator):
    """Log in, fetch ASF's temporary S3 credentials and prove them with a cheap S3 call.

    For ``s3://`` products and TEA endpoints (in-region keys), and for the 2018 door's ``/door/credentials``.
    Today's GUNW products come over HTTPS and need no keys: check a DAG's copies with
    :class:`~airflow_asf_ifg.operators.preflight.AsfPreflightOperator` instead.

    Returns only facts that are not secret (expiration, buckets, region, endpoint). With
    ``output_path`` it also (re)writes, mode 0600, an AWS shared-credentials profile or an ``export``
    env file for the AWS CLI, boto3 and GDAL on the same machine.

    :param earthdata_conn_id: the ``earthdata`` connection.
    :param s3_credentials_url: the credentials endpoint (templated; default: the connection's).
    :param bucket: the bucket to check (templated; default: the first the PolicyDocument allows).
    :param region_name: region to sign for (default: the connection's, else us-west-2).
    :param output_path: file to write the credentials to (templated); nothing is written when None.
    :param output_format: ``aws-profile`` (a profile in an AWS credentials file) or ``env`` (export lines).
    :param profile_name: the profile name for ``aws-profile``.
    """

    template_fields: Sequence[str] = ("s3_credentials_url", "bucket", "output_path")
    ui_color = "#fdebd0"

    def __init__(
        self,
        *,
        earthdata_conn_id: str = EARTHDATA_DEFAULT_CONN_ID,
        s3_credentials_url: str | None = None,
        bucket: str | None = None,
        region_name: str | None = None,
        output_path: str | None = None,
        output_format: str = "aws-profile",
        profile_name: str = "asf",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if output_format not in OUTPUT_FORMATS:
            raise InvalidInputError(f"output_format {output_format!r} is not one of {OUTPUT_FORMATS}")
        check_profile_name(profile_name)
        self.earthdata_conn_id = earthdata_conn_id
        self.s3_credentials_url = s3_credentials_url
        self.bucket = bucket
        self.region_name = region_name
        self.output_path = output_path
        self.output_format = output_format
        self.profile_name = profile_name

    @cached_property
    def hook(self) -> AsfHook:
        """The ASF credentials hook."""
        from airflow_asf_ifg.hooks.asf import AsfHook  # not at DAG parse time: it loads boto3

        return AsfHook(self.earthdata_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        """Fetch, check, optionally write; return the non-secret facts."""
        with permanent_errors_fail_the_task():  # a login, EULA or endpoint problem: retrying cannot help
            credentials = self.hook.get_credentials(self.s3_credentials_url)
        region = self.region_name or self.hook.region_for(credentials.endpoint)
        bucket = self.bucket or (credentials.buckets[0] if credentials.buckets else None)
        if bucket:
            self._check(credentials, bucket, region)
        else:
            self.log.warning("The credentials name no bucket and none was given: skipping the S3 check")
        if self.output_path:
            self._write(credentials, region)
        facts = {
            "expiration": credentials.expiration.isoformat(),
            "endpoint": credentials.endpoint,
            "bucket": bucket,
            "buckets": list(credentials.buckets),
            "region": region,
            "lifetime_seconds": round(credentials.remaining_seconds()),
            "output_path": self.output_path,
        }
        self.log.info("Temporary S3 credentials work: %s", facts)
        return facts

    def _check(self, credentials: TemporaryCredentials, bucket: str, region: str) -> None:
        import boto3
        from botocore.exceptions import ClientError

        from airflow_asf_ifg.client.credentials import explain_s3_error

        client = boto3.client(
            "s3",
            region_name=region,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            **self.hook.client_config(),
        )
        try:
            listing = client.list_objects_v2(Bucket=bucket, MaxKeys=1)
        except ClientError as error:
            valid_in = self.hook.region_for(credentials.endpoint)
            explained = explain_s3_error(error, valid_in, bucket, signed_region=region)
            if isinstance(explained, AsfCredentialsError):
                raise AirflowFailException(str(explained)) from error
            raise
        self.log.info("s3://%s is readable with them (%d key(s) listed)", bucket, listing.get("KeyCount", 0))

    def _write(self, credentials: TemporaryCredentials, region: str) -> None:
        assert self.output_path, "called only with an output_path"
        path = Path(self.output_path).expanduser()
        endpoint_url = self.hook.earthdata.settings.s3_endpoint_url
        if self.output_format == "aws-profile":
            existing = path.read_text() if path.is_file() else ""
            text = aws_profile_text(existing, self.profile_name, credentials, region, endpoint_url)
        else:
            text = env_text(self.hook.gdal_config(credentials, region_name=region), credentials)
        write_private(path, text)
        self.log.info("Wrote the credentials (%s) to %s, mode 0600", self.output_format, path)
