"""Fixtures of the command line's tests: the console script, the real AWS CLI and GDAL, sandbox products."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: `make test` installs the AWS CLI in a venv of its own (it pins botocore, which fights boto3 here).
AWS_CLI_VARIABLE = "ASF_IFG_AWS_CLI"
DEFAULT_AWS_CLI = REPO / ".venv" / "awscli" / "bin" / "aws"


def tool(name: str) -> str:
    """The path of a real tool the tests drive; fail (never skip) when it is missing."""
    if name == "aws":
        path = os.environ.get(AWS_CLI_VARIABLE) or (str(DEFAULT_AWS_CLI) if DEFAULT_AWS_CLI.exists() else None)
    else:
        path = shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        pytest.fail(
            f"{name} is not installed; `make test` installs it (AWS CLI: set {AWS_CLI_VARIABLE} or run "
            f"`make tools`; GDAL: Debian's gdal-bin)"
        )
    return path


@pytest.fixture
def run_cli(asf_sandbox_connections) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed ``asf-ifg`` console script against the sandbox, as a user would."""
    script = Path(sys.executable).with_name("asf-ifg")

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
        )

    return run


def exports(text: str) -> dict[str, str]:
    """The variables of ``export NAME=value`` lines, as a shell's ``eval`` would set them."""
    variables = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            variables[name] = shlex.split(value)[0] if value else ""
    return variables


@pytest.fixture
def product_files(asf_sandbox) -> Callable[..., list[dict]]:
    """Data files of the sandbox's catalogue: ``product_files(archived=False, suffix='.unw_geo.zip')``."""

    def select(archived: bool | None = None, suffix: str = "") -> list[dict]:
        files = [f for g in asf_sandbox.catalogue_document() for f in g["files"] if f["role"] == "data"]
        return [f for f in files if f["name"].endswith(suffix) and (archived is None or f["archived"] == archived)]

    return select
