"""Uploads one S3 object in parts sent in parallel from a fixed set of buffers, verified before it is visible.

Two ways in: :func:`upload_stream` takes the bytes in order (an HTTPS body), :func:`upload_ranges` has
workers fetch each part's byte range at once (an S3 source). Memory is the buffers and nothing else: a
buffer is used again once its part is uploaded and hashed, so a 4 GiB object needs what a 40 MiB one
does. Hashing runs on its own thread over whole parts, in order (OpenSSL lets go of the GIL while it
hashes). The object becomes visible only after ``verify`` has accepted the bytes: one that fits in a
part is put in one request after the check; a longer one is completed after it, and aborted on any
failure.
"""

from __future__ import annotations

import itertools
import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from airflow_asf_ifg.client.s3 import abort_upload, complete_upload
from airflow_asf_ifg.client.upload_ledger import UploadLedger
from airflow_asf_ifg.exceptions import ChecksumMismatchError

__all__ = [
    "BufferPool",
    "MultipartTarget",
    "UploadAborted",
    "fill_parts",
    "upload_checksum_algorithm",
    "upload_ranges",
    "upload_stream",
]

_NO_BUFFER_WAIT = 0.5  # seconds between looks at the failure flag while every buffer is in use


class UploadAborted(Exception):
    """Reading stopped because a part upload failed (the upload's own error is raised instead)."""


class BufferPool:
    """Up to ``count`` reusable part buffers, each made when first needed; a buffer goes back when every holder
    has released it.

    :param count: how many buffers at most (the most parts in memory at once).
    :param size: bytes in each.
    """

    def __init__(self, count: int, size: int) -> None:
        self.count = count
        self.size = size
        #: Bytes of the buffers made so far (they are kept until the pool is dropped).
        self.allocated = 0
        self._made = 0
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._holders: dict[int, int] = {}
        self._lock = threading.Lock()

    def take(self, failed: threading.Event) -> bytearray:
        """A free buffer, a new one while fewer than ``count`` exist, else waiting for one; gives up when
        ``failed`` is set.

        :param failed: set when the upload has failed.
        """
        while True:
            if failed.is_set():
                raise UploadAborted
            try:
                return self._free.get_nowait()
            except queue.Empty:
                pass
            with self._lock:
                if self._made < self.count:
                    self._made += 1
                    self.allocated += self.size
                    return bytearray(self.size)
            try:
                return self._free.get(timeout=_NO_BUFFER_WAIT)
            except queue.Empty:
                continue

    def hold(self, buffer: bytearray, holders: int) -> None:
        """Note that ``holders`` users must release ``buffer`` before it is reused.

        :param buffer: a buffer from :meth:`take`.
        :param holders: how many.
        """
        with self._lock:
            self._holders[id(buffer)] = holders

    def release(self, buffer: bytearray) -> None:
        """One holder is done with ``buffer``.

        :param buffer: a held buffer.
        """
        with self._lock:
            self._holders[id(buffer)] -= 1
            if self._holders[id(buffer)]:
                return
            del self._holders[id(buffer)]
        self._free.put(buffer)


def fill_parts(
    chunks: Iterable[bytes], pool: BufferPool, failed: threading.Event
) -> Iterator[tuple[bytearray, int, bool]]:
    """Copy the chunks into pool buffers; yield (buffer, bytes in it, whether it is the last part).

    A full buffer is yielded once the next chunk has arrived (or the stream has ended), so the last part
    is known as such. An empty stream yields one empty last part.

    :param chunks: the source's bytes, in order.
    :param pool: where buffers come from.
    :param failed: set when the upload has failed.
    """
    iterator = iter(chunks)
    pending: memoryview | None = _next_view(iterator)
    while True:
        buffer = pool.take(failed)
        view, filled = memoryview(buffer), 0
        while pending is not None and filled < pool.size:
            take = min(len(pending), pool.size - filled)
            view[filled : filled + take] = pending[:take]
            filled += take
            pending = pending[take:] if take < len(pending) else _next_view(iterator)
        yield buffer, filled, pending is None
        if pending is None:
            return


def _next_view(iterator: Iterator[bytes]) -> memoryview | None:
    for chunk in iterator:
        if chunk:
            return memoryview(chunk)
    return None


class _OrderedHasher:
    """Hashes numbered parts in number order, on its own thread, whatever order they arrive in.

    Each buffer is released once hashed. Parts that arrive early wait in their buffers, which the
    pool bounds.
    """

    def __init__(self, digest: Any, pool: BufferPool) -> None:
        self.digest = digest
        self._pool = pool
        self._parts: queue.SimpleQueue[tuple[int, bytearray, int] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="asf-ifg-hash", daemon=True)
        self._thread.start()

    def add(self, number: int, buffer: bytearray, length: int) -> None:
        """Hash part ``number`` (from 1) once every part before it is hashed.

        :param number: the part number.
        :param buffer: its buffer.
        :param length: bytes of it in the buffer.
        """
        self._parts.put((number, buffer, length))

    def finish(self) -> Any:
        """Wait for every part given to be hashed; return the digest."""
        if self._thread.is_alive():
            self._parts.put(None)
            self._thread.join()
        return self.digest

    def _run(self) -> None:
        waiting: dict[int, tuple[bytearray, int]] = {}
        following = 1
        while (item := self._parts.get()) is not None:
            waiting[item[0]] = item[1:]
            while following in waiting:
                buffer, length = waiting.pop(following)
                try:
                    self.digest.update(memoryview(buffer)[:length])
                finally:
                    self._pool.release(buffer)
                following += 1
        for buffer, _ in waiting.values():  # stopped early (a failure): give the buffers back
            self._pool.release(buffer)


@dataclass
class MultipartTarget:
    """Where the object goes and how its parts are sent.

    :param client: a boto3 S3 client of the destination identity.
    :param bucket: destination bucket.
    :param key: destination key.
    :param metadata: the object's user metadata.
    :param part_size: bytes per part (the last may be shorter).
    :param concurrency: parts uploaded at once.
    :param buffers: parts in memory at once (at least 2).
    :param ledger: where each upload created is recorded until it is completed or aborted, so that a later
        try can abort one this try leaves if it is killed; None records nothing.

    After an upload, ``buffer_bytes`` says how many bytes of part buffers it allocated.
    """

    client: Any
    bucket: str
    key: str
    metadata: dict[str, str]
    part_size: int
    concurrency: int
    buffers: int
    ledger: UploadLedger | None = None
    upload_id: str | None = field(default=None, init=False)
    buffer_bytes: int = field(default=0, init=False)

    @property
    def checksum_algorithm(self) -> str | None:
        """CRC32 on each part for S3 to check, as boto3's managed upload sends, unless the client opts out."""
        return upload_checksum_algorithm(self.client)


def upload_checksum_algorithm(client: Any) -> str | None:
    """CRC32 for S3 to check what is written, as boto3's managed upload sends, unless the client opts out.

    :param client: a boto3 S3 client of the destination identity.
    """
    when = getattr(client.meta.config, "request_checksum_calculation", "when_supported")
    return None if when == "when_required" else "CRC32"


class _PartUploads:
    """One multipart upload in flight: its buffers, hasher and workers; aborted if the block fails.

    :param target: the destination and its settings.
    :param digest: a hashlib object, updated with every byte in order.
    :param size: the object's size, when known: no more buffers than its parts, none longer than the object.
    :param workers: threads for the parts' work (0: ``concurrency``).
    """

    def __init__(self, target: MultipartTarget, digest: Any, size: int | None = None, workers: int = 0) -> None:
        self.target = target
        buffers, buffer_size = target.buffers, target.part_size
        if size is not None:
            buffers = min(buffers, max(1, math.ceil(size / target.part_size)))
            buffer_size = min(buffer_size, max(1, size))
        # Buffers are made as needed, so a count above the parts (two: one filling, one hashing) costs nothing.
        self.pool = BufferPool(max(2, buffers), buffer_size)
        self.failed = threading.Event()
        self.hasher = _OrderedHasher(digest, self.pool)
        self._executor = ThreadPoolExecutor(
            max_workers=workers or target.concurrency, thread_name_prefix="asf-ifg-part"
        )
        self._sent: list[Future[dict[str, Any]]] = []

    def submit(self, work: Callable[..., dict[str, Any]], *arguments: Any) -> None:
        """Run ``work`` (which uploads one part and returns its entry for CompleteMultipartUpload) on a worker.

        :param work: the task.
        :param arguments: its arguments.
        """
        target = self.target
        if target.upload_id is None:
            target.upload_id = _create(target)
            if target.ledger is not None:
                target.ledger.record(target.bucket, target.key, target.upload_id)
        future = self._executor.submit(work, *arguments)
        future.add_done_callback(self._note_failure)
        self._sent.append(future)

    def complete(self, verify: Callable[[Any, int], None], size: int) -> None:
        """Wait for every part, let ``verify`` check the whole, then make the object visible.

        :param verify: raises to refuse the object.
        :param size: bytes in all.
        """
        parts = [future.result() for future in self._sent]
        verify(self.hasher.finish(), size)
        target = self.target
        complete_upload(target.client, target.bucket, target.key, str(target.upload_id), parts, size)
        if target.ledger is not None and target.upload_id is not None:
            target.ledger.forget(target.bucket, target.key, target.upload_id)

    def _note_failure(self, future: Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.failed.set()  # the reader stops at its next part

    def __enter__(self) -> _PartUploads:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _: Any) -> None:
        self.target.buffer_bytes = self.pool.allocated
        if error is None:
            self._executor.shutdown()
            return
        self.failed.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.hasher.finish()
        if self.target.upload_id is not None:
            gone = abort_upload(
                self.target.client, self.target.bucket, self.target.key, self.target.upload_id, failed_copy=True
            )
            if gone and self.target.ledger is not None:  # an upload not aborted keeps its entry for a retry
                self.target.ledger.forget(self.target.bucket, self.target.key, self.target.upload_id)
        if isinstance(error, UploadAborted):  # the reader stopped because a part failed: raise the part's error
            for future in self._sent:
                failure = None if future.cancelled() else future.exception()
                if failure is not None:
                    raise failure from None


def upload_stream(
    target: MultipartTarget,
    chunks: Iterable[bytes],
    digest: Any,
    verify: Callable[[Any, int], None],
    size: int | Callable[[], int | None] | None = None,
) -> int:
    """Write the chunks to ``target``'s key; return the byte count. Nothing is visible unless ``verify`` passes.

    :param target: the destination and its settings.
    :param chunks: the bytes, in order.
    :param digest: a hashlib object, updated with every byte in order.
    :param verify: called with the digest and the byte count once all is read; raises to refuse the object.
    :param size: the object's size when known, or a function that tells it once the first bytes have arrived
        (an HTTP ``Content-Length``): buffers are then no longer than the object and no more than its parts.
    """
    iterator = iter(chunks)
    first = next((chunk for chunk in iterator if chunk), None)  # the stream is open now: its length may be known
    expected = size() if callable(size) else size
    total = 0
    with _PartUploads(target, digest, expected) as uploads:
        stream = itertools.chain([first] if first is not None else [], iterator)
        for number, (buffer, length, last) in enumerate(fill_parts(stream, uploads.pool, uploads.failed), start=1):
            total += length
            uploads.pool.hold(buffer, 2)
            uploads.hasher.add(number, buffer, length)
            if number == 1 and last:  # it fits in one part: check it, then put it in one request
                try:
                    verify(uploads.hasher.finish(), total)
                    _put_single(target, bytes(memoryview(buffer)[:length]))
                finally:
                    uploads.pool.release(buffer)
                return total
            uploads.submit(_upload_part, target, number, buffer, length, uploads.pool)
            if expected is not None and not last and total >= expected:
                # More bytes than the size said: refuse now, not after streaming all of them in tiny parts.
                raise ChecksumMismatchError(
                    f"{target.key}: the source has more than the {expected} bytes its size says; nothing was written"
                )
        uploads.complete(verify, total)
    return total


def upload_ranges(
    target: MultipartTarget,
    size: int,
    fetch: Callable[[int, memoryview], None],
    digest: Any,
    verify: Callable[[Any, int], None],
) -> int:
    """Write an object of known ``size`` whose byte ranges can be read on their own, parts fetched at once.

    Each worker fetches one part's range into a buffer, hands it to the in-order hasher and uploads it:
    ``concurrency`` ranged GETs at once (AWS's advice for large objects: concurrent ranged GETs of 8-16 MB
    reach a higher aggregate throughput than one whole-object GET) and as many part uploads. A part being
    uploaded does not hold a GET's turn, so the source's connections stay busy while the destination
    takes the parts they read (up to the buffers). Buffers are taken in part order, so the part the hasher
    needs next always has one.

    :param target: the destination and its settings.
    :param size: the object's size.
    :param fetch: fills the memoryview with the bytes from the given offset (resuming on its own).
    :param digest: a hashlib object, updated with every byte in order.
    :param verify: called with the digest and the byte count once all is read; raises to refuse the object.
    """
    if size <= target.part_size:  # one part: one GET, then one checked put
        buffer = bytearray(size)
        target.buffer_bytes = size
        fetch(0, memoryview(buffer))
        digest.update(buffer)
        verify(digest, size)
        _put_single(target, buffer)
        return size
    # At most ``concurrency`` GETs and as many uploads at once, on a thread per part in flight (buffers bound
    # them): a part read and waiting for its upload holds no GET's turn.
    turns = _Turns(threading.BoundedSemaphore(target.concurrency), threading.BoundedSemaphore(target.concurrency))
    with _PartUploads(target, digest, size, workers=max(2 * target.concurrency, target.buffers)) as uploads:
        for number, first in enumerate(range(0, size, target.part_size), start=1):
            buffer = uploads.pool.take(uploads.failed)
            uploads.pool.hold(buffer, 2)
            length = min(target.part_size, size - first)
            uploads.submit(_fetch_and_upload, target, number, first, length, buffer, fetch, uploads, turns)
        uploads.complete(verify, size)
    return size


@dataclass(frozen=True)
class _Turns:
    """How many parts of one ranged upload may be fetched, and how many sent, at once."""

    fetching: threading.BoundedSemaphore
    sending: threading.BoundedSemaphore


def _fetch_and_upload(
    target: MultipartTarget,
    number: int,
    first: int,
    length: int,
    buffer: bytearray,
    fetch: Callable[[int, memoryview], None],
    uploads: _PartUploads,
    turns: _Turns,
) -> dict[str, Any]:
    try:
        with turns.fetching:
            fetch(first, memoryview(buffer)[:length])
    except BaseException:
        uploads.pool.release(buffer)  # neither hashed nor uploaded
        uploads.pool.release(buffer)
        raise
    uploads.hasher.add(number, buffer, length)
    with turns.sending:
        return _upload_part(target, number, buffer, length, uploads.pool)


def _put_single(target: MultipartTarget, body: bytes | bytearray) -> None:
    options: dict[str, Any] = {}
    if target.checksum_algorithm:
        options["ChecksumAlgorithm"] = target.checksum_algorithm
    target.client.put_object(Bucket=target.bucket, Key=target.key, Body=body, Metadata=target.metadata, **options)


def _create(target: MultipartTarget) -> str:
    options: dict[str, Any] = {}
    if target.checksum_algorithm:
        options["ChecksumAlgorithm"] = target.checksum_algorithm
    response = target.client.create_multipart_upload(
        Bucket=target.bucket, Key=target.key, Metadata=target.metadata, **options
    )
    return str(response["UploadId"])


def _upload_part(
    target: MultipartTarget, number: int, buffer: bytearray, length: int, pool: BufferPool
) -> dict[str, Any]:
    """Send one part (botocore retries it on its own); release the buffer whatever happens."""
    try:
        # A full buffer goes as it is; only a short last part is copied out.
        body = buffer if length == len(buffer) else bytes(memoryview(buffer)[:length])
        options: dict[str, Any] = {}
        if target.checksum_algorithm:
            options["ChecksumAlgorithm"] = target.checksum_algorithm
        response = target.client.upload_part(
            Bucket=target.bucket, Key=target.key, UploadId=target.upload_id, PartNumber=number, Body=body, **options
        )
    finally:
        pool.release(buffer)
    part = {"PartNumber": number, "ETag": response["ETag"]}
    if target.checksum_algorithm:
        name = f"Checksum{target.checksum_algorithm}"
        if name in response:
            part[name] = response[name]
    return part
