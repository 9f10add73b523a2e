"""Addresses the network tests need: a host name that never resolves, and a port nothing listens on."""

from __future__ import annotations

from airflow_asf_ifg.sandbox.ports import free_port

#: RFC 6761: names under .invalid never resolve, on any resolver.
UNRESOLVABLE_CMR = "http://cmr.invalid"


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connections to it are refused."""
    return f"http://127.0.0.1:{free_port()}"
