"""The SeaweedFS server of this directory's tests: one per module, with a read-only and a writer identity."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_asf_ifg.sandbox.seaweedfs import SeaweedFS, weed_binary

SOURCE = "asf-source"
DEST = "user-dest"


@pytest.fixture(scope="module")
def seaweedfs() -> Iterator[SeaweedFS]:
    """``weed server -s3`` for one test module; fail (never skip) when ``weed`` is not installed."""
    try:
        weed_binary()
    except FileNotFoundError as missing:
        pytest.fail(f"{missing}; `make test` installs it")
    with SeaweedFS(SOURCE, DEST) as server:
        yield server
