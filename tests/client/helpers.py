"""Addresses the network tests need: a host name that never resolves, and a port nothing listens on."""

from __future__ import annotations

import socket

#: RFC 6761: names under .invalid never resolve, on any resolver.
UNRESOLVABLE_CMR = "http://cmr.invalid"


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
