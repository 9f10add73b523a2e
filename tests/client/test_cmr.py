"""CMR search against the sandbox: paging with exact counts, retries, completeness checks, query building."""

from __future__ import annotations

import math
import tracemalloc
from datetime import UTC, date, datetime

import pytest
import requests

from airflow_asf_ifg.client.cmr import CmrClient, granule_query, time_range
from airflow_asf_ifg.client.earthdata import AuthPolicy, EarthdataIdentity, EarthdataSession, policy_for
from airflow_asf_ifg.client.granule import Granule
from airflow_asf_ifg.client.retry import RetryPolicy
from airflow_asf_ifg.client.settings import EarthdataSettings
from airflow_asf_ifg.exceptions import (
    CmrSearchError,
    CollectionNotFoundError,
    ConfigurationError,
    HostNotFoundError,
    IncompleteSearchError,
    InvalidInputError,
    TooManyResultsError,
)
from tests.client.helpers import UNRESOLVABLE_CMR, closed_port_url

GUNW = "C2859376221-ASF"
ALL = ["C1379535891-ASF", "C1379522387-ASF", "C1379535600-ASF", "C1595422627-ASF", GUNW]
PASADENA = (-118.1445, 34.1478)
FAST = RetryPolicy(attempts=8, base_seconds=0.01, max_seconds=0.05)


@pytest.fixture
def cmr(asf_sandbox):
    asf_sandbox.reset()
    return CmrClient(requests.Session(), asf_sandbox.urls.cmr, retry=FAST)


def expected(sandbox, collections=ALL) -> set[str]:
    return {g["concept_id"] for g in sandbox.catalogue_document() if g["collection_concept_id"] in collections}


class TestQuery:
    def test_every_condition(self):
        params = granule_query(
            collection_concept_id=[GUNW, "C1379535600-ASF"],
            aoi=PASADENA,
            temporal=("2018-01-01", datetime(2019, 1, 1, 12, tzinfo=UTC)),
            revision_date=(date(2024, 1, 1), None),
            attributes={
                "PATH_NUMBER": 64,
                "FRAME_NUMBER": (100, None),
                "ASCENDING_DESCENDING": "descending",
                "PERPENDICULAR_BASELINE": (-5, 2.5),
            },
            sort_key="-start_date",
        )
        assert params == [
            ("collection_concept_id[]", GUNW),
            ("collection_concept_id[]", "C1379535600-ASF"),
            ("point", "-118.1445,34.1478"),
            ("temporal", "2018-01-01T00:00:00Z,2019-01-01T12:00:00Z"),
            ("revision_date[]", "2024-01-01T00:00:00Z,"),
            ("attribute[]", "int,PATH_NUMBER,64"),
            ("attribute[]", "int,FRAME_NUMBER,100,"),
            ("attribute[]", "string,ASCENDING_DESCENDING,descending"),
            ("attribute[]", "float,PERPENDICULAR_BASELINE,-5,2.5"),
            ("sort_key[]", "-start_date"),
        ]

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            pytest.param({}, "give collection_concept_id", id="no-collection"),
            pytest.param({"collection_concept_id": ""}, "must be a non-empty string", id="empty-collection"),
            pytest.param(
                {"collection_concept_id": GUNW, "temporal": ("yesterday", None)},
                "temporal start 'yesterday' is not an ISO 8601",
                id="bad-time",
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "temporal": ("2020-01-02", "2020-01-01")},
                "is after its end",
                id="reversed-window",
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "temporal": "2020-01-01"},
                "must be a (start, end) pair",
                id="not-a-pair",
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "aoi": (500, 0)}, "longitude 500.0 is out of range", id="bad-aoi"
            ),
            pytest.param(
                {"collection_concept_id": GUNW, "attributes": {"PATH_NUMBER": (1, 2, 3)}},
                "must be a value or a (min, max) pair",
                id="bad-attribute",
            ),
        ],
    )
    def test_bad_input_fails_before_any_request(self, kwargs, message):
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            granule_query(**kwargs)

    def test_open_window_is_no_condition(self):
        assert time_range((None, None), "temporal") is None
        assert time_range(("2020-01-01T00:00:00+02:00", None), "temporal") == "2019-12-31T22:00:00Z,"


class TestSearch:
    def test_many_pages_exact_count(self, cmr, asf_sandbox, stats):
        results = cmr.search(collection_concept_id=ALL, page_size=7)
        granules = list(results)
        assert {g.concept_id for g in granules} == expected(asf_sandbox)
        assert results.hits == results.received == len(granules) == len(asf_sandbox.catalogue)
        assert results.pages == math.ceil(len(granules) / 7)  # stops at CMR-Hits: no extra empty page
        assert stats()["requests"]["cmr_granules"] == results.pages
        assert isinstance(granules[0], Granule) and granules[0].files

    def test_aoi_and_window(self, cmr, asf_sandbox):
        start = datetime(2021, 1, 1, tzinfo=UTC)
        found = list(cmr.search(collection_concept_id=GUNW, aoi=PASADENA, temporal=(start, None)))
        assert found and all(g.start >= start for g in found)
        from airflow_asf_ifg.client.geometry import point_in_ring

        covering = {
            g["concept_id"]
            for g in asf_sandbox.catalogue_document()
            if g["collection_concept_id"] == GUNW
            and datetime.fromisoformat(g["end"]) >= start
            and point_in_ring(PASADENA, [tuple(p) for p in g["footprint"]])
        }
        assert {g.concept_id for g in found} == covering

    def test_hits_and_limit(self, cmr, asf_sandbox, stats):
        assert cmr.hits(collection_concept_id=GUNW) == asf_sandbox.config.granules
        before = stats()["requests"].get("cmr_granules", 0)
        results = cmr.search(collection_concept_id=GUNW, limit=3, page_size=2)
        assert len(list(results)) == 3
        assert stats()["requests"]["cmr_granules"] - before == 2  # no page fetched past the limit

    def test_max_hits_raises_before_any_granule_or_second_page(self, cmr, stats):
        before = stats()["requests"].get("cmr_granules", 0)
        results = cmr.search(collection_concept_id=ALL, page_size=5, max_hits=10)
        with pytest.raises(TooManyResultsError, match="matched 60 granules, more than max_results=10"):
            results.start()
        assert stats()["requests"]["cmr_granules"] - before == 1

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            ({"page_size": 0}, "page_size 0 must be between 1 and 2000"),
            ({"limit": 0}, "limit 0 must be at least 1"),
            ({"max_hits": -1}, "max_hits -1 must be at least 1"),
            ({"on_incomplete": "ignore"}, "on_incomplete 'ignore' must be 'raise' or 'warn'"),
            ({"limit": float("nan")}, r"limit nan must be at least 1 \(a whole number\)"),
            ({"aoi": ""}, r"the AOI is empty \(''\)"),
            ({"aoi": "  "}, "the AOI is empty"),
        ],
        ids=["page-size", "limit", "max-hits", "on-incomplete", "limit-nan", "aoi-empty", "aoi-blank"],
    )
    def test_bad_options_are_refused_before_any_request(self, cmr, options, message):
        with pytest.raises(InvalidInputError, match=message):
            cmr.search(collection_concept_id=GUNW, **options)

    def test_an_empty_aoi_sends_no_request(self, cmr, stats):
        before = stats()["requests"].get("cmr_granules", 0)
        with pytest.raises(InvalidInputError, match="the AOI is empty"):
            list(cmr.search(collection_concept_id=GUNW, aoi=""))
        assert stats()["requests"].get("cmr_granules", 0) == before

    def test_client_id_header(self, cmr, stats):
        list(cmr.search(collection_concept_id=GUNW))
        assert "cmr_client_id=airflow-asf-ifg" in stats()["events"]

    def test_long_queries_go_as_post(self, cmr, asf_sandbox, stats):
        ring = [
            (-118.1445 + 0.5 * math.cos(2 * math.pi * i / 400), 34.1478 + 0.5 * math.sin(2 * math.pi * i / 400))
            for i in range(400)
        ]
        results = cmr.search(collection_concept_id=GUNW, aoi={"type": "Polygon", "coordinates": [ring]})
        assert len(results.query_url) > 6000
        found = {g.concept_id for g in results}
        assert found == {g.concept_id for g in cmr.search(collection_concept_id=GUNW, aoi=PASADENA)} | found
        assert found
        assert stats()["events"]["cmr_post"] >= 1

    def test_refused_query_is_not_retried(self, cmr, stats):
        with pytest.raises(CmrSearchError, match="Invalid format for attribute") as caught:
            list(cmr.search(collection_concept_id=GUNW, attributes=["weird,NAME"]))
        assert caught.value.status == 400
        assert stats()["requests"]["cmr_granules"] == 1

    def test_pages_stream_with_flat_memory(self, cmr):
        tracemalloc.start()
        try:
            for _ in cmr.search(collection_concept_id=ALL, page_size=5):
                pass
            _, small_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            for _ in cmr.search(collection_concept_id=ALL, page_size=60):
                pass
            _, big_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # A page at a time: the peak follows the page size, not the 60 granules in all.
        assert small_peak < big_peak


class TestRecovery:
    @pytest.mark.parametrize(
        ("setting", "event"),
        [("fault_rate", "fault_error"), ("throttle_rate", "fault_throttle"), ("reset_rate", "fault_reset")],
    )
    def test_faults_are_retried_to_an_exact_result(self, cmr, asf_sandbox, asf_sandbox_settings, stats, setting, event):
        asf_sandbox_settings(**{setting: 0.3})
        for _ in range(10):  # the draws are seeded: a search may meet no fault, so search again until one does
            before = stats()["events"].get(event, 0)
            granules = list(cmr.search(collection_concept_id=ALL, page_size=6))
            assert {g.concept_id for g in granules} == expected(asf_sandbox)
            if stats()["events"].get(event, 0) > before:
                break
        else:
            pytest.fail(f"no {event} in 10 searches at {setting} 0.3")

    def test_retry_after_is_honoured(self, asf_sandbox, asf_sandbox_settings):
        waits: list[float] = []
        client = CmrClient(
            requests.Session(),
            asf_sandbox.urls.cmr,
            retry=RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=5),
            sleep=waits.append,
        )
        asf_sandbox_settings(throttle_rate=1.0)
        with pytest.raises(CmrSearchError, match="kept failing after 3 tries; last: HTTP 429"):
            list(client.search(collection_concept_id=GUNW))
        assert waits == [1.0, 1.0]  # the sandbox's Retry-After, not the 0.01 s backoff

    def test_timeouts_are_retried_then_reported(self, asf_sandbox, asf_sandbox_settings):
        client = CmrClient(
            requests.Session(), asf_sandbox.urls.cmr, timeout=(2, 0.2), retry=RetryPolicy(attempts=2, base_seconds=0.01)
        )
        asf_sandbox_settings(latency_ms=600)
        with pytest.raises(CmrSearchError, match="kept failing after 2 tries; last: ReadTimeout"):
            list(client.search(collection_concept_id=GUNW))


class TestCompleteness:
    def test_timed_out_search_raises(self, cmr, asf_sandbox_settings):
        asf_sandbox_settings(cmr_timed_out=True)
        with pytest.raises(IncompleteSearchError, match="CMR-Timed-Out: true"):
            list(cmr.search(collection_concept_id=GUNW))

    def test_timed_out_search_can_warn(self, cmr, asf_sandbox_settings, caplog):
        asf_sandbox_settings(cmr_timed_out=True)
        granules = list(cmr.search(collection_concept_id=GUNW, on_incomplete="warn"))
        assert 0 < len(granules) < 12
        assert "timed out" in caplog.text and "partial" in caplog.text

    def test_short_count_raises_with_figures(self, cmr, asf_sandbox, asf_sandbox_settings):
        asf_sandbox_settings(cmr_hits_surplus=2)
        with pytest.raises(IncompleteSearchError) as caught:
            list(cmr.search(collection_concept_id=GUNW, page_size=5))
        error = caught.value
        assert (error.received, error.hits) == (asf_sandbox.config.granules, asf_sandbox.config.granules + 2)
        assert "CMR counted 14 granules but 12 arrived" in str(error)

    def test_duplicates_across_pages_are_dropped(self, cmr, asf_sandbox, asf_sandbox_settings):
        asf_sandbox_settings(cmr_page_overlap=True)
        results = cmr.search(collection_concept_id=ALL, page_size=10)
        granules = list(results)
        assert len(granules) == len({g.concept_id for g in granules}) == len(asf_sandbox.catalogue)
        assert results.duplicates >= 5


class TestCollectionCheck:
    def test_an_unknown_collection_is_refused_naming_it_and_the_known_ones(self, cmr, stats):
        with pytest.raises(CollectionNotFoundError) as caught:
            list(cmr.search(collection_concept_id=[GUNW, "C9999999999-ASF"]))
        message = str(caught.value)
        assert isinstance(caught.value, ConfigurationError)
        assert "knows no collection C9999999999-ASF:" in message
        assert all(known in message for known in ALL) and "ARIA_S1_GUNW" in message
        snapshot = stats()["requests"]
        assert snapshot["cmr_collections"] == 1 and "cmr_granules" not in snapshot  # refused before any page

    def test_hits_checks_the_collection_too(self, cmr):
        with pytest.raises(CollectionNotFoundError, match="C9999999999-ASF"):
            cmr.hits(collection_concept_id="C9999999999-ASF")

    def test_a_known_collection_with_nothing_in_the_window_is_an_empty_search(self, cmr, stats):
        results = cmr.search(collection_concept_id=GUNW, temporal=("1990-01-01", "1990-12-31"))
        assert list(results) == [] and results.hits == 0
        assert stats()["requests"]["cmr_collections"] == 1

    def test_one_check_per_search_not_per_page(self, cmr, stats):
        results = cmr.search(collection_concept_id=ALL, page_size=7)
        list(results)
        assert results.pages > 1
        snapshot = stats()["requests"]
        assert (snapshot["cmr_collections"], snapshot["cmr_granules"]) == (1, results.pages)

    def test_no_check_without_a_concept_id(self, cmr, stats):
        assert list(cmr.search(short_name="ARIA_S1_GUNW", limit=2))
        assert "cmr_collections" not in stats()["requests"]

    def test_the_check_is_retried_like_a_page(self, asf_sandbox, asf_sandbox_settings, stats):
        waits: list[float] = []
        client = CmrClient(
            requests.Session(),
            asf_sandbox.urls.cmr,
            retry=RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=5),
            sleep=waits.append,
        )
        asf_sandbox.reset()
        asf_sandbox_settings(fault_rate=1.0)
        with pytest.raises(CmrSearchError, match="kept failing after 3 tries; last: HTTP 50") as caught:
            list(client.search(collection_concept_id=GUNW))
        assert "/search/collections.json?" in str(caught.value)
        assert len(waits) == 2 and stats()["requests"]["cmr_collections"] == 3


class TestHostNotFound:
    def test_an_unresolvable_cmr_is_not_retried(self):
        waits: list[float] = []
        client = CmrClient(requests.Session(), UNRESOLVABLE_CMR, retry=RetryPolicy(attempts=6), sleep=waits.append)
        with pytest.raises(HostNotFoundError) as caught:
            list(client.search(collection_concept_id=GUNW))
        assert waits == []  # one try: no backoff before a second
        assert isinstance(caught.value, ConfigurationError) and caught.value.host == "cmr.invalid"
        assert "host 'cmr.invalid' does not resolve" in str(caught.value)
        assert "check cmr_url in the earthdata connection" in str(caught.value)

    def test_through_an_earthdata_session_too(self):
        settings = EarthdataSettings(cmr_url=UNRESOLVABLE_CMR)
        session = EarthdataSession(policy_for(EarthdataIdentity(token="t"), settings))
        waits: list[float] = []
        client = CmrClient(session, settings.cmr_url, retry=RetryPolicy(attempts=6), sleep=waits.append)
        with pytest.raises(HostNotFoundError, match="check cmr_url in the earthdata connection"):
            client.hits(short_name="ARIA_S1_GUNW")
        assert waits == []

    def test_a_refused_connection_is_still_retried(self):
        waits: list[float] = []
        client = CmrClient(requests.Session(), closed_port_url(), retry=RetryPolicy(attempts=3), sleep=waits.append)
        with pytest.raises(CmrSearchError, match="kept failing after 3 tries; last: ConnectionError") as caught:
            client.hits(short_name="ARIA_S1_GUNW")
        assert not isinstance(caught.value, ConfigurationError)
        assert len(waits) == 2

    def test_a_policy_without_settings_names_no_setting(self):
        policy = AuthPolicy(EarthdataIdentity(), "https://urs.earthdata.nasa.gov")
        with pytest.raises(HostNotFoundError, match="check where that URL came from") as caught:
            EarthdataSession(policy).get("http://granule.invalid/file.zip?signature=secret")
        assert "http://granule.invalid/file.zip cannot be reached" in str(caught.value)
        assert "secret" not in str(caught.value)  # a signed URL's query stays out of the message
