"""An auth manager for the e2e stack: Airflow's simple one, where some users may read only some DAGs.

The simple auth manager lets every user read every DAG; to show that the "ASF retrievals" page keeps to
what Airflow lets a user see, ``ASF_IFG_TEST_DAG_READERS`` (``user=dag_a,dag_b;other=``) limits the users
it names to the DAGs it lists (none for an empty list). Everything else is the simple auth manager's.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

VARIABLE = "ASF_IFG_TEST_DAG_READERS"


def restrictions() -> dict[str, set[str]]:
    """User name → the DAGs that user may read, for the users the variable names."""
    limits: dict[str, set[str]] = {}
    for entry in filter(None, os.environ.get(VARIABLE, "").split(";")):
        user, _, dags = entry.partition("=")
        limits[user.strip()] = {d.strip() for d in dags.split(",") if d.strip()}
    return limits


class DagReadersAuthManager(SimpleAuthManager):
    """The simple auth manager, with per-user DAG access for the users named in ``ASF_IFG_TEST_DAG_READERS``."""

    def is_authorized_dag(self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None) -> bool:
        """Refuse a limited user any DAG not listed for them; otherwise the simple auth manager decides."""
        allowed = restrictions().get(user.get_name())
        if allowed is not None and (details is None or getattr(details, "id", None) not in allowed):
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
