"""What a DAG file may check while it is parsed, without depending on the protocol code behind the tasks.

The example DAG validates ``aois.yaml`` with these; every check raises a ValueError that names the bad value
and what is accepted, and none opens a connection or imports an HTTP stack.
"""

from __future__ import annotations

import re
from typing import Any

from airflow_asf_ifg.client.aoi import parse_aoi
from airflow_asf_ifg.client.granule import ROLES, checked_roles
from airflow_asf_ifg.client.limits import check_number, check_positive
from airflow_asf_ifg.exceptions import InvalidInputError

__all__ = [
    "BUCKET_PATTERN",
    "FILE_ROLES",
    "WINDOWS",
    "check_aoi",
    "check_bucket_name",
    "check_files",
    "check_number",
    "check_positive",
    "check_profile_name",
    "check_window",
]

#: S3 bucket naming rules (AWS "General purpose bucket naming rules"): 3-63 characters of lowercase letters,
#: digits, dots and hyphens, beginning and ending with a letter or digit.
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
_IP_ADDRESS = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
#: Prefixes and suffixes AWS reserves (same page).
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

#: Which files of a granule a task may take: the product, its browse image, its metadata.
FILE_ROLES = ROLES
#: The time windows of a search: ``acquisition`` (acquired in the run's interval) or ``revision`` (added or
#: reprocessed in CMR in it).
WINDOWS = ("acquisition", "revision")


def check_aoi(aoi: Any) -> None:
    """Refuse an area of interest CMR could not be asked about (WKT, GeoJSON, bbox or point accepted).

    :param aoi: the area of interest.
    """
    parse_aoi(aoi)


def check_files(files: Any) -> list[str]:
    """The file roles as a list, or a ValueError naming the accepted ones.

    :param files: e.g. ``["data", "browse"]``.
    """
    return list(checked_roles(files))


def check_window(window: Any) -> str:
    """``window`` if it is one of :data:`WINDOWS`, else a ValueError naming them.

    :param window: ``acquisition`` or ``revision``.
    """
    if window not in WINDOWS:
        raise InvalidInputError(f"window {window!r} is not one of {list(WINDOWS)}")
    return str(window)


def check_bucket_name(bucket: Any, name: str = "dest_bucket") -> str:
    """``bucket`` if it follows S3's bucket naming rules, else an InvalidInputError saying which rule it breaks.

    :param bucket: the bucket name.
    :param name: the argument's name, for the message.
    """
    text = bucket if isinstance(bucket, str) else None
    if not text:
        raise InvalidInputError(f"{name} {bucket!r} is empty or not text; give an S3 bucket name such as 'my-bucket'")
    rules = (
        "3-63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit, "
        "no '..', not an IP address (AWS bucket naming rules)"
    )
    if (
        not re.fullmatch(BUCKET_PATTERN, text)
        or ".." in text
        or _IP_ADDRESS.match(text)
        or text.startswith(_RESERVED_PREFIXES)
        or text.endswith(_RESERVED_SUFFIXES)
    ):
        raise InvalidInputError(f"{name} {text!r} is not a valid S3 bucket name: {rules}")
    return text


def check_profile_name(profile: Any) -> str:
    """``profile`` if it can name a section of the AWS credentials file, else an InvalidInputError.

    A ``[``, ``]``, newline or other control character would end the section header and corrupt the file.

    :param profile: the profile name.
    """
    if not isinstance(profile, str) or not profile.strip():
        raise InvalidInputError(f"profile_name {profile!r} is empty; give a name such as 'asf'")
    if profile != profile.strip() or any(c in "[]#;=" or not c.isprintable() for c in profile):
        raise InvalidInputError(
            f"profile_name {profile!r} has a character the AWS credentials file cannot hold in a section name "
            f"('[', ']', '#', ';', '=', a newline or another control character, or surrounding spaces); "
            f"give a plain name such as 'asf'"
        )
    return profile
