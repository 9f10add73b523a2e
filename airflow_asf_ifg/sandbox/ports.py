"""Loopback ports for servers that other processes start, or that restart, after the port is chosen."""

from __future__ import annotations

import random
import socket
from pathlib import Path

#: Where Linux keeps the range it draws the local ports of outgoing connections from.
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
#: Linux's default range, for systems that do not say.
DEFAULT_EPHEMERAL = (32768, 60999)
#: The lowest port handed out: below it live well-known and registered services (PostgreSQL's 5432...).
LOWEST = 10000
ATTEMPTS = 200


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range of local ports for outgoing connections, inclusive."""
    try:
        low, high = (int(part) for part in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL
    return low, high


def free_port(consecutive: int = 1) -> int:
    """A loopback TCP port nothing is bound to now (the first of several in a row), outside the ephemeral range.

    A port from the ephemeral range (what binding port 0 gives) is free only for the moment: any outgoing
    connection may take it as its local port. A server started later by another process, or restarted on the
    same port (PostgreSQL between two runs), then fails to bind, and its clients see "connection refused".
    Below the range no connection is given a port unasked, so only another :func:`free_port` can collide.

    :param consecutive: how many ports in a row must be free (a server that takes ``port`` to ``port + n - 1``).
    """
    low, _ = ephemeral_range()
    # A system whose ephemeral range starts low leaves no room below it: draw from every unprivileged port.
    lowest, highest = (LOWEST, low - 1) if low - LOWEST >= 1000 else (1024, 65535)
    draw = random.SystemRandom()
    for _ in range(ATTEMPTS):
        port = draw.randint(lowest, highest - consecutive + 1)
        if all(_is_free(port + offset) for offset in range(consecutive)):
            return port
    raise RuntimeError(f"no {consecutive} free loopback port(s) in a row in {lowest}-{highest} after {ATTEMPTS} draws")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:  # in use, or in TIME_WAIT
            return False
    return True
