"""One rule for every task: a permanent error fails at once, everything else is Airflow's to retry.

Retrying a refused login locks the EDL account after a few tries, and retrying an unknown collection, a
retired endpoint or a bad argument only delays the same failure by ``retries * retry_delay``. Which errors
are permanent is said by the errors themselves (``AsfIfgError.permanent``, in ``exceptions.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from airflow_asf_ifg.compat import AirflowFailException
from airflow_asf_ifg.exceptions import AsfIfgError


def is_permanent(error: BaseException) -> bool:
    """Whether retrying cannot fix ``error`` (a login, EULA, endpoint, collection, product or argument problem).

    :param error: the error raised.
    """
    return isinstance(error, AsfIfgError) and bool(error.permanent)


@contextlib.contextmanager
def permanent_errors_fail_the_task() -> Iterator[None]:
    """Turn a permanent :class:`~airflow_asf_ifg.exceptions.AsfIfgError` raised inside into ``AirflowFailException``."""
    try:
        yield
    except AsfIfgError as error:
        if not error.permanent:
            raise
        raise AirflowFailException(f"{type(error).__name__}: {error}") from error
