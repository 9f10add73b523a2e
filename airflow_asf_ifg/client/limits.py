"""Service limits (CMR, S3), in one module of their own so that a DAG's parse imports no HTTP stack."""

from __future__ import annotations

from airflow_asf_ifg.exceptions import InvalidInputError

__all__ = [
    "MAX_PAGE_SIZE",
    "MIB",
    "ON_INCOMPLETE",
    "S3_MAX_PARTS",
    "S3_MAX_SINGLE_COPY",
    "S3_MAX_SINGLE_PUT",
    "S3_MIN_PART_SIZE",
    "check_search_options",
]

#: CMR answers at most 2000 granules per page (CMR api.md "Paging Details").
MAX_PAGE_SIZE = 2000
ON_INCOMPLETE = ("raise", "warn")


def check_search_options(page_size: int, on_incomplete: str, **counts: int | None) -> None:
    """Refuse search options CMR or the client cannot honour, naming the value and what is accepted.

    :param page_size: granules per page (1-2000).
    :param on_incomplete: ``raise`` or ``warn``.
    :param counts: name → a granule count that must be at least 1 when given (``limit``, ``max_hits``...).
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"page_size {page_size} must be between 1 and {MAX_PAGE_SIZE}")
    for name, value in counts.items():
        if value is not None and value < 1:
            raise InvalidInputError(f"{name} {value} must be at least 1")
    if on_incomplete not in ON_INCOMPLETE:
        raise InvalidInputError(f"on_incomplete {on_incomplete!r} must be 'raise' or 'warn'")


MIB = 1024 * 1024
#: S3 multipart limits (S3 "Amazon S3 multipart upload limits"): parts of 5 MiB to 5 GiB but the last,
#: at most 10,000 parts; a single PutObject or CopyObject takes at most 5 GiB.
S3_MIN_PART_SIZE = 5 * MIB
S3_MAX_PARTS = 10_000
S3_MAX_SINGLE_PUT = 5 * 1024**3
S3_MAX_SINGLE_COPY = 5 * 1024**3
