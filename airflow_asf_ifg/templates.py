"""Whether an operator argument is still a template, so that its check waits until it is rendered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from airflow_asf_ifg.compat import AirflowFailException

T = TypeVar("T")


def is_templated(value: Any) -> bool:
    """True for Jinja text (``"{{ params.files }}"``) and for values resolved at run time (XComArg).

    :param value: an operator argument as given in the DAG file.
    """
    return (isinstance(value, str) and "{{" in value) or hasattr(value, "resolve")


def checked_after_rendering(value: Any, check: Callable[[Any], T]) -> T:
    """``check(value)`` on a rendered argument; a ValueError fails the task without retries (retrying cannot help).

    :param value: the argument after templating.
    :param check: returns the checked value or raises ValueError naming what is accepted.
    """
    try:
        return check(value)
    except ValueError as error:
        raise AirflowFailException(str(error)) from error
