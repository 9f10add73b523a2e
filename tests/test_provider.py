"""Provider registration: Airflow's ProvidersManager and CLI see the package, its connection type and fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
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

        from airflow_asf_ifg.compat import connection_hook_class_name

        manager = ProvidersManager()
        assert "airflow-asf-ifg" in manager.providers
        assert connection_hook_class_name("earthdata") == "airflow_asf_ifg.hooks.earthdata.EarthdataHook"

    def test_the_connection_form_has_the_earthdata_fields(self, airflow_db):
        # What the UI's connection form is built from. 3.2+ reads the provider info's conn-fields; 3.1 calls
        # the hook's get_connection_form_widgets and get_ui_field_behaviour (made from the same provider info)
        # while it stands in for wtforms, so only in an API server whose providers manager has not yet loaded
        # the hooks without it (a process singleton other tests here have loaded): hence a fresh process.
        probe = textwrap.dedent("""
            import json
            from airflow.api_fastapi.app import create_app
            from fastapi.testclient import TestClient
            with TestClient(create_app()) as client:
                token = client.get("/auth/token").json()["access_token"]
                meta = client.get("/ui/connections/hook_meta", headers={"Authorization": f"Bearer {token}"})
                print(json.dumps([h for h in meta.json() if h["connection_type"] == "earthdata"]))
        """)
        environment = {
            **os.environ,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API_AUTH__JWT_SECRET": "a-secret-for-the-test-api-server-" + "x" * 40,
        }
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, env=environment, check=True
        )
        [earthdata] = json.loads(done.stdout.strip().splitlines()[-1])
        assert earthdata["hook_class_name"] == "airflow_asf_ifg.hooks.earthdata.EarthdataHook"
        extra = earthdata["extra_fields"]
        assert set(extra) >= EXTRA_FIELDS
        assert extra["token"]["schema"]["format"] == "password"
        assert extra["cmr_url"]["schema"].get("format") != "password"
        assert extra["verify"]["schema"]["type"] == ["boolean", "null"] and extra["verify"]["value"] is True
        standard = earthdata["standard_fields"]
        assert standard["host"]["hidden"] and standard["login"]["title"] == "Earthdata username"

    def test_task_runtime_resolves_the_hook(self):
        from airflow_asf_ifg.compat import task_runtime_hook_info

        hook = task_runtime_hook_info("earthdata")
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
