"""Endpoints and identity of an ``earthdata`` connection, as plain values: no Airflow here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from airflow_asf_ifg.exceptions import InvalidSettingError

__all__ = [
    "CREDENTIALS_ENDPOINTS",
    "DEFAULT_CMR_URL",
    "DEFAULT_EDL_URL",
    "GRFN_DOOR_URL",
    "KNOWN_EXTRA",
    "RETIRED_DOOR_CREDENTIALS_URL",
    "RETIRED_DOOR_STATUS_URL",
    "CredentialsEndpoint",
    "EarthdataSettings",
    "check_url",
    "credentials_endpoints_text",
    "plain_extra",
]

DEFAULT_EDL_URL = "https://urs.earthdata.nasa.gov"
DEFAULT_CMR_URL = "https://cmr.earthdata.nasa.gov"
#: The GRFN door: products of every GUNW collection are downloaded from here, over HTTPS, by the URL in each
#: granule's CMR record (``/door/download/<file>``); it is never configured, only read from the granule.
GRFN_DOOR_URL = "https://grfn.asf.alaska.edu/door"
#: The 2018 door's endpoints, retired: ``/door/credentials`` answers 410 since 2020, ``/door/status`` is gone
#: since 2019 (asfadmin/grfn-distribution eaba453, ff0955b). Set them only for a service that still has them.
RETIRED_DOOR_CREDENTIALS_URL = f"{GRFN_DOOR_URL}/credentials"
RETIRED_DOOR_STATUS_URL = f"{GRFN_DOOR_URL}/status/{{name}}"


@dataclass(frozen=True)
class CredentialsEndpoint:
    """An ASF endpoint that issues temporary S3 keys, and what it serves.

    :param url: the ``/s3credentials`` URL.
    :param serves: the data it gives keys for, in a user's words.
    :param buckets: the buckets its keys read.
    """

    url: str
    serves: str
    buckets: str


#: ASF's TEA endpoints (thin-egress-app docs/s3access.md): keys valid 1 h, in us-west-2 only. None serves GUNW
#: products, which come over HTTPS through the door; a granule whose CMR record lists an ``s3://`` URL also
#: lists its own ``/s3credentials`` URL, which is used first.
CREDENTIALS_ENDPOINTS = (
    CredentialsEndpoint(
        "https://sentinel1.asf.alaska.edu/s3credentials",
        "Sentinel-1 SLC, GRD and other Level-1 products",
        "asf-ngap2w-p-s1-*",
    ),
    CredentialsEndpoint(
        "https://cumulus.asf.earthdatacloud.nasa.gov/s3credentials",
        "ASF's Cumulus-served collections (e.g. OPERA, NISAR)",
        "asf-cumulus-prod-*",
    ),
)


def credentials_endpoints_text() -> str:
    """One sentence naming every known credentials endpoint and what it serves, for error messages."""
    listed = "; ".join(f"{e.url} ({e.serves}, buckets {e.buckets})" for e in CREDENTIALS_ENDPOINTS)
    return (
        f"ASF's temporary S3 keys come from TEA endpoints: {listed}. GUNW products (ARIA_S1_GUNW and the "
        f"2018 GRFN collections) have none today: they come over HTTPS through {GRFN_DOOR_URL}/download/"
    )


_FORM_PREFIX = "extra__earthdata__"
_URL_FIELDS = ("edl_url", "cmr_url", "s3_credentials_url", "s3_endpoint_url")
KNOWN_EXTRA = frozenset({*_URL_FIELDS, "token", "archive_status_url", "region_name", "verify"})


def plain_extra(extra: dict[str, Any] | None) -> dict[str, Any]:
    """A connection's extra with empty fields dropped and each name as the provider knows it.

    The connection form may store fields as ``extra__earthdata__<name>`` (Airflow's older convention).

    :param extra: the connection's extra fields.
    """
    return {k.removeprefix(_FORM_PREFIX): v for k, v in (extra or {}).items() if v not in (None, "")}


def check_url(name: str, value: str) -> str:
    """Return ``value`` without a trailing slash if it is an http(s) URL, else raise naming the field.

    :param name: the setting's name, for the error.
    :param value: the URL.
    """
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidSettingError(f"{name} {value!r} is not an http(s) URL; give e.g. https://host/path")
    return value.rstrip("/")


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise InvalidSettingError(f"{name} {value!r} is not a boolean; give true or false")


@dataclass(frozen=True)
class EarthdataSettings:
    """Where the services are and how to reach them (the ``earthdata`` connection's extra).

    :param edl_url: Earthdata Login.
    :param cmr_url: CMR (without ``/search``).
    :param s3_credentials_url: the temporary S3 key endpoint (TEA ``/s3credentials`` or the 2018 door).
    :param archive_status_url: template with ``{name}`` for the 2018 door's status endpoint.
    :param s3_endpoint_url: where ASF's buckets are read (None for AWS).
    :param region_name: region of ASF's buckets.
    :param verify: verify TLS certificates.
    """

    edl_url: str = DEFAULT_EDL_URL
    cmr_url: str = DEFAULT_CMR_URL
    s3_credentials_url: str | None = None
    archive_status_url: str | None = None
    s3_endpoint_url: str | None = None
    region_name: str | None = None
    verify: bool = True

    @classmethod
    def from_extra(cls, extra: dict[str, Any] | None) -> EarthdataSettings:
        """Read the connection's extra, checking each value; unknown keys are refused by name.

        :param extra: the connection's extra fields.
        """
        extra = plain_extra(extra)
        unknown = sorted(set(extra) - KNOWN_EXTRA)
        if unknown:
            raise InvalidSettingError(
                f"unknown earthdata connection extra field(s) {unknown}; accepted: {sorted(KNOWN_EXTRA)}"
            )
        values: dict[str, Any] = {name: check_url(name, str(extra[name])) for name in _URL_FIELDS if name in extra}
        if "archive_status_url" in extra:
            template = str(extra["archive_status_url"])
            if "{name}" not in template:
                raise InvalidSettingError(
                    f"archive_status_url {template!r} has no {{name}} placeholder; give e.g. "
                    f"https://grfn.asf.alaska.edu/door/status/{{name}}"
                )
            check_url("archive_status_url", template.replace("{name}", "x"))
            values["archive_status_url"] = template
        if "region_name" in extra:
            values["region_name"] = str(extra["region_name"])
        if "verify" in extra:
            values["verify"] = _flag("verify", extra["verify"])
        return cls(**values)
