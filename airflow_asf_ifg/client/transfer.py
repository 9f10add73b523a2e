"""The streaming copy engine: an S3 object or an HTTPS URL into a multipart upload, verified, resumable, idempotent.

Parts are fetched with concurrent ranged GETs: of an S3 object, or of the signed URL an HTTPS door
redirects to (asked again when it expires); an HTTPS server that ignores ``Range`` is read once, in order.
Either way the bytes land in a fixed set of part buffers that are hashed in order and uploaded in
parallel (:mod:`~airflow_asf_ifg.client.multipart`), so memory does not grow with the object. A reset
or 5xx mid-object resumes with a Range request from the last good byte. Size and checksum are checked
before the object is put or its multipart upload completed, and any failure aborts the upload, so
nothing partial is ever visible at the destination key. The destination's user metadata records size,
checksum, concept id and source, so a second run finds the object and copies nothing.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import requests
from botocore.exceptions import BotoCoreError, ClientError

from airflow_asf_ifg.client.limits import MIB, S3_MAX_PARTS, S3_MAX_SINGLE_COPY, S3_MIN_PART_SIZE
from airflow_asf_ifg.client.multipart import MultipartTarget, upload_checksum_algorithm, upload_ranges, upload_stream
from airflow_asf_ifg.client.retry import RETRYABLE_STATUSES, RetryPolicy
from airflow_asf_ifg.client.s3 import (
    ARCHIVE_STORAGE_CLASSES,
    abort_upload,
    complete_upload,
    error_code,
    is_not_found,
    is_retryable,
)
from airflow_asf_ifg.client.upload_ledger import UploadLedger, UploadOwner
from airflow_asf_ifg.exceptions import (
    ChecksumMismatchError,
    InvalidInputError,
    ProductArchivedError,
    ProductMissingError,
    TransferError,
)

log = logging.getLogger(__name__)

__all__ = [
    "COPY_PART_SIZE",
    "DEFAULT_PART_SIZE",
    "DEFAULT_RETRY",
    "MAX_RESUMES",
    "MEMORY_LIMIT",
    "MIB",
    "READ_CHUNK",
    "HttpsSource",
    "Progress",
    "ReadInterrupted",
    "S3Source",
    "Source",
    "Transfer",
    "TransferResult",
    "balanced_part_size",
    "new_hash",
    "part_size_for",
    "resuming_read",
]

DEFAULT_PART_SIZE = 8 * MIB  # what boto3's TransferConfig uses; S3's floor is S3_MIN_PART_SIZE
#: Parts of a copy inside S3 (UploadPartCopy): no byte passes through here, so large parts mean few requests.
COPY_PART_SIZE = 512 * MIB
READ_CHUNK = MIB  # copied into part buffers at once: small reads keep transient memory small
MEMORY_LIMIT = 80 * MIB  # part buffers per copy, whatever the object's size
DEFAULT_RETRY = RetryPolicy()
#: First ranged GETs tried before an HTTPS source is read as one stream instead.
PROBE_ATTEMPTS = 3
#: Breaks in a row survived at one byte: as many as the tries of any other request (a break that made
#: progress starts the count again).
MAX_RESUMES = DEFAULT_RETRY.attempts - 1
_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
_METADATA_SIZE, _METADATA_CHECKSUM = "asf-size", "asf-checksum"


def part_size_for(size: int, wanted: int | None = None) -> int:
    """A part size that keeps an object of ``size`` bytes within S3's 10,000 parts (5 TB fits).

    :param size: the object size.
    :param wanted: the caller's preferred part size.
    """
    floor = max(DEFAULT_PART_SIZE if wanted is None else max(wanted, S3_MIN_PART_SIZE), math.ceil(size / S3_MAX_PARTS))
    return math.ceil(floor / MIB) * MIB


def balanced_part_size(size: int, part_size: int, concurrency: int) -> int:
    """A part size up to ``part_size`` that splits ``size`` bytes into whole waves of ``concurrency`` parts.

    Parts fetched ``concurrency`` at once finish in waves: 17 parts of 8 MiB on 8 connections take three
    waves, the last one part on one connection while seven idle. The same 130 MiB in 24 parts of 5.4 MiB is
    three full waves, each a third shorter, where one connection's bandwidth is the limit (a WAN, CloudFront).
    Objects of one part, parts that would fall below S3's 5 MiB, or more than 10,000 parts keep ``part_size``.

    :param size: the object size.
    :param part_size: the largest part size (from :func:`part_size_for`).
    :param concurrency: parts fetched at once.
    """
    if size <= part_size:
        return part_size  # one GET and one put, no multipart upload
    waves = math.ceil(size / (part_size * concurrency))
    balanced = max(math.ceil(size / (waves * concurrency)), S3_MIN_PART_SIZE)
    return balanced if math.ceil(size / balanced) <= S3_MAX_PARTS else part_size


def new_hash(algorithm: str | None) -> Any:
    """A hashlib object for CMR's checksum algorithm name (``MD5``, ``SHA-256``...); MD5 when unknown.

    :param algorithm: CMR's name.
    """
    return hashlib.new(_HASHES.get((algorithm or "MD5").upper(), "md5"), usedforsecurity=False)


class ReadInterrupted(Exception):
    """A source stream broke off; reading may resume at ``offset``."""


class Source(Protocol):
    """Something the engine can read from an offset onwards."""

    url: str

    def size(self) -> int | None:
        """The object's size, when the source can tell without reading it."""

    def ranges(self, part_size: int) -> bool:
        """Whether byte ranges may be fetched at once, each on its own connection (may read the first part)."""

    def open(self, offset: int, end: int | None = None) -> tuple[Iterator[bytes], int]:
        """Stream from ``offset`` (to ``end``, exclusive); return (chunks, the offset the stream really starts at)."""


class S3Source:
    """An S3 object read with (refreshing) credentials; ranged GETs resume after a break or fetch parts at once.

    :param client: a boto3 S3 client that can read the object.
    :param bucket: the bucket.
    :param key: the key.
    """

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self.url = f"s3://{bucket}/{key}"
        self._head: dict[str, Any] | None = None

    def head(self) -> dict[str, Any]:
        """HeadObject of the source, refusing archived and missing objects with a clear error."""
        if self._head is None:
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=self.key)
            except ClientError as error:
                if is_not_found(error):
                    raise ProductMissingError(f"{self.url} does not exist (404)") from error
                raise
            storage = head.get("StorageClass") or "STANDARD"
            if storage in ARCHIVE_STORAGE_CLASSES and 'ongoing-request="false"' not in head.get("Restore", ""):
                raise ProductArchivedError(f"{self.url} is in {storage} storage and not restored", self.key)
            self._head = head
        return self._head

    def size(self) -> int | None:
        """The ContentLength from HeadObject."""
        return int(self.head()["ContentLength"])

    def ranges(self, part_size: int) -> bool:
        """Always: S3 serves each range on its own.

        :param part_size: unused.
        """
        return True

    def open(self, offset: int, end: int | None = None) -> tuple[Iterator[bytes], int]:
        """A ranged GET from ``offset`` (up to ``end``, exclusive)."""
        options: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key}
        if offset or end is not None:
            options["Range"] = _range(offset, end)
        try:
            body = self.client.get_object(**options)["Body"]
        except ClientError as error:
            if error_code(error) == "InvalidObjectState":
                raise ProductArchivedError(
                    f"{self.url} is in archive storage and not restored (InvalidObjectState)", self.key
                ) from error
            if is_retryable(error):
                raise ReadInterrupted(f"S3 answered {error_code(error)}") from error
            raise
        except BotoCoreError as error:
            raise ReadInterrupted(str(error)) from error
        return _s3_chunks(body), offset


def _s3_chunks(body: Any) -> Iterator[bytes]:
    try:
        while chunk := body.read(READ_CHUNK):
            yield chunk
    except (BotoCoreError, OSError, requests.exceptions.RequestException) as error:
        raise ReadInterrupted(str(error)) from error
    finally:
        body.close()


class HttpsSource:
    """An HTTPS URL read through an Earthdata session: in parallel ranges when the server answers them.

    The first GET, for the first part's range, goes through the door (its EDL OAuth chain, then the 302 to a
    URL signed for 15 s). A 206 means ranges work: the other parts are fetched from that signed URL at once,
    with no Earthdata credentials (it is not the EDL host). When a signed URL has expired or a range is
    refused (403), the door is asked again, with the session's cookie (no new login), and the range goes on
    from its last good byte. A 200 with the whole body means the server ignores ``Range``: that very
    response is read as the single stream, so nothing is read twice.

    :param session: an :class:`~airflow_asf_ifg.client.earthdata.EarthdataSession`.
    :param url: the granule's HTTPS URL.
    :param timeout: (connect, read) timeout in seconds.
    """

    def __init__(self, session: Any, url: str, timeout: tuple[float, float] = (10.0, 120.0)) -> None:
        self.session = session
        self.url = url
        self.timeout = timeout
        #: The whole object's length, once a GET has told it (``Content-Length``, or a 206's ``Content-Range``).
        self.length: int | None = None
        #: How often the door was asked again for a signed URL (expired or refused).
        self.resolved_again = 0
        #: GETs of the door's URL in all: the first part's (again if it broke off), then each new signature.
        self.door_gets = 0
        self._signed: str | None = None  # the signed URL ranges are read from, once the door gave one
        self._pending: tuple[int, int | None, requests.Response] | None = None  # the probe's unread answer
        self._lock = threading.Lock()
        self._plain: requests.Session | None = None

    def size(self) -> int | None:
        """The length the first GET told (the door answers HEAD with a redirect to a URL that lives 15 s)."""
        return self.length

    def ranges(self, part_size: int) -> bool:
        """Whether parts may be fetched at once: the first part's GET tells (a 206), and is kept for its part.

        :param part_size: the first part's length.
        """
        if self._pending is not None or self._signed is not None:
            return self._signed is not None
        for attempt in range(1, PROBE_ATTEMPTS + 1):
            try:
                response, start = self._through_door(0, part_size)
                break
            except ReadInterrupted as error:
                if attempt == PROBE_ATTEMPTS:  # the single stream resumes on its own
                    log.warning("%s: the first ranged GET failed (%s); reading it as one stream", self.url, error)
                    return False
        if response.status_code == 206 and start == 0:
            self._signed = response.url
            self._pending = (0, part_size, response)
            return True
        self._pending = (0, None, response)  # a 200: the server ignores Range; this body is the stream
        log.info("%s: the server ignores Range; reading it as one stream", self.url)
        return False

    def open(self, offset: int, end: int | None = None) -> tuple[Iterator[bytes], int]:
        """GET (``Range`` from ``offset`` to ``end``, exclusive), checking that what came back is the product."""
        with self._lock:  # only one range takes the first GET's answer
            pending, self._pending = self._pending, None
        if pending is not None:
            first, last, response = pending
            # It serves this read when it starts here and reaches at least as far (a read past ``end`` is cut).
            if first == offset and (last is None or (end is not None and end <= last)):
                return _http_chunks(response), _start_of(response)
            response.close()
        signed = self._signed
        if signed is None:
            response, start = self._through_door(offset, end)
            return _http_chunks(response), start
        answer = self._from_signed(signed, offset, end)
        if answer is None:  # expired (15 s) or refused: the door signs a new one
            answer, _ = self._resolve_again(signed, offset, end)
        return _http_chunks(answer), _start_of(answer)

    def _resolve_again(self, expired: str, offset: int, end: int | None) -> tuple[requests.Response, int]:
        """Ask the door for a new signed URL (once for all the ranges that found the old one refused)."""
        with self._lock:
            current = self._signed
            if current == expired or current is None:  # the first range to find it refused asks the door
                self.resolved_again += 1
                response, start = self._through_door(offset, end)
                if response.status_code == 206:
                    self._signed = response.url
                log.info("%s: the signed URL was refused (expired?); the door signed a new one", self.url)
                return response, start
        # Another range asked the door while this one waited: read from the URL it was given.
        fresh = self._from_signed(current, offset, end)
        if fresh is None:
            raise ReadInterrupted("the signed URL the door gave again was refused (403)")
        return fresh, _start_of(fresh)

    def _from_signed(self, signed: str, offset: int, end: int | None) -> requests.Response | None:
        """GET a range from a signed URL, without credentials; None when it is refused (403: expired?)."""
        response = self._get(self._plain_session(), signed, offset, end, allow_redirects=False)
        if response.status_code == 403:
            response.close()
            return None
        _check_answer(self.url, response)
        return response

    def _through_door(self, offset: int, end: int | None) -> tuple[requests.Response, int]:
        self.door_gets += 1
        response = self._get(self.session, self.url, offset, end, checked=True)
        if response.status_code == 403 and response.url != self.url:  # the door signed; the signed host refused
            response.close()
            raise ReadInterrupted("the signed URL the door gave was refused (403)")
        _check_answer(self.url, response)
        if self.length is None:
            self.length = _whole_length(response, response.status_code)
        return response, _start_of(response)

    def _get(
        self, session: Any, url: str, offset: int, end: int | None, checked: bool = False, **kwargs: Any
    ) -> requests.Response:
        headers = {"Range": _range(offset, end)} if offset or end is not None else {}
        get = session.get_checked if checked else session.get
        try:
            return get(url, headers=headers, stream=True, timeout=self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise ReadInterrupted(str(error)) from error

    def _plain_session(self) -> requests.Session:
        """A session without Earthdata credentials or cookies for the signed URLs, pooled for the parts."""
        with self._lock:
            if self._plain is None:
                plain = requests.Session()
                plain.verify = getattr(self.session, "verify", True)
                adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=32)
                plain.mount("https://", adapter)
                plain.mount("http://", adapter)
                self._plain = plain
            return self._plain


def _check_answer(url: str, response: requests.Response) -> None:
    """Raise what an answer means when it is not the product's bytes (200 or 206)."""
    status = response.status_code
    if status == 202:
        response.close()
        raise ProductArchivedError(
            f"{url} answered 202: the product is being fetched from long-term storage", url.rsplit("/", 1)[-1]
        )
    if status == 404:
        response.close()
        raise ProductMissingError(f"{url} does not exist (404)")
    if status in RETRYABLE_STATUSES:
        response.close()
        raise ReadInterrupted(f"HTTP {status}")
    if status not in (200, 206):
        text = response.text[:300]
        raise TransferError(f"{url} answered {status}: {' '.join(text.split())}")
    if "text/html" in response.headers.get("Content-Type", ""):
        # EDL's login or EULA page, or an error page, served with 200 where data was expected.
        snippet = " ".join(response.text[:200].split())
        raise TransferError(f"{url} returned an HTML page instead of the product ({response.url}): {snippet}")


def _start_of(response: requests.Response) -> int:
    """The offset a 200 or 206 body starts at."""
    if response.status_code != 206:
        return 0
    return int(response.headers.get("Content-Range", "bytes 0-").split()[1].split("-")[0])


def _whole_length(response: requests.Response, status: int) -> int | None:
    """The whole object's length a GET tells, or None (an encoded body's length is not the object's)."""
    if response.headers.get("Content-Encoding", "identity") != "identity":
        return None
    text = response.headers.get("Content-Range", "").rpartition("/")[2] if status == 206 else ""
    text = text if status == 206 else response.headers.get("Content-Length", "")
    return int(text) if text.isdigit() else None


def _range(offset: int, end: int | None) -> str:
    return f"bytes={offset}-" if end is None else f"bytes={offset}-{end - 1}"


def _http_chunks(response: requests.Response) -> Iterator[bytes]:
    try:
        yield from response.iter_content(READ_CHUNK)
    except (requests.exceptions.RequestException, OSError) as error:
        raise ReadInterrupted(str(error)) from error
    finally:
        response.close()


@dataclass
class TransferResult:
    """What one copy did.

    :param bucket: destination bucket.
    :param key: destination key.
    :param status: ``copied`` or ``skipped`` (already there with the same size and checksum).
    :param bytes: bytes written (0 when skipped).
    :param size: the object's size.
    :param seconds: time taken.
    :param checksum: the object's checksum.
    :param checksum_algorithm: its algorithm.
    :param source: where it was read from.
    :param method: ``stream`` or ``server-side``.
    :param reread_bytes: bytes read twice because a resumed source could not start at the right byte.
    :param resumes: how many times reading resumed after a break.
    :param buffer_bytes: bytes of part buffers the copy allocated (no more than the object needs when its size
        was known).
    """

    bucket: str
    key: str
    status: str
    bytes: int
    size: int
    seconds: float
    checksum: str | None
    checksum_algorithm: str | None
    source: str
    method: str = "stream"
    reread_bytes: int = 0
    resumes: int = 0
    buffer_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


class Progress:
    """Logs a copy's progress at most every ``every_percent`` or ``every_seconds``: bytes, rate, ETA.

    Thread-safe: parts fetched at once all report here.

    :param name: what is copied, for the log line.
    :param size: its size, when known.
    :param every_percent: log after this much progress...
    :param every_seconds: ...or after this long.
    :param done: bytes already there (a resumed download).
    """

    def __init__(self, name: str, size: int | None, every_percent: float, every_seconds: float, done: int = 0) -> None:
        self.name, self.size = name, size
        self.every_percent, self.every_seconds = every_percent, every_seconds
        self.started = self.last_time = time.monotonic()
        self.last_percent = 0.0
        self.done = self._first = done
        self._lock = threading.Lock()

    def advance(self, count: int) -> None:
        """Note that ``count`` more bytes are through; log a line when one is due.

        :param count: bytes just read.
        """
        with self._lock:
            self.done += count
            done, now = self.done, time.monotonic()
            percent = 100.0 * done / self.size if self.size else 0.0
            if percent - self.last_percent < self.every_percent and now - self.last_time < self.every_seconds:
                return
            self.last_percent, self.last_time = percent, now
        rate = (done - self._first) / max(now - self.started, 1e-6)
        if self.size:
            eta = (self.size - done) / rate if rate else float("inf")
            log.info(
                "%s: %s of %s (%.0f%%), %s/s, ETA %.0f s",
                self.name,
                _human(done),
                _human(self.size),
                percent,
                _human(rate),
                eta,
            )
        else:
            log.info("%s: %s, %s/s", self.name, _human(done), _human(rate))


def _human(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{count:.0f} B"
        count /= 1024
    return f"{count:.1f} GiB"


def resuming_read(
    source: Source,
    state: dict[str, int],
    progress: Progress,
    max_resumes: int,
    sleep: Callable[[float], None],
    end: int | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> Iterator[bytes]:
    """Every byte of the source from ``state["offset"]`` on (up to ``end``), once, in order, resuming after breaks.

    :param source: where to read.
    :param state: ``offset`` (advanced as bytes arrive), ``reread`` and ``resumes`` counters.
    :param progress: reports progress.
    :param max_resumes: breaks in a row survived.
    :param sleep: how to wait between tries.
    :param end: where to stop (exclusive); None reads to the end of the object.
    :param retry: the backoff between tries.
    """
    failures = 0
    while True:
        try:
            chunks, start = source.open(state["offset"], end)
            if start < state["offset"]:  # the server ignored Range: skip what was already read
                state["reread"] += state["offset"] - start
            skip = state["offset"] - start
            for chunk in chunks:
                if skip:
                    if len(chunk) <= skip:
                        skip -= len(chunk)
                        continue
                    chunk, skip = chunk[skip:], 0
                if end is not None and state["offset"] + len(chunk) > end:  # a server that ignored the range's end
                    chunk = chunk[: max(0, end - state["offset"])]
                    if not chunk:
                        continue
                state["offset"] += len(chunk)
                failures = 0
                progress.advance(len(chunk))
                yield chunk
            return
        except ReadInterrupted as error:
            failures += 1
            state["resumes"] += 1
            if failures > max_resumes:
                raise TransferError(
                    f"{source.url}: reading failed {failures} times in a row at byte {state['offset']}; last: {error}"
                ) from error
            delay = retry.delay(failures)
            log.warning(
                "%s: read broke off at byte %d (%s); resuming in %.1f s", source.url, state["offset"], error, delay
            )
            sleep(delay)


class Transfer:
    """Copies sources into an S3 bucket through a boto3 client of the destination identity.

    :param destination: a boto3 S3 client (e.g. the amazon provider's ``S3Hook(...).get_conn()``).
    :param part_size: part size (raised when an object would need more than 10,000 parts); by default up to
        8 MiB, evened out so that parts fetched at once finish together (:func:`balanced_part_size`).
    :param concurrency: parts fetched and uploaded at once.
    :param memory_limit: bytes of part buffers at most, whatever the object's size (never fewer than two parts).
    :param max_resumes: breaks in the source survived per object.
    :param progress_percent: log progress at least every this many percent...
    :param progress_seconds: ...or every this many seconds.
    :param sleep: how to wait between tries.
    :param owner: the task and try copying: its multipart uploads are recorded beside their keys, and a later
        try aborts those an earlier one left (:mod:`~airflow_asf_ifg.client.upload_ledger`); None records none.
    """

    def __init__(
        self,
        destination: Any,
        *,
        part_size: int | None = None,
        concurrency: int = 8,
        memory_limit: int = MEMORY_LIMIT,
        max_resumes: int = MAX_RESUMES,
        progress_percent: float = 10.0,
        progress_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        owner: UploadOwner | None = None,
    ) -> None:
        if concurrency < 1:
            raise InvalidInputError(f"concurrency {concurrency} must be at least 1")
        if part_size is not None and part_size < S3_MIN_PART_SIZE:
            raise InvalidInputError(f"part_size {part_size} is below S3's 5 MiB minimum ({S3_MIN_PART_SIZE} bytes)")
        if memory_limit < 2 * S3_MIN_PART_SIZE:
            raise InvalidInputError(f"memory_limit {memory_limit} is below two parts of S3's 5 MiB minimum")
        self.destination = destination
        self.part_size = part_size
        self.concurrency = concurrency
        self.memory_limit = memory_limit
        self.max_resumes = max_resumes
        self.progress_percent = progress_percent
        self.progress_seconds = progress_seconds
        self._sleep = sleep
        self.ledger = UploadLedger(destination, owner) if owner is not None else None

    # ------------------------------------------------------------------------------ idempotency
    def existing(self, bucket: str, key: str, size: int | None, checksum: str | None) -> bool:
        """Whether the destination already holds this object (same size and recorded checksum).

        :param bucket: destination bucket.
        :param key: destination key.
        :param size: the expected size.
        :param checksum: the expected checksum.
        """
        try:
            head = self.destination.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if is_not_found(error):
                return False
            raise
        recorded = (head.get("Metadata") or {}).get(_METADATA_CHECKSUM)
        if not recorded or recorded == "pending":
            return False  # not written by a finished copy of ours
        same_size = size is None or int(head["ContentLength"]) == size
        return same_size and (checksum is None or recorded.lower() == checksum.lower())

    # ------------------------------------------------------------------------------ the copy
    def copy(
        self,
        source: Source,
        bucket: str,
        key: str,
        *,
        size: int | None = None,
        checksum: str | None = None,
        checksum_algorithm: str | None = "MD5",
        metadata: dict[str, str] | None = None,
        server_side_from: tuple[str, str] | None = None,
    ) -> TransferResult:
        """Copy ``source`` to ``s3://bucket/key`` unless it is already there; verify size and checksum.

        :param source: where to read.
        :param bucket: destination bucket.
        :param key: destination key.
        :param size: the size CMR publishes (checked).
        :param checksum: the checksum CMR publishes (checked).
        :param checksum_algorithm: its algorithm.
        :param metadata: extra user metadata for the object (concept id, source URL...).
        :param server_side_from: (bucket, key) the destination identity can read itself: copy inside S3.
        """
        started = time.monotonic()
        name = key.rsplit("/", 1)[-1]
        if self.ledger is not None:  # a killed earlier try of this task may have left an upload of this key
            self.ledger.abort_stale(bucket, key)
        if self.existing(bucket, key, size, checksum):
            log.info("%s: s3://%s/%s already holds it (same size and checksum); skipped", name, bucket, key)
            return TransferResult(
                bucket,
                key,
                "skipped",
                0,
                size or 0,
                time.monotonic() - started,
                checksum,
                checksum_algorithm,
                source.url,
            )
        if size is None:
            size = source.size()
        described = {**(metadata or {}), "asf-source-url": source.url}
        if server_side_from is not None and size is not None:
            return self._server_side(
                server_side_from, bucket, key, size, checksum, checksum_algorithm, described, started, source.url
            )
        return self._stream(source, bucket, key, size, checksum, checksum_algorithm, described, started)

    def _read(self, source: Source, state: dict[str, int], progress: Progress) -> Iterator[bytes]:
        """Every byte of the source once, in order, resuming after breaks."""
        return resuming_read(source, state, progress, self.max_resumes, self._sleep)

    def _range_reader(
        self, source: Source, totals: dict[str, int], progress: Progress
    ) -> Callable[[int, memoryview], None]:
        """A function that fills a buffer with the source's bytes from an offset, resuming after breaks."""
        lock = threading.Lock()

        def fetch(first: int, view: memoryview) -> None:
            state = {"offset": first, "reread": 0, "resumes": 0}
            filled = 0
            try:
                for chunk in resuming_read(
                    source, state, progress, self.max_resumes, self._sleep, end=first + len(view)
                ):
                    view[filled : filled + len(chunk)] = chunk
                    filled += len(chunk)
            finally:
                with lock:
                    totals["reread"] += state["reread"]
                    totals["resumes"] += state["resumes"]
            if filled != len(view):
                raise TransferError(
                    f"{source.url}: bytes {first}-{first + len(view) - 1} ended after {filled} "
                    f"bytes; the object is shorter than its size"
                )

        return fetch

    def _verify(self, source: Source, done: int, size: int | None, digest: Any, checksum: str | None) -> str:
        actual = digest.hexdigest()
        if size is not None and done != size:
            raise ChecksumMismatchError(f"{source.url}: read {done} bytes, CMR says {size}; nothing was written")
        if checksum and actual.lower() != checksum.lower():
            raise ChecksumMismatchError(
                f"{source.url}: checksum {actual} does not match CMR's {checksum}; nothing was written"
            )
        return actual

    def _stream(
        self,
        source: Source,
        bucket: str,
        key: str,
        size: int | None,
        checksum: str | None,
        algorithm: str | None,
        described: dict[str, str],
        started: float,
    ) -> TransferResult:
        """Stream through :func:`~airflow_asf_ifg.client.multipart.upload_stream`: parallel parts, fixed memory.

        Size and checksum are checked once the source is read, before the object is put or its multipart
        upload completed; a mismatch or any failure aborts it, so nothing partial is ever visible. Without a
        CMR checksum or size the object is put marked ``pending`` and then given the ones read; if that fails
        the object is removed.

        :param described: the object's user metadata besides size and checksum (concept id, source URL...).
        """
        state = {"offset": 0, "reread": 0, "resumes": 0}
        progress = Progress(key.rsplit("/", 1)[-1], size, self.progress_percent, self.progress_seconds)
        part_size = part_size_for(size or 0, self.part_size)
        if size is not None and self.part_size is None:  # a part size the caller chose is kept as it is
            part_size = balanced_part_size(size, part_size, self.concurrency)
        metadata = {**described, _METADATA_SIZE: str(size or ""), _METADATA_CHECKSUM: checksum or "pending"}
        ranged = size is not None and source.ranges(part_size)
        # One part filling and one hashing besides those being sent; ranges fill parts at once, so as many
        # again in flight to the destination keep the GETs going.
        in_flight = (2 if ranged else 1) * self.concurrency + 2
        target = MultipartTarget(
            self.destination,
            bucket,
            key,
            metadata,
            part_size,
            self.concurrency,
            buffers=min(in_flight, self.memory_limit // part_size),
            ledger=self.ledger,
        )
        checked: dict[str, str] = {}

        def verify(digest: Any, done: int) -> None:
            checked["checksum"] = self._verify(source, done, size, digest, checksum)

        if ranged and size is not None:  # (ranged implies a size; the test tells the type checker)
            source_size = source.size()
            if source_size != size:  # S3 said how long the object is: no need to read it to know it is wrong
                raise ChecksumMismatchError(
                    f"{source.url}: the object has {source_size} bytes, CMR says {size}; nothing was written"
                )
            upload_ranges(target, size, self._range_reader(source, state, progress), new_hash(algorithm), verify)
            state["offset"] = size
        else:
            known = size if size is not None else (lambda: getattr(source, "length", None))
            upload_stream(target, self._read(source, state, progress), new_hash(algorithm), verify, known)
        actual = checked["checksum"]
        if not checksum or size is None:
            self._record_read(bucket, key, state["offset"], actual, described)
        return TransferResult(
            bucket,
            key,
            "copied",
            state["offset"],
            state["offset"],
            time.monotonic() - started,
            actual,
            algorithm,
            source.url,
            "stream",
            state["reread"],
            state["resumes"],
            target.buffer_bytes,
        )

    def _record_read(self, bucket: str, key: str, size: int, checksum: str, described: dict[str, str]) -> None:
        """Give a ``pending`` object the size and checksum read; remove it if that fails, so none stays pending."""
        metadata = {**described, _METADATA_SIZE: str(size), _METADATA_CHECKSUM: checksum}
        try:
            self._copy_inside((bucket, key), bucket, key, size, metadata)  # an in-place copy replaces the metadata
        except BaseException:
            self._remove(bucket, key, "its checksum could not be recorded")
            raise

    def _remove(self, bucket: str, key: str, why: str) -> None:
        try:
            self.destination.delete_object(Bucket=bucket, Key=key)
            log.warning("Removed s3://%s/%s: %s", bucket, key, why)
        except (ClientError, BotoCoreError) as error:  # the original error matters more
            log.error("Could not remove s3://%s/%s (%s): %s", bucket, key, why, error)

    def _copy_inside(self, origin: tuple[str, str], bucket: str, key: str, size: int, metadata: dict[str, str]) -> None:
        """Copy ``origin`` to ``s3://bucket/key`` inside S3 with ``metadata``: CopyObject, or parts beyond its limit."""
        source = {"Bucket": origin[0], "Key": origin[1]}
        if size <= S3_MAX_SINGLE_COPY:
            # The copy is one object: S3 gives it a whole-object checksum, the part checksums of a multipart
            # origin no longer apply (moto would serve the old composite one as whole, failing every GET).
            algorithm = upload_checksum_algorithm(self.destination)
            self.destination.copy_object(
                Bucket=bucket,
                Key=key,
                CopySource=source,
                MetadataDirective="REPLACE",
                Metadata=metadata,
                **({"ChecksumAlgorithm": algorithm} if algorithm else {}),
            )
            return
        part_size = part_size_for(size, max(self.part_size or 0, COPY_PART_SIZE))
        upload_id = self.destination.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata)["UploadId"]
        if self.ledger is not None:
            self.ledger.record(bucket, key, upload_id)
        try:
            parts = []
            for number, first in enumerate(range(0, size, part_size), start=1):
                last = min(first + part_size, size) - 1
                response = self.destination.upload_part_copy(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=source,
                    CopySourceRange=f"bytes={first}-{last}",
                )
                parts.append({"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]})
            complete_upload(self.destination, bucket, key, upload_id, parts, size)
        except BaseException:
            if abort_upload(self.destination, bucket, key, upload_id, failed_copy=True) and self.ledger is not None:
                self.ledger.forget(bucket, key, upload_id)
            raise
        if self.ledger is not None:
            self.ledger.forget(bucket, key, upload_id)

    def _server_side(
        self,
        origin: tuple[str, str],
        bucket: str,
        key: str,
        size: int,
        checksum: str | None,
        algorithm: str | None,
        described: dict[str, str],
        started: float,
        url: str,
    ) -> TransferResult:
        self._copy_inside(
            origin, bucket, key, size, {**described, _METADATA_SIZE: str(size), _METADATA_CHECKSUM: checksum or ""}
        )
        head = self.destination.head_object(Bucket=bucket, Key=key)
        if int(head["ContentLength"]) != size:
            self._remove(bucket, key, "its size differs from CMR's")
            raise ChecksumMismatchError(
                f"s3://{origin[0]}/{origin[1]}: the copy has {head['ContentLength']} "
                f"bytes, CMR says {size}; it was removed"
            )
        log.info("%s: copied inside S3 from s3://%s/%s", key, origin[0], origin[1])
        return TransferResult(
            bucket, key, "copied", size, size, time.monotonic() - started, checksum, algorithm, url, "server-side"
        )
