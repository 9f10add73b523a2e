"""Where an event trigger keeps its watermark between triggerer restarts.

Airflow 3.3 gives a watcher's trigger the asset's state store (``self.asset_state_store``, ``aget``/``aset``
of JSON values). Before 3.3 there is none; the watermark then lives in an Airflow Variable named after the
trigger's arguments (``asf_ifg_cmr_watermark_<digest>``), which the triggerer reads and writes through the
same API. Only when neither can be read does the trigger fall back to memory, and say so.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

from airflow_asf_ifg.triggers.threads import in_thread

__all__ = ["MemoryStateStore", "StateStore", "VariableStateStore", "variable_name"]


class StateStore(Protocol):
    """The asset state store's interface, as the trigger uses it."""

    async def aget(self, key: str, default: Any = None) -> Any:
        """The value kept under ``key``, or ``default``."""

    async def aset(self, key: str, value: Any) -> None:
        """Keep ``value`` (JSON-able) under ``key``."""


class MemoryStateStore:
    """The state store's interface over a dict: for a trigger run outside a triggerer (tests, benchmarks)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        """The value kept under ``key``, or ``default``.

        :param key: the state's key.
        :param default: returned when nothing is kept.
        """
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        """Keep ``value`` under ``key``.

        :param key: the state's key.
        :param value: JSON-able.
        """
        self.values[key] = value


def variable_name(key: str, identity: Any) -> str:
    """The Variable holding ``key`` for the trigger with these arguments: stable across parses and restarts.

    :param key: the state's key (``cmr_watermark``).
    :param identity: JSON-able arguments that tell one watch from another (collection, AOI, connection).
    """
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"asf_ifg_{key}_{digest}"


class VariableStateStore:
    """The state store's ``aget``/``aset`` over Airflow Variables, one per key (Airflow 3.1 and 3.2).

    :param identity: JSON-able arguments that name the trigger's Variables (see :func:`variable_name`).
    """

    def __init__(self, identity: Any) -> None:
        self.identity = identity

    async def aget(self, key: str, default: Any = None) -> Any:
        """The Variable's JSON value, or ``default`` when it does not exist.

        :param key: the state's key.
        :param default: returned when there is no such Variable.
        """
        from airflow.sdk import Variable

        return await in_thread(Variable.get, variable_name(key, self.identity), default=default, deserialize_json=True)

    async def aset(self, key: str, value: Any) -> None:
        """Write the Variable.

        :param key: the state's key.
        :param value: JSON-able.
        """
        from airflow.sdk import Variable

        name = variable_name(key, self.identity)
        description = "The CMR watermark of an airflow-asf-ifg event trigger (Airflow before 3.3 has no state store)"
        await in_thread(Variable.set, name, value, description=description, serialize_json=True)
