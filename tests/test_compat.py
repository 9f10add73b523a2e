"""The compat module: what it picks on the installed Airflow, and that nothing else imports what differs."""

from __future__ import annotations

import ast
import asyncio
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

from airflow_asf_ifg import compat

ROOT = Path(__file__).resolve().parent.parent
#: Where the rule holds: the package, its example DAGs and the tests (benchmarks run on the newest Airflow only).
SCANNED = ("airflow_asf_ifg", "dags", "tests")

#: Public names of Airflow 3.3 that Airflow 3.1 or 3.2 does not have at that place (found by comparing
#: ``__all__`` of the three installed versions, 3.1.8, 3.2.2 and 3.3.2).
ABSENT_BEFORE_3_3 = {
    "airflow.sdk": {
        # not in 3.1's Task SDK (1.1): its timetables, conf and a few classes stayed in airflow-core
        "AllowedKeyMapper", "AssetOrTimeSchedule", "AsyncCallback", "BaseAsyncOperator", "BaseBranchOperator",
        "BaseXCom", "BranchMixIn", "ChainMapper", "CronDataIntervalTimetable", "CronPartitionTimetable",
        "CronTriggerTimetable", "DeadlineAlert", "DeadlineReference", "DeltaDataIntervalTimetable",
        "DeltaTriggerTimetable", "EventsTimetable", "IdentityMapper", "MultipleCronTriggerTimetable",
        "PartitionMapper", "PartitionedAssetTimetable", "ProductMapper", "SkipMixin", "StartOfDayMapper",
        "StartOfHourMapper", "StartOfMonthMapper", "StartOfQuarterMapper", "StartOfWeekMapper",
        "StartOfYearMapper", "SyncCallback", "TaskInstance", "conf", "macros",
        # new in 3.3
        "AssetAccessControl", "BaseDeadlineReference", "DayWindow", "ExceptionRetryPolicy", "FanOutMapper",
        "FixedKeyMapper", "HourWindow", "MinimumCount", "MonthWindow", "NEVER_EXPIRE", "PartitionedAtRuntime",
        "QuarterWindow", "ResumableJobMixin", "RetryAction", "RetryDecision", "RetryPolicy", "RetryRule",
        "RollupMapper", "SegmentWindow", "WaitForAll", "WeekWindow", "Window", "YearWindow",
    },
    "airflow.sdk.exceptions": {
        # 3.1's Task SDK raises these from airflow.exceptions
        "AirflowConfigException", "AirflowFailException", "AirflowInactiveAssetInInletOrOutletException",
        "AirflowNotFoundException", "AirflowOptionalProviderFeatureException", "AirflowRescheduleException",
        "AirflowSecretsBackendAccessDenied", "AirflowSensorTimeout", "AirflowSkipException",
        "AirflowTaskTerminated", "AirflowTaskTimeout", "AirflowTimetableInvalid", "DagRunTriggerException",
        "DownstreamTasksSkipped", "DuplicateTaskIdFound", "ParamValidationError", "RemovedInAirflow4Warning",
        "TaskAlreadyInTaskGroup", "TaskAlreadyRunningError", "TaskDeferralError", "TaskDeferralTimeout",
        "TaskDeferred", "TaskNotFound", "XComNotFound",
        # new in 3.3
        "NodeNotFound", "TaskAwaitingInput",
    },
    "airflow.sdk.log": {"amask_secret"},
    "airflow.sdk.types": {"TaskInstance", "TaskInstanceKey"},
    "airflow.sdk.execution_time.context": {"AssetStateStoreAccessor", "AssetStateStoreAccessors"},
}  # fmt: skip
#: Names at the same place everywhere whose meaning differs (or that 3.2+ deprecates): compat says which to use.
DIFFERENT_MEANING = {
    # 3.2 and 3.3 warn (DeprecatedImportWarning): the Task SDK's classes are the ones their task runner catches.
    "airflow.exceptions": {
        "AirflowException",
        "AirflowFailException",
        "AirflowNotFoundException",
        "AirflowSensorTimeout",
        "AirflowSkipException",
        "ParamValidationError",
    },
    # What a refused run parameter raises differs (compat.PARAM_VALIDATION_ERRORS).
    "airflow.sdk.definitions.param": {"ParamValidationError"},
}
#: Whole modules that 3.1 lacks (or that 3.2+ deprecates).
ABSENT_MODULES = {
    "airflow.sdk.providers_manager_runtime": "3.2+ only: compat.task_runtime_hook_info",
    "airflow.dag_processing.dagbag": "3.2+ only (3.1: airflow.models.dagbag): compat.DagBag",
    "airflow.models.dagbag": "deprecated from 3.2: compat.DagBag",
    "airflow.triggers.shared_stream": "3.3+ only: compat.HAS_SHARED_STREAMS, compat.SharedStreamManager",
}


def type_checking_lines(tree: ast.Module) -> set[int]:
    """The line numbers inside ``if TYPE_CHECKING:`` blocks: never run, so any Airflow's names may be there.

    :param tree: a parsed module.
    """
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def bypasses(path: Path) -> list[str]:
    """``file:line: import`` for each import in the file that must go through compat.

    :param path: a Python file.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = type_checking_lines(tree)
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            module = node.module
            if module in ABSENT_MODULES:
                found.append(f"{where}: from {module} import ... ({ABSENT_MODULES[module]})")
                continue
            forbidden = ABSENT_BEFORE_3_3.get(module, set()) | DIFFERENT_MEANING.get(module, set())
            for alias in node.names:
                if alias.name in forbidden:
                    found.append(f"{where}: from {module} import {alias.name}")
                # ``from airflow.sdk import exceptions`` then ``exceptions.X`` would slip past the names above.
                elif f"{module}.{alias.name}" in ABSENT_BEFORE_3_3 | DIFFERENT_MEANING | ABSENT_MODULES:
                    found.append(f"{where}: from {module} import {alias.name} (a module whose names differ)")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ABSENT_MODULES:
                    found.append(f"{where}: import {alias.name} ({ABSENT_MODULES[alias.name]})")
    return found


class TestNoBypass:
    def test_nothing_outside_compat_imports_what_differs_between_airflow_versions(self):
        files = [p for top in SCANNED for p in sorted((ROOT / top).rglob("*.py")) if p.name != "compat.py"]
        assert len(files) > 100
        found = [line for path in files for line in bypasses(path)]
        assert found == [], "import these from airflow_asf_ifg.compat instead:\n" + "\n".join(found)

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("from airflow.sdk.exceptions import AirflowFailException", ["x.py:1: from airflow.sdk.exceptions"]),
            ("from airflow.sdk import DAG, conf", ["x.py:1: from airflow.sdk import conf"]),
            ("from airflow.sdk.log import amask_secret", ["x.py:1: from airflow.sdk.log import amask_secret"]),
            ("import airflow.dag_processing.dagbag", ["x.py:1: import airflow.dag_processing.dagbag"]),
            ("from airflow.sdk import exceptions", ["x.py:1: from airflow.sdk import exceptions (a module"]),
            ("from airflow.sdk import DAG, BaseOperator\nfrom airflow.sdk.log import mask_secret", []),
            (
                "import typing\nif typing.TYPE_CHECKING:\n    from airflow.sdk.types import TaskInstanceKey",
                [],
            ),
        ],
        ids=["sdk-exception", "sdk-conf", "amask", "dagbag-module", "exceptions-module", "same-everywhere", "typing"],
    )
    def test_the_check_names_file_and_line(self, tmp_path, monkeypatch, source, expected):
        monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
        (tmp_path / "x.py").write_text(source + "\n")
        found = bypasses(tmp_path / "x.py")
        assert len(found) == len(expected)
        for line, start in zip(found, expected, strict=True):
            assert line.startswith(start)


class TestVersionFlags:
    def test_the_flags_follow_the_installed_airflow(self):
        installed = Version(Version(version("apache-airflow-core")).base_version)
        assert installed == compat.AIRFLOW_VERSION
        assert (installed.release[:2] >= (3, 2)) == compat.AIRFLOW_V_3_2_PLUS
        assert (installed.release[:2] >= (3, 3)) == compat.AIRFLOW_V_3_3_PLUS
        assert compat.HAS_ASSET_STATE_STORE == compat.AIRFLOW_V_3_3_PLUS

    def test_the_asset_state_store_flag_matches_what_the_task_sdk_has(self):
        import importlib

        context = importlib.import_module("airflow.sdk.execution_time.context")
        assert hasattr(context, "AssetStateStoreAccessors") == compat.HAS_ASSET_STATE_STORE


class TestExceptions:
    def test_they_are_the_classes_the_task_sdk_runner_catches(self):
        # The installed version's task runner imports the classes it catches (inside its run()): from there.
        import importlib

        from airflow.sdk.execution_time import task_runner

        tree = ast.parse(Path(task_runner.__file__).read_text())
        caught = {
            alias.name: node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
            for alias in node.names
            if alias.name in ("AirflowFailException", "AirflowSkipException", "AirflowSensorTimeout")
        }
        assert len(caught) == 3
        for name, module in caught.items():
            assert getattr(importlib.import_module(module), name) is getattr(compat, name), (name, module)

    def test_a_fail_is_an_airflow_exception(self):
        assert issubclass(compat.AirflowFailException, compat.AirflowException)
        assert issubclass(compat.AirflowNotFoundException, compat.AirflowException)

    def test_a_refused_param_is_caught_by_the_errors_named(self):
        from airflow.sdk import Param

        with pytest.raises(compat.PARAM_VALIDATION_ERRORS):
            Param(["thumbnail"], type="array", items={"enum": ["data", "browse"]}).resolve()


class TestConfAndTimetable:
    def test_conf_reads_the_settings_the_sensors_read(self, monkeypatch):
        monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
        assert compat.conf.getboolean("operators", "default_deferrable", fallback=False) is True

    def test_the_timetable_is_one_a_dag_of_this_version_takes(self):
        from datetime import UTC, datetime

        from airflow.sdk import DAG

        with DAG("compat_timetable", schedule=compat.CronDataIntervalTimetable("0 6 * * *", timezone="UTC"),
                 start_date=datetime(2024, 1, 1, tzinfo=UTC)) as dag:  # fmt: skip
            pass
        assert isinstance(dag.timetable, compat.CronDataIntervalTimetable)


class TestSecretMasking:
    def test_the_sync_and_async_masks_hide_a_value_in_logs(self):
        from airflow.sdk._shared.secrets_masker.secrets_masker import redact

        compat.mask_secret("sync-secret-value-1")
        asyncio.run(compat.amask_secret("async-secret-value-2"))
        assert redact("a sync-secret-value-1 b async-secret-value-2") == "a *** b ***"

    def test_before_3_3_the_async_mask_is_the_fallback_coroutine(self):
        import importlib
        import inspect

        log = importlib.import_module("airflow.sdk.log")
        assert inspect.iscoroutinefunction(compat.amask_secret)
        assert (compat.amask_secret is getattr(log, "amask_secret", None)) == compat.AIRFLOW_V_3_3_PLUS


class TestProvidersManagerLookups:
    def test_the_connection_type_resolves_to_its_hook_class(self):
        assert compat.connection_hook_class_name("earthdata") == "airflow_asf_ifg.hooks.earthdata.EarthdataHook"
        assert compat.connection_hook_class_name("no-such-type") is None

    def test_the_task_runtime_finds_the_conn_id_argument(self):
        info = compat.task_runtime_hook_info("earthdata")
        assert info.connection_id_attribute_name == "earthdata_conn_id"

    def test_the_shared_stream_manager_is_there_from_3_3_and_refused_with_the_version_before(self):
        if compat.HAS_SHARED_STREAMS:
            assert compat.SharedStreamManager.__name__ == "SharedStreamManager"
        else:
            with pytest.raises(AttributeError, match=r"needs Airflow 3\.3 or later; this is Airflow 3\.[12]"):
                _ = compat.SharedStreamManager

    def test_dagbag_is_imported_on_first_use(self):
        assert compat.DagBag.__name__ == "DagBag"
        with pytest.raises(AttributeError, match="no_such_name"):
            _ = compat.no_such_name  # type: ignore[attr-defined]
