"""What the provider's sensors share: poke once on the worker, then wait in the triggerer."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.triggers.base import BaseTrigger


class PokeThenDeferSensor(BaseSensorOperator):
    """A sensor that pokes once on the worker and, deferrable and not done, hands the wait to a trigger.

    Subclasses implement ``poke`` (returning a ``PokeReturnValue``), ``trigger`` and ``execute_complete``.

    :param deferrable: wait in the triggerer instead of poking on a worker.
    """

    def __init__(self, *, deferrable: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deferrable = deferrable

    def trigger(self) -> BaseTrigger:
        """The trigger that continues the wait (only names, URLs and connection ids: no secrets)."""
        raise NotImplementedError

    def execute(self, context: Context) -> Any:
        """Poke once; then poke on (poke/reschedule mode) or defer to :meth:`trigger`."""
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if isinstance(first, bool):  # a subclass may answer a plain bool, as BaseSensorOperator allows
            first = PokeReturnValue(first)
        if first.is_done:
            return first.xcom_value
        self.defer(trigger=self.trigger(), method_name="execute_complete", timeout=timedelta(seconds=self.timeout))
