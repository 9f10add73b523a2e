"""The ``earthdata`` connection: an Earthdata Login identity and the endpoints of the services."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import BaseHook

from airflow_asf_ifg.client.earthdata import (
    CONNECTION_FORMS,
    AsyncEarthdataSession,
    AuthPolicy,
    EarthdataIdentity,
    EarthdataSession,
    policy_for,
    resolve_identity,
    token_user,
)
from airflow_asf_ifg.client.settings import EarthdataSettings, plain_extra
from airflow_asf_ifg.compat import (
    AirflowNotFoundException,
    connection_form_widgets,
    mask_secret,
    ui_field_behaviour,
)
from airflow_asf_ifg.exceptions import ConfigurationError, ConnectionFormatError, InvalidSettingError
from airflow_asf_ifg.hooks import EARTHDATA_DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Connection


def _connection_type_info() -> dict[str, Any]:
    """The provider info's entry for the ``earthdata`` connection type."""
    from airflow_asf_ifg import get_provider_info

    types = cast("list[dict[str, Any]]", get_provider_info()["connection-types"])
    return next(c for c in types if c["connection-type"] == "earthdata")


class EarthdataHook(BaseHook):
    """Log in to Earthdata Login with an ``earthdata`` connection (or ``~/.netrc``) and build sessions.

    Identity, in order: the connection's ``token`` extra, its login and password, then the ``.netrc``
    entry for the EDL host (``$NETRC`` or ``~/.netrc``). Never prompts. Endpoint overrides come from the
    connection's extra; with no connection at all, the public services and ``.netrc`` are used.

    :param earthdata_conn_id: the connection id (default ``earthdata_default``).
    """

    conn_name_attr = "earthdata_conn_id"
    default_conn_name = EARTHDATA_DEFAULT_CONN_ID
    conn_type = "earthdata"
    hook_name = "Earthdata Login (NASA)"

    def __init__(self, earthdata_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.earthdata_conn_id = earthdata_conn_id

    # Airflow 3.1 builds the connection form from these two; 3.2+ reads the provider info (never calling them).
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The form's extra fields for Airflow 3.1: the provider info's ``conn-fields``."""
        return connection_form_widgets(_connection_type_info()["conn-fields"])

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The standard fields hidden and relabelled, for Airflow 3.1: the provider info's ``ui-field-behaviour``."""
        return ui_field_behaviour(_connection_type_info()["ui-field-behaviour"])

    @cached_property
    def connection(self) -> Connection | None:
        """The Airflow connection, or None when it is not defined."""
        try:
            connection = self.get_connection(self.earthdata_conn_id)
        except AirflowNotFoundException:
            self.log.info("No connection %r; using the public services and ~/.netrc", self.earthdata_conn_id)
            return None
        # Airflow reads AIRFLOW_CONN_* text that is not JSON as a URI whose scheme becomes the conn_type:
        # 'extra:{edl_url:...}' is a connection of type 'extra' without fields, which would silently mean the
        # public services. A JSON connection without conn_type is read field by field, so it is kept.
        if connection.conn_type not in (None, "", self.conn_type):
            raise ConnectionFormatError(
                f"connection {self.earthdata_conn_id!r} has conn_type {connection.conn_type!r}, not "
                f"{self.conn_type!r} (Airflow reads AIRFLOW_CONN_* text that is not JSON as a URI whose scheme becomes "
                f"the conn_type); give {CONNECTION_FORMS}"
            )
        return connection

    @cached_property
    def _extra(self) -> dict[str, Any]:
        return plain_extra(self.connection.extra_dejson) if self.connection else {}

    @cached_property
    def settings(self) -> EarthdataSettings:
        """Endpoints and TLS setting from the connection's extra."""
        extra = self._extra  # a connection of another type raises here, as it is
        try:
            return EarthdataSettings.from_extra(extra)
        except ValueError as error:
            raise InvalidSettingError(f"connection {self.earthdata_conn_id!r}: {error}") from None

    @cached_property
    def identity(self) -> EarthdataIdentity:
        """The EDL identity; its secrets are masked in logs from the moment they are read."""
        token = self._extra.get("token")
        login = self.connection.login if self.connection else None
        password = self.connection.password if self.connection else None
        for secret in (token, password):
            if secret:
                mask_secret(secret)
        identity = resolve_identity(token=token, login=login, password=password, edl_url=self.settings.edl_url)
        if identity.password:
            mask_secret(identity.password)  # also when it came from .netrc
        self.log.info("Earthdata Login identity: %s (from %s)", identity.login or "token only", identity.source)
        return identity

    def auth_policy(self) -> AuthPolicy:
        """Where credentials may be sent: Basic to EDL only; the token also to CMR and a TEA endpoint."""
        return policy_for(self.identity, self.settings)

    def get_session(self) -> EarthdataSession:
        """A ``requests`` session that logs in through EDL's redirects where a service asks for it."""
        return EarthdataSession(self.auth_policy(), verify=self.settings.verify)

    def get_async_session(self) -> AsyncEarthdataSession:
        """The aiohttp twin of :meth:`get_session`, for triggers (use it with ``async with``)."""
        return AsyncEarthdataSession(self.auth_policy(), verify=self.settings.verify)

    def test_connection(self) -> tuple[bool, str]:
        """Check the identity against EDL without creating anything (the UI's Test button)."""
        try:
            identity = self.identity
            session = self.get_session()
            edl = self.settings.edl_url
            if identity.can_log_in:
                response = session.get(f"{edl}/api/users/tokens", timeout=(10, 30))
            elif identity.token:
                response = session.get(f"{edl}/api/users/{token_user(identity.token)}", timeout=(10, 30))
            else:
                return False, "no Earthdata Login credentials: set login/password or token, or use ~/.netrc"
            if response.status_code == 200:
                return True, f"Earthdata Login accepted {identity.login or 'the token'} (from {identity.source})"
            return False, f"Earthdata Login answered {response.status_code}: {response.text[:200]}"
        except (ConfigurationError, ValueError, OSError) as error:  # a refused login, an unresolvable host...
            return False, str(error)
