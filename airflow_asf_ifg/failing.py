"""One rule for every task: a configuration error fails at once, everything else is Airflow's to retry.

Retrying a refused login locks the EDL account after a few tries, and retrying an unknown collection, a
retired endpoint or a bad argument only delays the same failure by ``retries * retry_delay``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from airflow.sdk.exceptions import AirflowFailException

from airflow_asf_ifg.exceptions import ConfigurationError


def is_permanent(error: BaseException) -> bool:
    """Whether retrying cannot fix ``error`` (a login, EULA, endpoint, collection or argument problem).

    :param error: the error raised.
    """
    return isinstance(error, ConfigurationError)


@contextlib.contextmanager
def configuration_errors_fail_the_task() -> Iterator[None]:
    """Turn a :class:`~airflow_asf_ifg.exceptions.ConfigurationError` raised inside into ``AirflowFailException``."""
    try:
        yield
    except ConfigurationError as error:
        raise AirflowFailException(f"{type(error).__name__}: {error}") from error
