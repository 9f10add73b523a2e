"""Helpers for the sandbox's own tests: a .netrc for the sandbox EDL host and a logged-in door session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
import requests

from airflow_asf_ifg.sandbox import Sandbox
from airflow_asf_ifg.sandbox.config import SANDBOX_PASSWORD, SANDBOX_USER


@pytest.fixture
def netrc_for(tmp_path, monkeypatch) -> Callable[[Sandbox, str, str], str]:
    """Write a .netrc with a login for the sandbox's EDL host and point NETRC at it."""

    def write(sandbox: Sandbox, login: str = SANDBOX_USER, password: str = SANDBOX_PASSWORD) -> str:
        path = tmp_path / "netrc"
        path.write_text(f"machine {urlsplit(sandbox.urls.edl).hostname} login {login} password {password}\n")
        path.chmod(0o600)
        monkeypatch.setenv("NETRC", str(path))
        return str(path)

    return write


@pytest.fixture
def door_session(asf_sandbox, netrc_for) -> Iterator[requests.Session]:
    """A requests session that logs in through EDL with a .netrc, as the 2018 scripts did."""
    netrc_for(asf_sandbox)
    with requests.Session() as session:
        yield session


@pytest.fixture
def stats(asf_sandbox) -> Callable[[], dict]:
    """Read the sandbox's stats over HTTP."""

    def read() -> dict:
        return requests.get(f"{asf_sandbox.urls.sandbox}/__sandbox__/stats", timeout=10).json()

    return read
