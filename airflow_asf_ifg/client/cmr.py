"""CMR granule search: query building, ``CMR-Search-After`` paging, retries and a completeness check.

Follows CMR's search API (``asf_cmr_edl.md`` section 4): page with ``CMR-Search-After`` (``page_num``
is deprecated and depth-limited), retry 429 (``Retry-After``) and 5xx with backoff, and compare what
arrived with ``CMR-Hits`` because a timed-out CMR query returns a subset without an error
(nasa/Common-Metadata-Repository#820) and paging is not point-in-time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import msgspec
import requests

from airflow_asf_ifg.client.aoi import parse_aoi
from airflow_asf_ifg.client.earthdata import USER_AGENT, host_not_found
from airflow_asf_ifg.client.granule import Granule, format_time
from airflow_asf_ifg.client.limits import MAX_PAGE_SIZE, check_search_options
from airflow_asf_ifg.client.retry import RETRYABLE_STATUSES, RetryPolicy
from airflow_asf_ifg.client.settings import DEFAULT_CMR_URL
from airflow_asf_ifg.exceptions import (
    CmrSearchError,
    CollectionNotFoundError,
    IncompleteSearchError,
    InvalidInputError,
    TooManyResultsError,
)

__all__ = [
    "GUNW_COLLECTIONS",
    "MAX_GET_URL",
    "CmrClient",
    "CmrPage",
    "SearchResults",
    "granule_query",
    "time_range",
]

log = logging.getLogger(__name__)

#: CMR answers 413 for URLs over about 6,000 characters; longer queries go in a form POST body.
MAX_GET_URL = 6000
_RETRY_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)

TimeBound = datetime | date | str | None
T = TypeVar("T")
#: ASF's interferogram (GUNW) collections: today's, the 2019-2024 BETA one, and the three of the 2018 page.
GUNW_COLLECTIONS = (
    ("C2859376221-ASF", "ARIA_S1_GUNW"),
    ("C1595422627-ASF", "SENTINEL-1_INTERFEROGRAMS"),
    ("C1379535891-ASF", "2018 GRFN BETA, all products"),
    ("C1379522387-ASF", "2018 GRFN BETA, wrapped interferograms"),
    ("C1379535600-ASF", "2018 GRFN BETA, unwrapped interferograms"),
)


class CmrPage(msgspec.Struct):
    """One ``granules.umm_json`` page with its items left undecoded until each is parsed.

    Decoding a 2,000-item page at once makes millions of objects that survive long enough to trigger
    full garbage collections over a worker's whole heap; decoding one item at a time keeps them
    short-lived and the page at its wire size (about 3 KB a granule).

    :param hits: the ``hits`` field.
    :param items: the raw JSON of each item.
    """

    hits: int = 0
    items: list[msgspec.Raw] = []


_PAGE_DECODER = msgspec.json.Decoder(CmrPage)


class _CollectionEntry(msgspec.Struct):
    id: str = ""


class _CollectionFeedBody(msgspec.Struct):
    entry: list[_CollectionEntry] = []


class _CollectionFeed(msgspec.Struct):
    """A ``collections.json`` answer, reduced to the concept ids it lists."""

    feed: _CollectionFeedBody = msgspec.field(default_factory=_CollectionFeedBody)


_COLLECTION_FEED_DECODER = msgspec.json.Decoder(_CollectionFeed)


def _time_text(value: TimeBound, what: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInputError(
                f"{what} {value!r} is not an ISO 8601 date or datetime (e.g. 2018-04-22 or 2018-04-22T13:03:37Z)"
            ) from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_time(value) or ""


def time_range(value: Sequence[TimeBound] | None, what: str) -> str | None:
    """A CMR range ``start,end`` from a pair whose ends may be None (open).

    :param value: (start, end), or None for no condition.
    :param what: the argument's name, for errors.
    """
    if value is None:
        return None
    if isinstance(value, str) or len(value) != 2:
        raise InvalidInputError(f"{what} must be a (start, end) pair, either end may be None; got {value!r}")
    start, end = _time_text(value[0], f"{what} start"), _time_text(value[1], f"{what} end")
    if start and end and datetime.fromisoformat(start) > datetime.fromisoformat(end):
        raise InvalidInputError(f"{what} start {start} is after its end {end}")
    if not start and not end:
        return None
    return f"{start},{end}"


def _attribute_filters(attributes: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
    """CMR ``attribute[]`` values from ``{"PATH_NUMBER": 87, "FRAME_NUMBER": (100, 200)}`` or raw strings."""
    if not attributes:
        return []
    if not isinstance(attributes, Mapping):
        return [str(a) for a in attributes]
    filters = []
    for name, value in attributes.items():
        values = value if isinstance(value, tuple | list) else (value,)
        if len(values) not in (1, 2):
            raise InvalidInputError(f"attribute {name} must be a value or a (min, max) pair, got {value!r}")
        known = [v for v in values if v is not None]
        if all(isinstance(v, bool) for v in known) and known:
            raise InvalidInputError(f"attribute {name}: booleans are not CMR attribute values; give a string")
        kind = (
            "int"
            if all(isinstance(v, int) for v in known)
            else "float"
            if all(isinstance(v, int | float) for v in known)
            else "string"
        )
        text = ",".join("" if v is None else str(v) for v in values)
        filters.append(f"{kind},{name},{text}")
    return filters


def granule_query(
    *,
    collection_concept_id: str | Sequence[str] | None = None,
    short_name: str | Sequence[str] | None = None,
    aoi: Any = None,
    temporal: Sequence[TimeBound] | None = None,
    revision_date: Sequence[TimeBound] | None = None,
    attributes: Mapping[str, Any] | Sequence[str] | None = None,
    sort_key: str | Sequence[str] | None = None,
    readable_granule_name: str | Sequence[str] | None = None,
) -> list[tuple[str, str]]:
    """Build and check the parameters of a granule search; raise ValueError before any request.

    :param collection_concept_id: one or several collection concept ids.
    :param short_name: one or several collection short names.
    :param aoi: an area of interest in any form :func:`~airflow_asf_ifg.client.aoi.parse_aoi` accepts.
    :param temporal: acquisition time (start, end); either end may be None.
    :param revision_date: CMR revision time (start, end); either end may be None.
    :param attributes: ``attribute[]`` filters: a dict of name → value or (min, max), or raw strings.
    :param sort_key: CMR sort keys (``-start_date``...).
    :param readable_granule_name: granule names (GranuleUR or producer granule id), any of which matches.
    """
    params: list[tuple[str, str]] = []
    for name, value in (("collection_concept_id[]", collection_concept_id), ("short_name[]", short_name)):
        values = [value] if isinstance(value, str) else list(value or [])
        for item in values:
            if not isinstance(item, str) or not item.strip():
                raise InvalidInputError(f"{name.rstrip('[]')} {item!r} must be a non-empty string")
            params.append((name, item.strip()))
    if not params:
        raise InvalidInputError(
            "CMR searches granules within collections: give collection_concept_id (e.g. "
            "C2859376221-ASF for ARIA_S1_GUNW) or short_name"
        )
    if aoi is not None:  # "" is refused by parse_aoi: no spatial filter is said with None, never by an empty AOI
        params += parse_aoi(aoi).cmr_params()
    temporal_text = time_range(temporal, "temporal")
    if temporal_text:
        params.append(("temporal", temporal_text))
    revision_text = time_range(revision_date, "revision_date")
    if revision_text:
        params.append(("revision_date[]", revision_text))
    params += [("attribute[]", text) for text in _attribute_filters(attributes)]
    keys = [sort_key] if isinstance(sort_key, str) else list(sort_key or [])
    params += [("sort_key[]", key) for key in keys]
    names = [readable_granule_name] if isinstance(readable_granule_name, str) else list(readable_granule_name or [])
    params += [("readable_granule_name[]", name) for name in names]
    return params


class SearchResults:
    """The granules of one search, fetched a page at a time as they are iterated.

    ``hits`` and ``query_url`` are known before the first granule is handed out.

    :param client: the CMR client.
    :param params: the query parameters.
    :param page_size: granules per page.
    :param limit: stop after this many (None: all).
    :param max_hits: raise when CMR counts more than this many (None: no such check).
    :param on_incomplete: ``raise`` or ``warn`` when fewer arrive than CMR counted.
    """

    def __init__(
        self,
        client: CmrClient,
        params: list[tuple[str, str]],
        page_size: int,
        limit: int | None,
        max_hits: int | None,
        on_incomplete: str,
    ) -> None:
        self._client = client
        self._params = params
        self._page_size = page_size
        self._limit = limit
        self._max_hits = max_hits
        self._on_incomplete = on_incomplete
        self.hits: int | None = None
        self.received = 0
        self.duplicates = 0
        self.pages = 0
        self.query_url = client.query_url([*params, ("page_size", str(page_size))])
        self._iterator = self._granules()
        self._first: Granule | None = None

    def __iter__(self) -> Iterator[Granule]:
        return self

    def __next__(self) -> Granule:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return next(self._iterator)

    def start(self) -> SearchResults:
        """Fetch the first page now, so that ``hits`` is known; return self."""
        if self.pages == 0:
            try:
                self._first = next(self._iterator)
            except StopIteration:
                self._iterator = iter(())
        return self

    def _check_hits(self) -> None:
        if self._max_hits is not None and self.hits is not None and self.hits > self._max_hits:
            raise TooManyResultsError(
                f"the search matched {self.hits} granules, more than max_results={self._max_hits}: narrow the AOI "
                f"or time window, raise max_results, or pass truncate=True to take the first {self._max_hits}. "
                f"Query: {self.query_url}",
                hits=self.hits,
                max_results=self._max_hits,
            )

    def _granules(self) -> Iterator[Granule]:
        # Once per search, not per page: CMR answers an unknown collection with zero hits, not an error.
        self._client.check_collections([value for name, value in self._params if name == "collection_concept_id[]"])
        params = [*self._params, ("page_size", str(self._page_size))]
        seen: set[str] = set()
        limit = self._limit
        # One page is fetched ahead while the current one is parsed: the wait for CMR overlaps the
        # parsing, and memory stays at two pages whatever the number of results.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cmr-page") as fetcher:
            pending: Future[tuple[CmrPage, Mapping[str, str]]] | None = fetcher.submit(
                self._client.fetch_page, params, None
            )
            try:
                while pending is not None:
                    page, headers = pending.result()
                    pending = None
                    self.pages += 1
                    self.hits = int(headers.get("CMR-Hits", page.hits))
                    if self.pages == 1:
                        self._check_hits()
                    # A list of its own (of references only), whose slots are emptied as each record is parsed.
                    items: list[msgspec.Raw | None] = list(page.items)
                    del page
                    search_after = headers.get("CMR-Search-After")
                    expected_after = self.received + len(items)
                    more = bool(
                        items
                        and search_after
                        and expected_after < self.hits
                        and (limit is None or expected_after < limit)
                    )
                    log.info(
                        "CMR page %d: %d granules (%d of %d so far)", self.pages, len(items), expected_after, self.hits
                    )
                    if headers.get("CMR-Timed-Out", "").lower() == "true":
                        self._incomplete(
                            f"CMR says its search timed out (CMR-Timed-Out: true) on page "
                            f"{self.pages}: the results are partial"
                        )
                    for index in range(len(items)):
                        if index == 1 and more:  # the caller wants more than the first: fetch ahead
                            pending, more = fetcher.submit(self._client.fetch_page, params, search_after), False
                        raw, items[index] = items[index], None  # let each record go once parsed
                        granule = Granule.from_umm(msgspec.json.decode(raw or b"null"))
                        key = granule.concept_id or granule.granule_ur
                        if key in seen:
                            self.duplicates += 1  # paging is not point-in-time: a granule may move across pages
                            continue
                        seen.add(key)
                        self.received += 1
                        yield granule
                        if limit is not None and self.received >= limit:
                            return
                    if more:
                        pending = fetcher.submit(self._client.fetch_page, params, search_after)
            finally:
                if pending is not None:
                    pending.cancel()
        if self.received < (self.hits or 0):
            self._incomplete(
                f"CMR counted {self.hits} granules but {self.received} arrived in {self.pages} "
                f"pages ({self.duplicates} duplicates dropped); results changed while paging or CMR "
                f"dropped some"
            )

    def _incomplete(self, message: str) -> None:
        if self._on_incomplete == "warn":
            log.warning("%s; continuing because on_incomplete='warn'", message)
            return
        raise IncompleteSearchError(
            f"{message}. Run the search again; pass on_incomplete='warn' to accept partial results",
            received=self.received,
            hits=self.hits or 0,
        )


class CmrClient:
    """Searches CMR for granules over a ``requests`` session.

    :param session: the HTTP session (an :class:`~airflow_asf_ifg.client.earthdata.EarthdataSession`
        to send an EDL token to CMR, or any ``requests.Session``).
    :param cmr_url: CMR's base URL (without ``/search``).
    :param client_id: the ``Client-Id`` header CMR asks clients to send.
    :param timeout: (connect, read) timeout in seconds.
    :param retry: the retry policy.
    :param sleep: how to wait between tries.
    """

    def __init__(
        self,
        session: requests.Session,
        cmr_url: str = DEFAULT_CMR_URL,
        *,
        client_id: str = "airflow-asf-ifg",
        timeout: tuple[float, float] = (10.0, 180.0),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session = session
        self.cmr_url = cmr_url.rstrip("/")
        self.headers = {"Client-Id": client_id, "User-Agent": USER_AGENT, "Accept": "application/json"}
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep

    @property
    def granules_url(self) -> str:
        """The ``granules.umm_json`` search URL."""
        return f"{self.cmr_url}/search/granules.umm_json"

    @property
    def collections_url(self) -> str:
        """The ``collections.json`` search URL."""
        return f"{self.cmr_url}/search/collections.json"

    def query_url(self, params: list[tuple[str, str]]) -> str:
        """The GET URL of a query, for logs and links.

        :param params: query parameters.
        """
        return f"{self.granules_url}?{urlencode(params)}"

    def search(
        self,
        *,
        page_size: int = MAX_PAGE_SIZE,
        limit: int | None = None,
        max_hits: int | None = None,
        on_incomplete: str = "raise",
        **query: Any,
    ) -> SearchResults:
        """Search granules; iterate the result to fetch them page by page.

        :param page_size: granules per page (1-2000).
        :param limit: stop after this many granules (the rest are not fetched).
        :param max_hits: raise :class:`~airflow_asf_ifg.exceptions.TooManyResultsError` before handing out any
            granule when CMR counts more than this many.
        :param on_incomplete: ``raise`` (default) or ``warn`` when CMR delivers fewer than it counted.
        :param query: arguments of :func:`granule_query`.
        """
        check_search_options(page_size, on_incomplete, limit=limit, max_hits=max_hits)
        if limit is not None:
            page_size = min(page_size, limit)
        return SearchResults(self, granule_query(**query), page_size, limit, max_hits, on_incomplete)

    def hits(self, **query: Any) -> int:
        """How many granules match (CMR's ``CMR-Hits`` for ``page_size=0``).

        :param query: arguments of :func:`granule_query`.
        """
        params = granule_query(**query)
        self.check_collections([value for name, value in params if name == "collection_concept_id[]"])
        page, headers = self.fetch_page([*params, ("page_size", "0")], None)
        return int(headers.get("CMR-Hits", page.hits))

    def check_collections(self, concept_ids: Sequence[str]) -> None:
        """Raise :class:`~airflow_asf_ifg.exceptions.CollectionNotFoundError` naming the collections CMR does not know.

        One request for every id (CMR answers an unknown id with an empty feed, not an error); none without ids.

        :param concept_ids: collection concept ids.
        """
        wanted = list(dict.fromkeys(concept_ids))
        if not wanted:
            return
        known: set[str] = set()
        for start in range(0, len(wanted), MAX_PAGE_SIZE):
            chunk = wanted[start : start + MAX_PAGE_SIZE]
            params = [*(("concept_id[]", concept_id) for concept_id in chunk), ("page_size", str(len(chunk)))]
            feed, _ = self._send(self.collections_url, params, dict(self.headers), _COLLECTION_FEED_DECODER.decode)
            known.update(entry.id.upper() for entry in feed.feed.entry)
        unknown = [concept_id for concept_id in wanted if concept_id.upper() not in known]
        if unknown:
            gunw = ", ".join(f"{concept_id} ({name})" for concept_id, name in GUNW_COLLECTIONS)
            raise CollectionNotFoundError(
                f"CMR at {self.cmr_url} knows no collection {', '.join(unknown)}: a typo, or a collection of another "
                f"CMR (cmr_url). The interferogram collections are {gunw}"
            )

    def fetch_page(self, params: list[tuple[str, str]], search_after: str | None) -> tuple[CmrPage, Mapping[str, str]]:
        """Fetch one page, retrying what is worth retrying; return (the page, its headers).

        :param params: query parameters, ``page_size`` included.
        :param search_after: the ``CMR-Search-After`` value from the previous page.
        """
        headers = dict(self.headers)
        if search_after:
            headers["CMR-Search-After"] = search_after
        return self._send(self.granules_url, params, headers, _PAGE_DECODER.decode)

    def _send(
        self, url: str, params: list[tuple[str, str]], headers: dict[str, str], decode: Callable[[bytes], T]
    ) -> tuple[T, Mapping[str, str]]:
        """GET (or POST, when the URL is too long) with retries; return (the decoded 200 body, its headers).

        :param url: the search URL.
        :param params: query parameters.
        :param headers: request headers.
        :param decode: reads the body; a ValueError is retried, as for a body cut off mid-way.
        """
        query_url = f"{url}?{urlencode(params)}"
        use_post = len(query_url) > MAX_GET_URL
        last_error = ""
        for attempt in range(1, self.retry.attempts + 1):
            retry_after = None
            try:
                if use_post:
                    response = self.session.post(url, data=params, headers=headers, timeout=self.timeout)
                else:
                    response = self.session.get(url, params=params, headers=headers, timeout=self.timeout)
                if response.status_code == 200:
                    return decode(response.content), response.headers
                last_error = f"HTTP {response.status_code}: {_cmr_errors(response)}"
                if response.status_code not in RETRYABLE_STATUSES:
                    raise CmrSearchError(
                        f"CMR refused the search ({last_error}). Query: {query_url}", status=response.status_code
                    )
                retry_after = response.headers.get("Retry-After")
            except requests.ConnectionError as error:
                # A host that does not resolve is a setting to fix, not a fault to wait out (six tries and a
                # minute of backoff for the same answer); refused and reset connections stay retried.
                not_found = host_not_found(error, url, ["cmr_url"])
                if not_found is not None:
                    raise not_found from error
                last_error = f"{type(error).__name__}: {error}"
            except (*_RETRY_ERRORS, ValueError) as error:
                last_error = f"{type(error).__name__}: {error}"
            if attempt < self.retry.attempts:
                delay = self.retry.delay(attempt, retry_after)
                log.warning(
                    "CMR request failed (%s); try %d of %d in %.1f s",
                    last_error,
                    attempt + 1,
                    self.retry.attempts,
                    delay,
                )
                self._sleep(delay)
        raise CmrSearchError(
            f"CMR kept failing after {self.retry.attempts} tries; last: {last_error}. Query: {query_url}"
        )


def _cmr_errors(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors")
    except ValueError:
        errors = None
    return "; ".join(map(str, errors)) if errors else response.text[:300]
