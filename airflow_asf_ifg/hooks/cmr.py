"""CMR search through the ``earthdata`` connection (optional: public CMR needs none)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

from airflow_asf_ifg.client.cmr import CmrClient, SearchResults
from airflow_asf_ifg.hooks.earthdata import EarthdataHook


class CmrHook(BaseHook):
    """Search NASA's CMR for granules; an EDL token in the connection is sent to CMR as a bearer.

    Works without any connection (the public CMR). ``search()`` streams page by page.

    :param earthdata_conn_id: the ``earthdata`` connection for the CMR URL and token.
    """

    conn_name_attr = "earthdata_conn_id"
    default_conn_name = EarthdataHook.default_conn_name
    hook_name = "NASA CMR"

    def __init__(self, earthdata_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.earthdata_conn_id = earthdata_conn_id

    @cached_property
    def earthdata(self) -> EarthdataHook:
        """The hook that reads the connection."""
        return EarthdataHook(self.earthdata_conn_id)

    @cached_property
    def client(self) -> CmrClient:
        """The CMR client on the connection's CMR URL."""
        return CmrClient(self.earthdata.get_session(), self.earthdata.settings.cmr_url)

    def search(self, **kwargs: Any) -> SearchResults:
        """Search granules (see :meth:`~airflow_asf_ifg.client.cmr.CmrClient.search` for the arguments).

        :param kwargs: collection_concept_id, short_name, aoi, temporal, revision_date, attributes,
            sort_key, page_size, limit, max_hits, on_incomplete.
        """
        return self.client.search(**kwargs)

    def hits(self, **kwargs: Any) -> int:
        """How many granules match.

        :param kwargs: collection_concept_id, short_name, aoi, temporal, revision_date, attributes.
        """
        return self.client.hits(**kwargs)
