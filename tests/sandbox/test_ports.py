from __future__ import annotations

import socket

import pytest

from airflow_asf_ifg.sandbox import ports
from airflow_asf_ifg.sandbox.ports import ephemeral_range, free_port


def bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class TestFreePort:
    def test_a_port_below_the_ephemeral_range_that_can_be_bound(self):
        low, _ = ephemeral_range()
        drawn = [free_port() for _ in range(20)]
        assert all(ports.LOWEST <= port < low for port in drawn), drawn
        assert all(bindable(port) for port in drawn)

    def test_several_in_a_row(self):
        first = free_port(consecutive=4)
        assert all(bindable(port) for port in range(first, first + 4))

    def test_a_port_in_use_is_never_given(self, monkeypatch):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", free_port()))
            taken.listen(1)
            port = taken.getsockname()[1]
            # Only one candidate, and it is taken: no port rather than a busy one.
            monkeypatch.setattr(ports, "LOWEST", port)
            monkeypatch.setattr(ports, "ephemeral_range", lambda: (port + 1000, 65535))
            with pytest.raises(RuntimeError, match=f"in {port}-{port + 999}"):
                free_port(consecutive=1000)

    def test_a_system_whose_ephemeral_range_starts_low_draws_from_every_unprivileged_port(self, monkeypatch):
        monkeypatch.setattr(ports, "ephemeral_range", lambda: (1024, 65535))
        assert 1024 <= free_port() <= 65535

    def test_the_range_is_read_from_the_kernel_or_defaults(self, tmp_path, monkeypatch):
        (tmp_path / "range").write_text("40000\t50000\n")
        monkeypatch.setattr(ports, "EPHEMERAL_RANGE", tmp_path / "range")
        assert ephemeral_range() == (40000, 50000)
        monkeypatch.setattr(ports, "EPHEMERAL_RANGE", tmp_path / "missing")
        assert ephemeral_range() == ports.DEFAULT_EPHEMERAL
