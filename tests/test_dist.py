"""The distribution: ``make dist`` builds an sdist and a wheel, and the wheel holds every module and entry point."""

from __future__ import annotations

import configparser
import importlib
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "airflow_asf_ifg"
#: group → name → object, as pyproject.toml declares them and Airflow, pip and pytest look them up.
ENTRY_POINTS = {
    "apache_airflow_provider": {"provider_info": "airflow_asf_ifg:get_provider_info"},
    "console_scripts": {"asf-ifg": "airflow_asf_ifg.cli.main:entry_point"},
    "pytest11": {"airflow_asf_ifg_sandbox": "airflow_asf_ifg.sandbox.pytest_entry"},
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Iterator[zipfile.ZipFile]:
    """The wheel pip builds from a copy of the source tree (so no build/ or egg-info lands in the checkout)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / PACKAGE, source / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    (path,) = out.glob("airflow_asf_ifg-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    (member,) = [n for n in wheel.namelist() if n.endswith(f".dist-info/{name}")]
    return wheel.read(member).decode()


class TestWheel:
    def test_holds_every_module_of_the_package(self, wheel):
        modules = {str(p.relative_to(REPO)) for p in (REPO / PACKAGE).rglob("*.py") if "__pycache__" not in p.parts}
        packaged = {n for n in wheel.namelist() if n.endswith(".py")}
        assert packaged == modules
        assert {n.split("/")[0] for n in wheel.namelist() if ".dist-info/" not in n} == {PACKAGE}  # no tests, dags

    def test_declares_the_provider_console_script_and_pytest_plugin(self, wheel):
        parser = configparser.ConfigParser()
        parser.optionxform = str  # entry point names are case-sensitive
        parser.read_string(dist_info(wheel, "entry_points.txt"))
        declared = {group: dict(parser[group]) for group in parser.sections()}
        assert {group: declared.get(group) for group in ENTRY_POINTS} == ENTRY_POINTS

    @pytest.mark.parametrize(("group", "target"), [(g, t) for g, names in ENTRY_POINTS.items() for t in names.values()])
    def test_entry_points_resolve(self, group, target):
        module, _, attribute = target.partition(":")
        loaded = importlib.import_module(module)
        assert callable(getattr(loaded, attribute)) if attribute else loaded

    def test_metadata_names_the_distribution(self, wheel):
        metadata = dist_info(wheel, "METADATA")
        assert "\nName: airflow-asf-ifg\n" in metadata
        assert "Requires-Dist: apache-airflow>=3.1" in metadata


class TestMakefile:
    def test_dist_builds_sdist_and_wheel_into_dist(self):
        result = subprocess.run(
            ["make", "-n", "dist"], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
        )
        assert "-m pip install --quiet build" in result.stdout
        assert "-m build --outdir dist ." in result.stdout  # both an sdist and a wheel: no --wheel or --sdist
