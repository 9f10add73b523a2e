"""Errors a user can act on, each saying what went wrong and what to do. Free of Airflow imports."""

from __future__ import annotations


class AsfIfgError(Exception):
    """Base of the provider's errors."""


class ConfigurationError(AsfIfgError):
    """A setting, an input or an account is wrong: retrying cannot fix it, so tasks fail at once.

    Login refused, EULA not accepted, a retired or missing endpoint, an unknown collection, a bad argument.
    """


class InvalidSettingError(ConfigurationError, ValueError):
    """A connection's field or extra has a value that cannot work (not a URL, not a boolean, unknown name)."""


class EndpointNotConfiguredError(ConfigurationError, ValueError):
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


class CmrSearchError(AsfIfgError):
    """CMR refused a query or kept failing after retries.

    :param message: what happened, with CMR's own error messages.
    :param status: the HTTP status, when there was one.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


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


class TooManyResultsError(CmrSearchError):
    """A search matched more granules than the caller allowed.

    :param message: what happened and what to do.
    :param hits: granules CMR counted.
    :param max_results: the limit.
    """

    def __init__(self, message: str, hits: int, max_results: int) -> None:
        super().__init__(message)
        self.hits = hits
        self.max_results = max_results


class AsfCredentialsError(AsfIfgError):
    """ASF's temporary S3 credentials could not be had, or S3 refused them.

    :param message: what happened and what to do.
    :param status: the HTTP status, when there was one.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CredentialsRetiredError(AsfCredentialsError, ConfigurationError):
    """The credentials endpoint answered 410 Gone: ASF retired it (``/door/credentials`` since 2020)."""


class ProductArchivedError(AsfIfgError):
    """The product is in long-term storage (a 202 from the door, or a GLACIER object not restored).

    :param message: what happened and what to do.
    :param name: the product's file name or key.
    """

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


class ProductMissingError(AsfIfgError):
    """The product is not where its URL says (404)."""


class TransferError(AsfIfgError):
    """A copy failed for good (after retries); nothing was left at the destination."""


class ChecksumMismatchError(TransferError):
    """The bytes read do not match the size or checksum CMR publishes; the upload was aborted."""


class ConnectionFormatError(ConfigurationError, ValueError):
    """A connection is not an ``earthdata`` one: neither Airflow's JSON form nor an ``earthdata://`` URI.

    Airflow reads any ``AIRFLOW_CONN_*`` text that is not JSON as a URI whose scheme is the conn_type, so a
    mistyped value becomes a connection of another type with none of its fields; it is refused, not ignored.
    """


class LoginNotConfiguredError(EarthdataLoginError, ValueError):
    """No Earthdata Login identity anywhere it is looked for (connection, ``.netrc``, ``EARTHDATA_*``)."""


class HostNotFoundError(ConfigurationError):
    """A service's host name does not resolve (DNS): a typo in a URL setting, or no DNS here; never retried.

    :param message: the host, the URL, and the setting to check.
    :param host: the host name that did not resolve.
    """

    def __init__(self, message: str, host: str | None = None) -> None:
        super().__init__(message)
        self.host = host
