"""Service limits (CMR, S3), in one module of their own so that a DAG's parse imports no HTTP stack."""

from __future__ import annotations

import math
from typing import Any

from airflow_asf_ifg.exceptions import InvalidInputError

__all__ = [
    "MAX_PAGE_SIZE",
    "MIB",
    "ON_INCOMPLETE",
    "S3_MAX_PARTS",
    "S3_MAX_SINGLE_COPY",
    "S3_MAX_SINGLE_PUT",
    "S3_MIN_PART_SIZE",
    "check_number",
    "check_positive",
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
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"page_size {page_size} must be between 1 and {MAX_PAGE_SIZE}")
    for name, value in counts.items():
        if value is not None:
            check_number(name, value, minimum=1, above_minimum=False, integer=True)
    if on_incomplete not in ON_INCOMPLETE:
        raise InvalidInputError(f"on_incomplete {on_incomplete!r} must be 'raise' or 'warn'")


MIB = 1024 * 1024
#: S3 multipart limits (S3 "Amazon S3 multipart upload limits"): parts of 5 MiB to 5 GiB but the last,
#: at most 10,000 parts; a single PutObject or CopyObject takes at most 5 GiB.
S3_MIN_PART_SIZE = 5 * MIB
S3_MAX_PARTS = 10_000
S3_MAX_SINGLE_PUT = 5 * 1024**3
S3_MAX_SINGLE_COPY = 5 * 1024**3


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float = 0,
    maximum: float | None = None,
    above_minimum: bool = True,
    integer: bool = False,
) -> Any:
    """``value`` if it is a finite number in range, else an InvalidInputError naming the accepted range.

    Zero or NaN where a wait, a count or an interval is expected hangs a loop or makes it spin; refused here.

    :param name: the argument's name, for the message.
    :param value: the value.
    :param minimum: the lower bound.
    :param maximum: the upper bound (inclusive), when there is one.
    :param above_minimum: whether ``value`` must be strictly above ``minimum`` (else at least it).
    :param integer: whether ``value`` must be a whole number.
    """
    wanted = f"greater than {_number_text(minimum)}" if above_minimum else f"at least {_number_text(minimum)}"
    if maximum is not None:
        wanted += f" and at most {_number_text(maximum)}"
    wanted += " (a whole number)" if integer else " (a finite number)"
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        raise InvalidInputError(f"{name} {value!r} must be {wanted}")
    if (
        not math.isfinite(value)
        or (value <= minimum if above_minimum else value < minimum)
        or (maximum is not None and value > maximum)
    ):
        raise InvalidInputError(f"{name} {value!r} must be {wanted}")
    return value


def check_positive(name: str, value: Any, *, integer: bool = False) -> Any:
    """``value`` if it is a finite number above zero, else an InvalidInputError saying so.

    :param name: the argument's name, for the message.
    :param value: the value.
    :param integer: whether it must be a whole number.
    """
    return check_number(name, value, integer=integer)


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
