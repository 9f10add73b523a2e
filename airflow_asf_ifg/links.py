"""Operator extra links, buttons on a task in the Airflow UI: the CMR query a search ran, and for the sensors and
copies their products in ASF's search (Vertex) and their granules' CMR records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlencode

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey


class CmrQueryLink(BaseOperatorLink):
    """Link to the CMR granule query that the task ran (its JSON results open in the browser)."""

    name = "CMR query"
    key: ClassVar[str] = "cmr_query_url"

    @classmethod
    def persist(cls, context: Context, operator: BaseOperator, url: str) -> None:
        """Keep the query URL for the link, on the operator and in XCom (called from ``execute`` once it exists).

        :param context: the task context.
        :param operator: the operator that ran the query.
        :param url: the CMR query URL.
        """
        operator.cmr_query_url = url
        context["ti"].xcom_push(key=cls.key, value=url)

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The URL the task ran, or an empty string when it failed before it had one.

        Airflow 3 calls this on the worker when the task ends (``finalize``), with the operator that ran,
        and stores the answer for the UI; reading an XCom here would log "XCom not found" after a task that
        failed before its query, which reads like a second failure.

        :param operator: the operator.
        :param ti_key: the task instance.
        """
        return getattr(operator, "cmr_query_url", None) or ""


#: Vertex, ASF's search, with a list of product names filled in (Vertex takes at most this many at once).
ASF_SEARCH_URL = "https://search.asf.alaska.edu/#/"
MAX_LINKED_PRODUCTS = 100


def granule_dicts(operator: BaseOperator) -> list[dict[str, Any]]:
    """The rendered granule dicts an operator works on (``granule``, ``granules``), or none.

    :param operator: the operator that ran.
    """
    one, many = getattr(operator, "granule", None), getattr(operator, "granules", None)
    chosen = [one] if isinstance(one, dict) else list(many) if isinstance(many, list | tuple) else []
    return [g for g in chosen if isinstance(g, dict)]


def product_names(operator: BaseOperator) -> list[str]:
    """The names ASF's search knows the operator's products by: GranuleURs, or file names without suffix.

    :param operator: the operator that ran.
    """
    names = [str(g["granule_ur"]) for g in granule_dicts(operator) if g.get("granule_ur")]
    if not names:
        given = getattr(operator, "names", None)
        files = [given] if isinstance(given, str) else list(given or []) if isinstance(given, list | tuple) else []
        names = [str(name).rsplit("/", 1)[-1].split(".", 1)[0] for name in files]
    return list(dict.fromkeys(n for n in names if n))


def asf_search_url(names: list[str]) -> str:
    """Vertex's list search of ``names`` ('' for none).

    :param names: product names.
    """
    if not names:
        return ""
    query = urlencode(
        {"searchType": "List Search", "searchList": ",".join(names[:MAX_LINKED_PRODUCTS]), "resultsLoaded": "true"},
        quote_via=quote,
    )
    return f"{ASF_SEARCH_URL}?{query}"


class AsfSearchLink(BaseOperatorLink):
    """Link to ASF's search (Vertex) listing the task's products: footprints, browse images, downloads."""

    name = "ASF Search"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """Vertex's list search of the products the operator ran on ('' before they are known).

        :param operator: the operator (templates rendered).
        :param ti_key: the task instance.
        """
        return asf_search_url(product_names(operator))


class CmrRecordsLink(BaseOperatorLink):
    """Link to the CMR records (UMM-JSON) of the task's granules, on the connection's CMR."""

    name = "CMR records"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The CMR query of the operator's granules by concept id ('' when it has none).

        :param operator: the operator (templates rendered).
        :param ti_key: the task instance.
        """
        concept_ids = [str(g["concept_id"]) for g in granule_dicts(operator) if g.get("concept_id")]
        if not concept_ids:
            return ""
        query = urlencode([("concept_id", c) for c in concept_ids[:MAX_LINKED_PRODUCTS]])
        return f"{_cmr_url(operator)}/search/granules.umm_json?{query}"


def _cmr_url(operator: BaseOperator) -> str:
    """The CMR of the operator's ``earthdata`` connection (the sandbox's in tests), else NASA's."""
    from airflow_asf_ifg.client.settings import DEFAULT_CMR_URL

    conn_id = getattr(operator, "earthdata_conn_id", None)
    if not conn_id:
        return DEFAULT_CMR_URL
    try:
        from airflow_asf_ifg.hooks.earthdata import EarthdataHook

        return str(EarthdataHook(conn_id).settings.cmr_url).rstrip("/")
    except Exception:  # a link is a convenience: a connection that cannot be read gives NASA's CMR
        return DEFAULT_CMR_URL
