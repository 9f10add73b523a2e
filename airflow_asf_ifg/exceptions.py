"""Errors a user can act on, each saying what went wrong and what to do. Free of Airflow imports.

Each error says whether it is ``permanent`` (retrying cannot fix it): Airflow tasks then fail at once
(``airflow_asf_ifg.failing``), and the command line exits 2 for :class:`InvalidInputError` (refused before
any request) and 1 for everything else.
"""

from __future__ import annotations

from typing import ClassVar

from airflow_asf_ifg.client.retry import RETRYABLE_STATUSES


class AsfIfgError(Exception):
    """Base of the provider's errors; ``permanent`` says whether retrying could help."""

    #: The answer of :attr:`permanent` for every error of the class; classes whose answer depends on the
    #: error (its HTTP status) override the property instead.
    _permanent: ClassVar[bool] = False

    @property
    def permanent(self) -> bool:
        """Whether retrying cannot fix this error (tasks fail at once; see ``airflow_asf_ifg.failing``)."""
        return self._permanent


class ConfigurationError(AsfIfgError):
    """A setting, an input or an account is wrong: retrying cannot fix it, so tasks fail at once.

    Login refused, EULA not accepted, a retired or missing endpoint, an unknown collection, a bad argument.
    """

    _permanent = True


class InvalidInputError(ConfigurationError, ValueError):
    """An argument, a setting or an input was refused before any request (the command line's exit 2)."""


class InvalidSettingError(InvalidInputError):
    """A connection's field or extra has a value that cannot work (not a URL, not a boolean, unknown name)."""


class EndpointNotConfiguredError(InvalidInputError):
    """A service endpoint the work needs has no default and none was configured.

    :param message: which endpoint is missing, where it can be set, and which exist.
    """


class DestinationBucketError(ConfigurationError):
    """The destination bucket does not exist or the destination connection may not use it."""


class EarthdataLoginError(ConfigurationError):
    """Earthdata Login refused the login (wrong password, missing credentials, profile problem).

    Never retried automatically: repeated failed logins lock the EDL account.

    :param message: what happened and what to do.
    :param resolution_url: where EDL says the user can fix it, when it said.
    """

    def __init__(self, message: str, resolution_url: str | None = None) -> None:
        super().__init__(message)
        self.resolution_url = resolution_url


class EulaNotAcceptedError(EarthdataLoginError):
    """The EDL user has not accepted the EULA of the application serving the data.

    :param message: what happened and what to do.
    :param resolution_url: the page where the EULA can be accepted.
    """


class ServiceError(AsfIfgError):
    """A service's answer, with its HTTP status when there was one; permanent when the service refused the
    request itself (a 4xx other than 408 and 429), which a retry would send again unchanged.

    :param message: what happened, with the service's own words.
    :param status: the HTTP status, when there was one.
    """

    #: Whether an error without a status (the service was never reached, or gave no answer) is permanent.
    _permanent_without_status: ClassVar[bool] = False

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def permanent(self) -> bool:
        """Whether retrying cannot help: the class says so, or the service refused the request itself."""
        if self._permanent:
            return True
        if self.status is None:
            return self._permanent_without_status
        return 400 <= self.status < 500 and self.status not in RETRYABLE_STATUSES


class CmrSearchError(ServiceError):
    """CMR refused a query (permanent) or kept failing after retries (not).

    :param message: what happened, with CMR's own error messages.
    :param status: the HTTP status, when there was one.
    """


class IncompleteSearchError(CmrSearchError):
    """CMR returned fewer granules than it counted, or said its search timed out (partial results).

    :param message: what happened and what to do.
    :param received: granules received.
    :param hits: granules CMR counted.
    """

    def __init__(self, message: str, received: int, hits: int) -> None:
        super().__init__(message)
        self.received = received
        self.hits = hits


class CollectionNotFoundError(CmrSearchError, ConfigurationError):
    """CMR does not know the collection concept id a search names (a typo, or a collection from another CMR)."""

    _permanent = True  # whatever the status: the id itself is wrong


class TooManyResultsError(CmrSearchError):
    """A search matched more granules than the caller allowed (permanent: the same search matches as many).

    :param message: what happened and what to do.
    :param hits: granules CMR counted.
    :param max_results: the limit.
    """

    _permanent = True  # the same search matches as many granules again

    def __init__(self, message: str, hits: int, max_results: int) -> None:
        super().__init__(message)
        self.hits = hits
        self.max_results = max_results


class AsfCredentialsError(ServiceError):
    """ASF's temporary S3 credentials could not be had, or S3 refused them; permanent unless the service failed
    for now (429, 5xx): refused keys (out of region, unknown) are refused again on every retry.

    :param message: what happened and what to do.
    :param status: the HTTP status, when there was one.
    """

    _permanent_without_status = True


class CredentialsUnavailableError(AsfCredentialsError):
    """The credentials endpoint kept failing for now (429, 5xx, dropped connections) through every retry;
    never permanent: a later run may get keys."""

    _permanent_without_status = False


class CredentialsRetiredError(AsfCredentialsError, ConfigurationError):
    """The credentials endpoint answered 410 Gone: ASF retired it (``/door/credentials`` since 2020)."""

    _permanent = True  # a retired endpoint stays retired


class ProductArchivedError(AsfIfgError):
    """The product is in long-term storage (a 202 from the door, or a GLACIER object not restored).

    :param message: what happened and what to do.
    :param name: the product's file name or key.
    """

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


class ProductMissingError(AsfIfgError):
    """The product is not where its URL says (404); permanent: search again for its current name."""

    _permanent = True


class TransferError(AsfIfgError):
    """A copy failed for good (after retries); nothing was left at the destination."""


class ChecksumMismatchError(TransferError):
    """The bytes read do not match the size or checksum CMR publishes; the upload was aborted.

    Permanent: the bytes came through TLS and matched what the server sent, so the product differs from its
    CMR record (reprocessed, or a wrong record), and a retry reads the same bytes again.
    """

    _permanent = True


class ConnectionFormatError(InvalidInputError):
    """A connection is not an ``earthdata`` one: neither Airflow's JSON form nor an ``earthdata://`` URI.

    Airflow reads any ``AIRFLOW_CONN_*`` text that is not JSON as a URI whose scheme is the conn_type, so a
    mistyped value becomes a connection of another type with none of its fields; it is refused, not ignored.
    """


class LoginNotConfiguredError(EarthdataLoginError, InvalidInputError):
    """No Earthdata Login identity anywhere it is looked for (connection, ``.netrc``, ``EARTHDATA_*``)."""


class HostNotFoundError(ConfigurationError):
    """A service's host name does not resolve (DNS): a typo in a URL setting, or no DNS here; never retried.

    :param message: the host, the URL, and the setting to check.
    :param host: the host name that did not resolve.
    """

    def __init__(self, message: str, host: str | None = None) -> None:
        super().__init__(message)
        self.host = host
