"""Provider registration: Airflow's ProvidersManager and CLI see the package, its connection type and fields."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from airflow_asf_ifg import get_provider_info

EXTRA_FIELDS = {"token", "edl_url", "cmr_url", "s3_credentials_url", "archive_status_url", "verify"}


class TestProviderInfo:
    def test_package_name_matches_the_distribution(self):
        from importlib.metadata import distribution

        from packaging.utils import canonicalize_name

        assert get_provider_info()["package-name"] == "airflow-asf-ifg"
        assert canonicalize_name(distribution("airflow-asf-ifg").metadata["Name"]) == "airflow-asf-ifg"

    def test_every_declared_module_imports(self):
        import importlib

        info = get_provider_info()
        for section in ("hooks", "operators", "sensors", "triggers"):
            for entry in info.get(section, []):
                for module in entry["python-modules"]:
                    importlib.import_module(module)
        transfers = [entry["python-module"] for entry in info["transfers"]]
        assert transfers == ["airflow_asf_ifg.transfers.asf_to_s3", "airflow_asf_ifg.transfers.asf_to_cog"]
        for module in transfers:
            importlib.import_module(module)
        for link in info.get("extra-links", []):
            module, _, name = link.rpartition(".")
            assert getattr(importlib.import_module(module), name).name
        for connection in info["connection-types"]:
            module, _, name = connection["hook-class-name"].rpartition(".")
            hook = getattr(importlib.import_module(module), name)
            assert hook.conn_type == connection["connection-type"]
            assert hook.hook_name == connection["hook-name"]

    def test_task_modules_leave_the_aws_and_http_stacks_to_run_time(self):
        # DAG files import these at every parse: boto3, aiohttp and requests wait until a task runs.
        info = get_provider_info()
        modules = [m for section in ("operators", "sensors") for e in info[section] for m in e["python-modules"]]
        modules += [entry["python-module"] for entry in info["transfers"]]
        probe = (
            f"import json, sys; import airflow.sdk; before = set(sys.modules); "
            f"[__import__(m) for m in {modules!r}]; "
            f"print(json.dumps(sorted(m for m in set(sys.modules) - before "
            f"if m.split('.')[0] in ('boto3', 'botocore', 'aiobotocore', 'aiohttp', 'requests', 'rasterio'))))"
        )
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
        assert len(modules) >= 6
        assert done.stdout.strip().splitlines()[-1] == "[]"


class TestProvidersManager:
    def test_sees_the_provider_and_the_earthdata_connection_fields(self):
        from airflow.providers_manager import ProvidersManager

        manager = ProvidersManager()
        assert "airflow-asf-ifg" in manager.providers
        assert {c.connection_type: c.hook_class_name for c in manager.iter_connection_type_hook_ui_metadata()}[
            "earthdata"
        ] == "airflow_asf_ifg.hooks.earthdata.EarthdataHook"
        widgets = {
            name: widget
            for name, widget in manager.connection_form_widgets.items()
            if name.startswith("extra__earthdata__")
        }
        assert {name.removeprefix("extra__earthdata__") for name in widgets} >= EXTRA_FIELDS
        assert widgets["extra__earthdata__token"].is_sensitive
        assert not widgets["extra__earthdata__cmr_url"].is_sensitive
        behaviour = manager.field_behaviours["earthdata"]
        assert "host" in behaviour["hidden_fields"] and behaviour["relabeling"]["login"] == "Earthdata username"

    def test_task_runtime_resolves_the_hook(self):
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        hook = ProvidersManagerTaskRuntime().hooks["earthdata"]
        assert hook.hook_class_name == "airflow_asf_ifg.hooks.earthdata.EarthdataHook"
        assert hook.connection_id_attribute_name == "earthdata_conn_id"

    def test_extra_links_are_registered(self):
        from airflow.providers_manager import ProvidersManager

        registered = ProvidersManager().extra_links_class_names
        for link in ("CmrQueryLink", "AsfSearchLink", "CmrRecordsLink"):
            assert f"airflow_asf_ifg.links.{link}" in registered

    def test_airflow_providers_list_shows_it(self):
        airflow = Path(sys.executable).with_name("airflow")
        result = subprocess.run(
            [str(airflow), "providers", "list", "--output", "plain"],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ},
        )
        assert result.returncode == 0, result.stderr
        assert "airflow-asf-ifg" in result.stdout
