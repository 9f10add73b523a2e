"""Errors a user can act on, each saying what went wrong and what to do. Free of Airflow imports."""

from __future__ import annotations


class AsfIfgError(Exception):
    """Base of the provider's errors."""


class EarthdataLoginError(AsfIfgError):
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


class CredentialsRetiredError(AsfCredentialsError):
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
