"""Identity and endpoints for the command line, from the same places as in Airflow, without importing Airflow.

Order: ``--conn-uri`` or ``AIRFLOW_CONN_<CONN_ID>`` (Airflow's URI or JSON form), then ``.netrc`` for the
EDL host, then ``EARTHDATA_TOKEN`` or ``EARTHDATA_USERNAME`` + ``EARTHDATA_PASSWORD``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from airflow_asf_ifg.cli import DEFAULT_CONN_ID
from airflow_asf_ifg.client.earthdata import (
    CONNECTION_FORMS,
    EARTHDATA_CONN_TYPE,
    AsyncEarthdataSession,
    EarthdataIdentity,
    EarthdataSession,
    policy_for,
    resolve_identity,
)
from airflow_asf_ifg.client.settings import EarthdataSettings, plain_extra
from airflow_asf_ifg.exceptions import (
    ConnectionFormatError,
    EarthdataLoginError,
    InvalidSettingError,
    LoginNotConfiguredError,
)


@dataclass(frozen=True)
class ConnectionFields:
    """The parts of an ``earthdata`` connection the command line reads.

    :param login: the EDL username.
    :param password: the EDL password.
    :param extra: the extra fields (token and endpoints).
    :param source: where it was read, for messages.
    """

    login: str | None = None
    password: str | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    source: str = "no connection"


def parse_connection(text: str, source: str) -> ConnectionFields:
    """Read a connection in Airflow's JSON form or URI form (``earthdata://login:password@/?extra=...``).

    :param text: the connection text.
    :param source: where it came from (an environment variable or ``--conn-uri``), for errors.
    """
    text = text.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConnectionFormatError(
                f"{source} is not valid JSON ({error.msg} at character {error.pos}); give {CONNECTION_FORMS}"
            ) from None
        conn_type = document.get("conn_type")
        if conn_type not in (None, "", EARTHDATA_CONN_TYPE):
            raise ConnectionFormatError(
                f"{source} has conn_type {conn_type!r}, not {EARTHDATA_CONN_TYPE!r}; give {CONNECTION_FORMS}"
            )
        given = document.get("extra") or {}
        if isinstance(given, str):
            given = _json_object(given, f"{source} extra")
        if not isinstance(given, dict):
            raise ConnectionFormatError(f"{source}: extra must be a JSON object, not {type(given).__name__}")
        return ConnectionFields(document.get("login"), document.get("password"), given, source)
    parts = urlsplit(text)
    # Airflow takes any text that is not JSON as a URI whose scheme is the conn_type (so 'extra:{...}' is a
    # connection of type 'extra' with no fields): only an earthdata:// URI is one. The text is not echoed: it
    # may hold a password; the scheme is what comes before the first ':', never the password.
    if parts.scheme != EARTHDATA_CONN_TYPE or not text[len(parts.scheme) :].startswith("://"):
        found = (
            f" (it reads as a connection of type {parts.scheme!r})"
            if parts.scheme and parts.scheme != EARTHDATA_CONN_TYPE
            else ""
        )
        raise ConnectionFormatError(
            f"{source} is neither Airflow's JSON form nor an {EARTHDATA_CONN_TYPE}:// URI"
            f"{found}; give {CONNECTION_FORMS}"
        )
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    # Airflow's URI form: the query holds the extra, or one __extra__ parameter holds it as JSON.
    extra: dict[str, Any] = _json_object(query["__extra__"], f"{source} __extra__") if "__extra__" in query else query
    login = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return ConnectionFields(login, password, extra, source)


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise ConnectionFormatError(f"{what} is not a JSON object") from None
    if not isinstance(value, dict):
        raise ConnectionFormatError(f"{what} must be a JSON object, not {type(value).__name__}")
    return value


def connection_fields(conn_uri: str | None, conn_id: str = DEFAULT_CONN_ID) -> ConnectionFields:
    """The connection from ``--conn-uri``, else from ``AIRFLOW_CONN_<CONN_ID>``, else an empty one.

    :param conn_uri: the ``--conn-uri`` value.
    :param conn_id: the connection id whose environment variable is read.
    """
    if conn_uri:
        return parse_connection(conn_uri, "--conn-uri")
    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    value = os.environ.get(variable)
    return parse_connection(value, variable) if value else ConnectionFields()


@dataclass(frozen=True)
class Profile:
    """Who the user is and where the services are, for one run of the command line.

    :param settings: the endpoints.
    :param fields: the connection it came from.
    """

    settings: EarthdataSettings
    fields: ConnectionFields

    @classmethod
    def load(cls, conn_uri: str | None, conn_id: str = DEFAULT_CONN_ID) -> Profile:
        """Read the connection and check its endpoints (no network).

        :param conn_uri: the ``--conn-uri`` value.
        :param conn_id: the connection id.
        """
        fields = connection_fields(conn_uri, conn_id)
        try:
            settings = EarthdataSettings.from_extra(fields.extra)
        except ValueError as error:
            raise InvalidSettingError(f"{fields.source}: {error}") from None
        return cls(settings, fields)

    def identity(self) -> EarthdataIdentity:
        """The EDL identity: the connection, then ``.netrc``, then the ``EARTHDATA_*`` variables."""
        extra = plain_extra(self.fields.extra)
        identity = resolve_identity(
            token=extra.get("token"),
            login=self.fields.login,
            password=self.fields.password,
            edl_url=self.settings.edl_url,
        )
        if identity.source != "none":
            return identity
        token = os.environ.get("EARTHDATA_TOKEN") or None
        login, password = os.environ.get("EARTHDATA_USERNAME"), os.environ.get("EARTHDATA_PASSWORD")
        if login and not password:
            raise EarthdataLoginError(
                "EARTHDATA_USERNAME is set but EARTHDATA_PASSWORD is not; set both, or EARTHDATA_TOKEN"
            )
        if login or token:
            return EarthdataIdentity(token=token, login=login, password=password, source="EARTHDATA_* variables")
        return identity

    def login_identity(self) -> EarthdataIdentity:
        """The EDL identity, refused before any request when there is none at all (no login, no token)."""
        identity = self.identity()
        if identity.can_log_in or identity.token:
            return identity
        netrc = os.environ.get("NETRC") or "~/.netrc"
        host = urlsplit(self.settings.edl_url).hostname
        raise LoginNotConfiguredError(
            f"no Earthdata Login is given: add 'machine {host} login LOGIN password PASSWORD' to {netrc}, set "
            f"EARTHDATA_USERNAME and EARTHDATA_PASSWORD or EARTHDATA_TOKEN, or pass --conn-uri "
            f"earthdata://LOGIN:PASSWORD@/"
        )

    def session(self) -> EarthdataSession:
        """A ``requests`` session that logs in through EDL where a service asks for it."""
        return EarthdataSession(policy_for(self.identity(), self.settings), verify=self.settings.verify)

    def async_session(self) -> AsyncEarthdataSession:
        """The aiohttp twin of :meth:`session` (use it with ``async with``)."""
        return AsyncEarthdataSession(policy_for(self.identity(), self.settings), verify=self.settings.verify)
