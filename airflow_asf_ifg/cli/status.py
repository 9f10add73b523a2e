"""``asf-ifg status``: whether each product file is available, archived or being retrieved."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from botocore.exceptions import BotoCoreError, ClientError

from airflow_asf_ifg.cli.connection import Profile
from airflow_asf_ifg.cli.credentials import APP_NAME
from airflow_asf_ifg.client.archive import ProductStatus, door_status
from airflow_asf_ifg.client.asf_buckets import asf_s3_client
from airflow_asf_ifg.client.credentials import explain_s3_error, fetch_credentials, region_for
from airflow_asf_ifg.client.granule import file_name
from airflow_asf_ifg.client.s3 import parse_s3_url
from airflow_asf_ifg.client.s3_restore import object_state
from airflow_asf_ifg.exceptions import AsfIfgError, InvalidInputError


def check_targets(targets: list[str], profile: Profile) -> None:
    """Refuse, before any request, files whose state cannot be read with this connection.

    :param targets: the FILE arguments.
    :param profile: the connection.
    """
    for target in targets:
        if target.startswith("s3://"):
            parse_s3_url(target)
            if not profile.settings.s3_credentials_url:
                raise InvalidInputError(
                    f"{target}: reading an s3:// state needs temporary keys, but "
                    f"{profile.fields.source} has no s3_credentials_url"
                )
        elif not profile.settings.archive_status_url:
            raise InvalidInputError(
                f"{target}: {profile.fields.source} has no archive_status_url (the 2018 door's "
                f"/door/status/{{name}}); set it, or give s3://bucket/key to read the state with "
                f"S3 HeadObject"
            )


async def _door_states(profile: Profile, names: list[str]) -> list[ProductStatus]:
    async with profile.async_session() as session:
        return list(
            await asyncio.gather(
                *(door_status(session, profile.settings.archive_status_url or "", name) for name in names)
            )
        )


def _head_states(profile: Profile, targets: list[str]) -> list[ProductStatus]:
    settings = profile.settings
    endpoint = settings.s3_credentials_url or ""
    client = asf_s3_client(settings, endpoint, lambda: fetch_credentials(profile.session(), endpoint, APP_NAME))
    states = []
    for target in targets:
        bucket, key = parse_s3_url(target)
        try:
            states.append(object_state(client, bucket, key))
        except ClientError as error:
            explained = explain_s3_error(error, region_for(settings, endpoint), bucket)
            raise explained if isinstance(explained, AsfIfgError) else AsfIfgError(str(error)) from error
        except BotoCoreError as error:
            raise AsfIfgError(f"{target}: {error}") from error
    return states


def run(args: argparse.Namespace) -> int:
    """Print each file's state.

    :param args: the parsed arguments.
    """
    profile = Profile.load(args.conn_uri, args.conn_id)
    check_targets(args.files, profile)
    in_s3 = [t for t in args.files if t.startswith("s3://")]
    named = [file_name(t) for t in args.files if not t.startswith("s3://")]
    found = {s.name: s for s in asyncio.run(_door_states(profile, named))} if named else {}
    found.update(
        {f"s3://{parse_s3_url(t)[0]}/{s.name}": s for t, s in zip(in_s3, _head_states(profile, in_s3), strict=True)}
        if in_s3
        else {}
    )
    states = [found[t if t.startswith("s3://") else file_name(t)] for t in args.files]
    if args.format == "json":
        for target, state in zip(args.files, states, strict=True):
            sys.stdout.write(json.dumps({**state.to_dict(), "file": target}) + "\n")
        return 0
    width = max(len(t) for t in args.files)
    for target, state in zip(args.files, states, strict=True):
        expires = f"  until {state.expires.isoformat()}" if state.expires else ""
        sys.stdout.write(f"{target.ljust(width)}  {state.state.value}{expires}\n")
    return 0
