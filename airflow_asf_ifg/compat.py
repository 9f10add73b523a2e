"""Every import and behaviour that differs between the Airflow versions the package supports (3.1, 3.2, 3.3).

The rest of the package (and the example DAGs, and the tests) import these names from here, never from
Airflow; ``tests/test_compat.py`` fails naming the file and line of an import that bypasses this module.
Names that are the same in every supported version (``airflow.sdk.DAG``, ``BaseOperator``, ...) are not here.
``DagBag`` and ``SharedStreamManager`` (for tests) are imported on first use: ``from airflow_asf_ifg.compat import
DagBag``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from airflow import __version__ as _airflow_version

# Same place in every version; here so that secret masking, sync and async, has one import.
from airflow.sdk.log import mask_secret
from packaging.version import Version

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "HAS_ASSET_STATE_STORE",
    "HAS_SHARED_STREAMS",
    "PARAM_VALIDATION_ERRORS",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "CronDataIntervalTimetable",
    "ParamValidationError",
    "amask_secret",
    "conf",
    "connection_form_widgets",
    "connection_hook_class_name",
    "mask_secret",
    "task_runtime_hook_info",
    "ui_field_behaviour",
]

#: The installed Airflow, without pre-release or local parts (``3.2.0rc1`` counts as 3.2.0).
AIRFLOW_VERSION = Version(Version(_airflow_version).base_version)
AIRFLOW_V_3_2_PLUS = Version("3.2.0") <= AIRFLOW_VERSION
AIRFLOW_V_3_3_PLUS = Version("3.3.0") <= AIRFLOW_VERSION

# mypy checks against the newest Airflow (TYPE_CHECKING is true for it); the else branches are what 3.1 runs.
if TYPE_CHECKING or AIRFLOW_V_3_2_PLUS:
    from airflow.sdk import CronDataIntervalTimetable, conf
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
        ParamValidationError,
    )
else:
    # Task SDK 1.1 (Airflow 3.1) raises these from airflow-core, and has no conf or timetables of its own:
    # the task runner there catches exactly these classes, so they are the ones to raise.
    from airflow.configuration import conf
    from airflow.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
        ParamValidationError,
    )
    from airflow.timetables.interval import CronDataIntervalTimetable

if TYPE_CHECKING or AIRFLOW_V_3_3_PLUS:
    from airflow.sdk.log import amask_secret
else:

    async def amask_secret(secret: Any, name: str | None = None) -> None:
        """Mask a secret from a coroutine (airflow.sdk.log.amask_secret arrived in 3.3).

        The sync ``mask_secret`` tells the triggerer's supervisor through a sync bridge that cannot run on the
        event loop's own thread (3.1's async_to_sync refuses to; 3.2's needs a greenback portal): it runs in a
        worker thread, and asgiref routes its supervisor call back to this loop.

        :param secret: the value to mask.
        :param name: the name it goes by (a key whose values are masked wherever they appear).
        """
        from asgiref.sync import sync_to_async

        await sync_to_async(mask_secret)(secret, name)


#: What a DAG run with parameters its schema refuses raises. 3.1 and 3.3: ParamValidationError (3.3's is also a
#: ValueError); 3.2: a plain ValueError from dag.test()'s serialized-DAG check ("Invalid input for param ...",
#: airflow/serialization/definitions/param.py), ParamValidationError from the Task SDK's own checks.
PARAM_VALIDATION_ERRORS: tuple[type[Exception], ...] = (
    (ParamValidationError, ValueError) if AIRFLOW_V_3_2_PLUS and not AIRFLOW_V_3_3_PLUS else (ParamValidationError,)
)

#: Whether event triggers get an asset state store (``trigger.asset_state_store``, Airflow 3.3 AIP-93). Older
#: triggerers give none, and the event trigger keeps its watermark in an Airflow Variable instead.
HAS_ASSET_STATE_STORE = AIRFLOW_V_3_3_PLUS

#: Whether the triggerer shares one stream among event triggers of one ``shared_stream_key()`` (Airflow 3.3,
#: ``airflow.triggers.shared_stream``). Older triggerers never call the shared-stream methods: each polls alone.
HAS_SHARED_STREAMS = AIRFLOW_V_3_3_PLUS


def connection_form_widgets(conn_fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The connection form's extra fields as Airflow 3.1 takes them (wtforms fields), from ``conn-fields``.

    3.2 and later read ``conn-fields`` from the provider info and never call a hook's
    ``get_connection_form_widgets``; 3.1 only calls it, inside its API server, which stands in for wtforms,
    flask_babel and flask_appbuilder when they are not installed (as here: the package needs none of them).

    :param conn_fields: the provider info's ``conn-fields`` of one connection type.
    """
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, PasswordField, StringField

    widgets: dict[str, Any] = {}
    for name, field in conn_fields.items():
        schema = field.get("schema", {})
        types = schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")]
        label, description = lazy_gettext(field.get("label", name)), field.get("description", "")
        if "boolean" in types:
            widgets[name] = BooleanField(label, description=description, default=schema.get("default"))
        elif schema.get("format") == "password":
            widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget(), description=description)
        else:
            widgets[name] = StringField(label, widget=BS3TextFieldWidget(), description=description)
    return widgets


def ui_field_behaviour(behaviour: dict[str, Any]) -> dict[str, Any]:
    """The standard fields' behaviour as Airflow 3.1 takes it from a hook (``hidden_fields``, ...).

    3.2 and later read the provider info's ``ui-field-behaviour`` (``hidden-fields``, ...) themselves.

    :param behaviour: the provider info's ``ui-field-behaviour`` of one connection type.
    """
    return {key.replace("-", "_"): value for key, value in behaviour.items()}


def connection_hook_class_name(connection_type: str) -> str | None:
    """The hook class the providers manager (API server, UI) registers for a connection type.

    :param connection_type: e.g. ``earthdata``.
    """
    from airflow.providers_manager import ProvidersManager

    if AIRFLOW_V_3_3_PLUS:
        # 3.3 lists the connection types without importing every hook class.
        listed = ProvidersManager().iter_connection_type_hook_ui_metadata()
        return {m.connection_type: m.hook_class_name for m in listed}.get(connection_type)
    # 3.2 deprecates airflow-core's ProvidersManager.hooks for the Task SDK's; 3.1 has only airflow-core's.
    info: Any
    if AIRFLOW_V_3_2_PLUS:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        info = ProvidersManagerTaskRuntime().hooks.get(connection_type)
    else:
        info = ProvidersManager().hooks.get(connection_type)
    return info.hook_class_name if info else None


def task_runtime_hook_info(connection_type: str) -> Any:
    """The hook information a task resolves for a connection type (its class and its conn-id argument).

    3.2 gave tasks a providers manager of their own (``ProvidersManagerTaskRuntime``); 3.1 tasks use airflow-core's.

    :param connection_type: e.g. ``earthdata``.
    """
    if AIRFLOW_V_3_2_PLUS:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        return ProvidersManagerTaskRuntime().hooks[connection_type]
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager().hooks[connection_type]


def __getattr__(name: str) -> Any:
    """``DagBag`` and ``SharedStreamManager``, imported when asked for (DAG files never need them).

    :param name: the attribute asked for.
    """
    if name == "DagBag":
        # 3.2 moved it from airflow.models.dagbag (where 3.2 and 3.3 keep a deprecated alias).
        module = "airflow.dag_processing.dagbag" if AIRFLOW_V_3_2_PLUS else "airflow.models.dagbag"
        return importlib.import_module(module).DagBag
    if name == "SharedStreamManager":
        if not HAS_SHARED_STREAMS:
            raise AttributeError(f"SharedStreamManager needs Airflow 3.3 or later; this is Airflow {AIRFLOW_VERSION}")
        return importlib.import_module("airflow.triggers.shared_stream").SharedStreamManager
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
