"""Whether an operator argument is still a template, so that its check waits until it is rendered."""

from __future__ import annotations

from typing import Any


def is_templated(value: Any) -> bool:
    """True for Jinja text (``"{{ params.files }}"``) and for values resolved at run time (XComArg).

    :param value: an operator argument as given in the DAG file.
    """
    return (isinstance(value, str) and "{{" in value) or hasattr(value, "resolve")
