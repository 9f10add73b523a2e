"""``[core] hostname_callable`` for the cluster: each celery worker names itself as a host of its own would."""

from __future__ import annotations

import os
import socket

#: Set per worker process by the cluster; in docker compose each container has its own host name instead.
VARIABLE = "ASF_IFG_HOSTNAME"


def hostname() -> str:
    """The process's host name: ``$ASF_IFG_HOSTNAME`` where the cluster set it, else the machine's FQDN."""
    return os.environ.get(VARIABLE) or socket.getfqdn()
