"""Operator extra links: the CMR query a search ran, shown as a button on the task in the Airflow UI."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

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
