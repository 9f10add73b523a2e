"""SharedClients: one client per key and loop, opened once however many lease it at once, closed by the last."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from airflow_asf_ifg.client.shared_clients import SharedClients, fingerprint


class Opener:
    """Opens numbered clients, slowly (as a key fetch is), and records each open and close."""

    def __init__(self, fail_first: int = 0) -> None:
        self.opened: list[int] = []
        self.closed: list[int] = []
        self.fail_first = fail_first

    @contextlib.asynccontextmanager
    async def __call__(self):
        await asyncio.sleep(0.05)
        if self.fail_first:
            self.fail_first -= 1
            raise ConnectionError("credentials endpoint answered 503")
        number = len(self.opened) + 1
        self.opened.append(number)
        try:
            yield number
        finally:
            self.closed.append(number)


async def lease_and_hold(shared: SharedClients, key: str, opener: Opener, seconds: float = 0.05) -> int:
    async with shared.lease(key, opener) as client:
        await asyncio.sleep(seconds)
        return client


class TestLease:
    async def test_a_hundred_concurrent_leases_open_one_client(self):
        shared, opener = SharedClients(), Opener()
        clients = await asyncio.gather(*(lease_and_hold(shared, "k", opener) for _ in range(100)))
        assert set(clients) == {1} and opener.opened == [1]
        assert opener.closed == [1]  # the last lease out closed it

    async def test_keys_get_clients_of_their_own(self):
        shared, opener = SharedClients(), Opener()
        clients = await asyncio.gather(*(lease_and_hold(shared, key, opener) for key in ("a", "b", "a", "b")))
        assert sorted(set(clients)) == [1, 2] and clients[0] == clients[2] and clients[1] == clients[3]

    async def test_the_client_is_open_while_leased_and_reopened_after(self):
        shared, opener = SharedClients(), Opener()
        async with shared.lease("k", opener) as first:
            assert shared.open_count() == 1 and opener.closed == []
        assert shared.open_count() == 0 and opener.closed == [first]
        assert await lease_and_hold(shared, "k", opener) == 2

    async def test_a_failed_open_is_not_kept_and_the_next_lease_opens_again(self):
        shared, opener = SharedClients(), Opener(fail_first=1)
        results = await asyncio.gather(*(lease_and_hold(shared, "k", opener) for _ in range(3)), return_exceptions=True)
        assert isinstance(results[0], ConnectionError)
        assert results[1:] == [1, 1] and opener.opened == [1] and opener.closed == [1]

    def test_loops_do_not_share_clients(self):
        shared, opener = SharedClients(), Opener()
        assert asyncio.run(lease_and_hold(shared, "k", opener)) == 1
        assert asyncio.run(lease_and_hold(shared, "k", opener)) == 2


class TestFingerprint:
    def test_tells_identities_apart_without_holding_the_secret(self):
        one = fingerprint("user", "password-1", None)
        assert one == fingerprint("user", "password-1", None)
        assert one != fingerprint("user", "password-2", None)
        assert one != fingerprint("user", None, "password-1")  # which field a value is in counts
        assert "password-1" not in one

    @pytest.mark.parametrize("values", [("ab", "c"), ("a", "bc")])
    def test_field_boundaries_count(self, values):
        assert fingerprint(*values) != fingerprint("abc")
