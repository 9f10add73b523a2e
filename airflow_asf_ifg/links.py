"""Operator extra links: the CMR query a search ran, shown as a button on the task in the Airflow UI."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey


class CmrQueryLink(BaseOperatorLink):
    """Link to the CMR granule query that the task ran (its JSON results open in the browser)."""

    name = "CMR query"
    key: ClassVar[str] = "cmr_query_url"

    @classmethod
    def persist(cls, context: Context, url: str) -> None:
        """Store the query URL for the link (called from ``execute``).

        :param context: the task context.
        :param url: the CMR query URL.
        """
        context["ti"].xcom_push(key=cls.key, value=url)

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The stored URL, or an empty string before the task ran.

        :param operator: the operator.
        :param ti_key: the task instance.
        """
        return XCom.get_value(key=self.key, ti_key=ti_key) or ""
