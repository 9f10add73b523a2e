"""``asf-ifg credentials``: ASF's temporary S3 keys as ``export`` lines (or GDAL's options, or JSON).

It prints secrets by design, as the 2018 page's script did: its output is meant for ``eval``.
"""

from __future__ import annotations

import argparse
import json
import sys

from airflow_asf_ifg.cli.connection import Profile
from airflow_asf_ifg.client.credentials import fetch_credentials, gdal_options, region_for, shell_exports
from airflow_asf_ifg.client.settings import check_url, credentials_endpoints_text
from airflow_asf_ifg.exceptions import EndpointNotConfiguredError

APP_NAME = "airflow-asf-ifg-cli"


def run(args: argparse.Namespace) -> int:
    """Fetch the keys and print them in the chosen format; the expiration goes to stderr.

    :param args: the parsed arguments.
    """
    profile = Profile.load(args.conn_uri, args.conn_id)
    endpoint = check_url("--endpoint", args.endpoint) if args.endpoint else profile.settings.s3_credentials_url
    # Every credentials endpoint logs in through EDL: without a login the request can only fail, so both
    # gaps are reported before any request, the login first (it is needed whatever the endpoint).
    profile.login_identity()
    if not endpoint:
        where = (
            "no connection is given"
            if profile.fields.source == "no connection"
            else f"{profile.fields.source} has no s3_credentials_url"
        )
        raise EndpointNotConfiguredError(
            f"no credentials endpoint is configured ({where}): pass --endpoint URL or set s3_credentials_url in the "
            f"connection. {credentials_endpoints_text()}"
        )
    credentials = fetch_credentials(profile.session(), endpoint, APP_NAME)
    region = args.region or region_for(profile.settings, endpoint)
    if args.format == "json":
        json.dump(
            {
                "accessKeyId": credentials.access_key_id,
                "secretAccessKey": credentials.secret_access_key,
                "sessionToken": credentials.session_token,
                "expiration": credentials.expiration.isoformat(),
                "region": region,
                "s3_endpoint_url": profile.settings.s3_endpoint_url,
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
    elif args.format == "gdal":
        sys.stdout.write(shell_exports(gdal_options(credentials, profile.settings, region)))
    else:
        variables = credentials.environment(region)
        variables.pop("AWS_REGION", None)  # the page's three keys plus the region they are valid in
        sys.stdout.write(shell_exports(variables))
    print(
        f"# temporary S3 credentials from {endpoint}, valid until {credentials.expiration.isoformat()} in {region}",
        file=sys.stderr,
    )
    return 0
