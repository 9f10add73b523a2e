"""CmrHook: public CMR without a connection, the connection's CMR URL and token with one."""

from __future__ import annotations

from airflow_asf_ifg.client.settings import DEFAULT_CMR_URL
from airflow_asf_ifg.hooks.cmr import CmrHook


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
