"""The client layer imports no Airflow, directly or through anything it imports (DESIGN.md "Layers")."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import airflow_asf_ifg.client

CLIENT_MODULES = sorted(
    f"airflow_asf_ifg.client.{module.name}" for module in pkgutil.iter_modules(airflow_asf_ifg.client.__path__)
)


def test_every_client_module_imports_with_airflow_blocked():
    # sys.modules["airflow"] = None makes any `import airflow...` raise ImportError in the child.
    probe = (
        f"import importlib, json, sys; sys.modules['airflow'] = None; failed = {{}}\n"
        f"for name in {CLIENT_MODULES!r}:\n"
        f"    try:\n        importlib.import_module(name)\n"
        f"    except ImportError as error:\n        failed[name] = str(error)\n"
        f"print(json.dumps({{'failed': failed, 'airflow': sorted(m for m in sys.modules if m.startswith("
        f"'airflow.') or m == 'airflow' and sys.modules[m] is not None)}}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"failed": {}, "airflow": []}
    assert len(CLIENT_MODULES) >= 10  # the listing found the modules (a test that cannot fail would find none)


def test_every_client_module_declares_its_public_surface():
    import importlib

    missing = [name for name in CLIENT_MODULES if not hasattr(importlib.import_module(name), "__all__")]
    assert missing == []
