"""Fixtures of the sandbox's own tests: a session that logs in to the door with a .netrc."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests


@pytest.fixture
def door_session(asf_sandbox, netrc_for) -> Iterator[requests.Session]:
    """A requests session that logs in through EDL with a .netrc, as the 2018 scripts did."""
    netrc_for(asf_sandbox)
    with requests.Session() as session:
        yield session
