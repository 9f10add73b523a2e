"""Watching many archived products, the parts with no network: targets, rounds of reads, when a wait is over."""

from __future__ import annotations

import pytest

from airflow_asf_ifg.client.archive import ArchiveState, ProductStatus, Throttled
from airflow_asf_ifg.client.archive_poll import (
    ArchivePoller,
    ArchiveTarget,
    archive_targets,
    finished,
    outcome,
    poll_each,
    targets_from_names,
)
from airflow_asf_ifg.client.granule import Granule, ProductFile

A, R, V, M = ArchiveState.ARCHIVED, ArchiveState.RETRIEVING, ArchiveState.AVAILABLE, ArchiveState.MISSING
TEA = "https://cumulus.asf.earthdatacloud.nasa.gov/s3credentials"


def states(**by_name: ArchiveState) -> dict[str, ProductStatus]:
    return {name: ProductStatus(name, state) for name, state in by_name.items()}


def poller(**kwargs) -> ArchivePoller:
    def no_session():
        raise AssertionError("these tests open no session")

    return ArchivePoller(no_session, status_template=None, **kwargs)


class TestArchiveTarget:
    def test_round_trip(self):
        target = ArchiveTarget("a.nc", "https://door/download/a.nc", "s3://bucket/a.nc", TEA)
        assert target.to_dict() == {
            "name": "a.nc",
            "url": "https://door/download/a.nc",
            "s3_url": "s3://bucket/a.nc",
            "s3_credentials_url": TEA,
        }
        assert ArchiveTarget.from_dict(target.to_dict()) == target

    def test_a_dict_of_the_previous_version_reads(self):
        row = {"name": "a.nc", "url": None, "s3_url": None, "s3_credentials_url": None}  # a stored trigger's kwargs
        assert ArchiveTarget.from_dict(row) == ArchiveTarget("a.nc")

    def test_a_dict_without_a_name_is_refused(self):
        with pytest.raises(ValueError, match="needs a name"):
            ArchiveTarget.from_dict({"url": "https://door/download/a.nc"})


class TestArchiveTargets:
    def test_the_files_of_the_roles_asked_for(self):
        granule = Granule(
            "G1",
            files=[
                ProductFile("a.nc", "data", "https://h/a.nc", "s3://b/k/a.nc"),
                ProductFile("a.png", "browse", "https://h/a.png"),
            ],
            s3_credentials_url=TEA,
        )
        assert archive_targets([granule.to_dict()]) == [ArchiveTarget("a.nc", "https://h/a.nc", "s3://b/k/a.nc", TEA)]
        assert [t.name for t in archive_targets([granule.to_dict()], ("data", "browse"))] == ["a.nc", "a.png"]


class TestTargetsFromNames:
    def test_file_names_and_s3_urls(self):
        assert targets_from_names(["a.nc", "s3://bucket/dir/b.nc"]) == [
            ArchiveTarget("a.nc"),
            ArchiveTarget("b.nc", s3_url="s3://bucket/dir/b.nc"),
        ]

    def test_an_s3_url_without_a_key_is_refused(self):
        with pytest.raises(ValueError, match="s3://bucket/key"):
            targets_from_names(["s3://bucket"])


class TestFinished:
    @pytest.mark.parametrize(
        ("latest", "total", "stays_archived", "expected"),
        [
            (states(a=V, b=M), 2, (), True),
            (states(a=V), 2, (), False),
            (states(a=V, b=R), 2, (), False),
            (states(a=V, b=A), 2, (), False),
            (states(a=V, b=A), 2, ("b",), True),
            (states(a=R), 1, ("a",), False),
        ],
        ids=[
            "available-and-missing",
            "one-not-read-yet",
            "retrieving",
            "archived-and-asked",
            "archived-for-good",
            "retrieving-whatever-the-cap",
        ],
    )
    def test_cases(self, latest, total, stays_archived, expected):
        assert finished(latest, total, lambda name: name in stays_archived) is expected


class TestOutcome:
    @pytest.mark.parametrize(
        ("products", "fail_on_missing", "expected"),
        [
            ([{"name": "a", "state": "available"}], True, None),
            ([{"name": "a", "state": "missing"}], True, "1 product(s) do not exist: a"),
            ([{"name": "a", "state": "missing"}], False, None),
            (
                [{"name": "a", "state": "archived"}],
                False,
                "1 product(s) are still archived because max_retrievals was reached: a; a later run will request them",
            ),
        ],
        ids=["available", "missing", "missing-allowed", "over-the-cap"],
    )
    def test_cases(self, products, fail_on_missing, expected):
        assert outcome(products, fail_on_missing) == expected

    def test_both_problems_are_said(self):
        problem = outcome([{"name": "a", "state": "missing"}, {"name": "b", "state": "archived"}], True)
        assert problem.startswith("1 product(s) do not exist: a; 1 product(s) are still archived")


class TestPollEach:
    async def test_states_by_name_and_the_longest_retry_after(self):
        async def read(name: str, state: ArchiveState | None = None, retry_after: float = 0.0) -> ProductStatus:
            if state is None:
                raise Throttled(retry_after)
            return ProductStatus(name, state)

        result = await poll_each(
            [read("a", V), read("b", retry_after=3.0), read("c", retry_after=7.0), read("d", A)], limit=2
        )
        assert result.states == states(a=V, d=A) and result.retry_after == 7.0

    async def test_another_error_is_raised(self):
        async def broken() -> ProductStatus:
            raise PermissionError("403 Forbidden")

        async def fine() -> ProductStatus:
            return ProductStatus("a", V)

        with pytest.raises(PermissionError, match="403"):
            await poll_each([fine(), broken()], limit=5)


class TestArchivePoller:
    def test_each_retrieval_is_asked_once_under_the_cap(self):
        capped = poller(max_retrievals=1, requested=["a"])
        assert not capped.may_request("a")  # already asked
        assert not capped.may_request("b")  # the cap is reached
        assert not capped.stays_archived("a") and capped.stays_archived("b")
        assert poller().may_request("b") and not poller().stays_archived("b")

    def test_not_requesting_leaves_archived_products_archived(self):
        passive = poller(request_retrieval=False)
        assert not passive.may_request("a") and passive.stays_archived("a")

    @pytest.mark.parametrize(
        ("template", "target", "method"),
        [
            ("https://door/status/{name}", ArchiveTarget("a.nc", s3_url="s3://b/a.nc"), "status"),
            (None, ArchiveTarget("a.nc", s3_url="s3://b/a.nc"), "head"),
            (None, ArchiveTarget("a.nc", "https://h/a.nc"), "download"),
        ],
        ids=["door", "s3", "download"],
    )
    def test_how_each_product_is_read(self, template, target, method):
        assert ArchivePoller(lambda: None, status_template=template).method_for(target) == method
