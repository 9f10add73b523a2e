"""CmrHook: public CMR without a connection, the connection's CMR URL and token with one."""

from __future__ import annotations

import json

import pytest

from airflow_asf_ifg.client.settings import DEFAULT_CMR_URL
from airflow_asf_ifg.exceptions import ConfigurationError, HostNotFoundError
from airflow_asf_ifg.hooks.cmr import CmrHook
from tests.client.helpers import UNRESOLVABLE_CMR


class TestCmrHook:
    def test_without_a_connection_it_uses_public_cmr(self):
        hook = CmrHook("no_such_connection")
        assert hook.client.cmr_url == DEFAULT_CMR_URL
        assert hook.client.headers["Client-Id"] == "airflow-asf-ifg"

    def test_searches_the_connections_cmr(self, asf_sandbox, asf_sandbox_connections):
        hook = CmrHook()
        assert hook.client.cmr_url == asf_sandbox.urls.cmr
        assert hook.hits(collection_concept_id="C2859376221-ASF") == asf_sandbox.config.granules
        names = [g.granule_ur for g in hook.search(collection_concept_id="C2859376221-ASF", page_size=5)]
        assert len(names) == asf_sandbox.config.granules and all(n.startswith("S1-GUNW-") for n in names)

    def test_an_unresolvable_cmr_fails_at_once(self, monkeypatch, caplog):
        monkeypatch.setenv(
            "AIRFLOW_CONN_EARTHDATA_NOWHERE",
            json.dumps({"conn_type": "earthdata", "extra": {"cmr_url": UNRESOLVABLE_CMR}}),
        )
        with pytest.raises(HostNotFoundError, match="check cmr_url in the earthdata connection") as caught:
            CmrHook("earthdata_nowhere").hits(collection_concept_id="C2859376221-ASF")
        assert isinstance(caught.value, ConfigurationError)  # so a task fails without retries
        assert not [r for r in caplog.records if "CMR request failed" in r.getMessage()]  # no second try
