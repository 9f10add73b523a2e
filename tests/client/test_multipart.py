"""The part pipeline on its own: buffers, order, verification and aborts, with a recording S3 client.

The network paths (sandbox S3, resets, expiring keys) are in test_transfer.py; here the client is an
in-memory recorder so that failures can be placed on an exact part.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from types import SimpleNamespace

import pytest

from airflow_asf_ifg.client.multipart import (
    BufferPool,
    MultipartTarget,
    UploadAborted,
    fill_parts,
    upload_ranges,
    upload_stream,
)

MIB = 1024 * 1024
PART = 5 * MIB


class PartFailed(Exception):
    pass


class RecordingS3:
    """Keeps what a real S3 would, and which calls were made; can fail one part upload.

    :param fail_part: part number whose upload raises.
    :param checksums: the client's ``request_checksum_calculation``.
    """

    def __init__(self, fail_part: int | None = None, checksums: str = "when_supported") -> None:
        self.meta = SimpleNamespace(config=SimpleNamespace(request_checksum_calculation=checksums))
        self.fail_part = fail_part
        self.calls: list[str] = []
        self.parts: dict[int, bytes] = {}
        self.objects: dict[str, bytes] = {}
        self.part_arguments: list[dict] = []
        self._lock = threading.Lock()

    def create_multipart_upload(self, **arguments):
        self.calls.append("create")
        return {"UploadId": "upload-1"}

    def upload_part(self, **arguments):
        time.sleep(random.uniform(0, 0.01))  # parts finish out of order
        if arguments["PartNumber"] == self.fail_part:
            raise PartFailed(f"part {self.fail_part}")
        with self._lock:
            self.parts[arguments["PartNumber"]] = bytes(arguments["Body"])
            self.part_arguments.append({k: v for k, v in arguments.items() if k != "Body"})
        answer = {"ETag": f'"etag-{arguments["PartNumber"]}"'}
        if "ChecksumAlgorithm" in arguments:
            answer["ChecksumCRC32"] = "crc=="
        return answer

    def complete_multipart_upload(self, **arguments):
        self.calls.append("complete")
        numbers = [part["PartNumber"] for part in arguments["MultipartUpload"]["Parts"]]
        assert numbers == sorted(numbers)
        self.objects[arguments["Key"]] = b"".join(self.parts[number] for number in numbers)

    def put_object(self, **arguments):
        self.calls.append("put")
        self.objects[arguments["Key"]] = arguments["Body"]

    def abort_multipart_upload(self, **arguments):
        self.calls.append("abort")


def target(client, *, buffers: int = 4, concurrency: int = 3) -> MultipartTarget:
    return MultipartTarget(client, "bucket", "key", {"asf-size": "1"}, PART, concurrency, buffers)


def chunks_of(data: bytes, sizes: list[int]):
    position = 0
    for size in sizes:
        yield data[position : position + size]
        position += size
    yield data[position:]


def accept(digest, size) -> None:
    """A verify that accepts everything."""


class TestFillParts:
    def test_chunks_straddling_parts_come_out_whole_and_in_order(self):
        data = random.randbytes(2 * PART + 123)
        pool = BufferPool(3, PART)
        out = []
        for buffer, length, last in fill_parts(chunks_of(data, [7, PART, 3 * MIB, 1]), pool, threading.Event()):
            out.append((bytes(buffer[:length]), last))
            pool.hold(buffer, 1)
            pool.release(buffer)
        assert b"".join(part for part, _ in out) == data
        assert [len(part) for part, _ in out] == [PART, PART, 123]
        assert [last for _, last in out] == [False, False, True]

    def test_an_exact_multiple_ends_on_a_full_part(self):
        pool = BufferPool(2, PART)
        lengths = []
        for buffer, length, last in fill_parts([b"x" * PART, b"y" * PART], pool, threading.Event()):
            lengths.append((length, last))
            pool.hold(buffer, 1)
            pool.release(buffer)
        assert lengths == [(PART, False), (PART, True)]

    def test_an_empty_stream_is_one_empty_part(self):
        parts = list(fill_parts([b"", b""], BufferPool(1, PART), threading.Event()))
        assert [(length, last) for _, length, last in parts] == [(0, True)]


class TestUploadStream:
    def test_one_part_is_checked_then_put_in_one_request(self):
        client, seen = RecordingS3(), []
        size = upload_stream(target(client), [b"small"], hashlib.md5(), lambda digest, n: seen.append(n))
        assert size == 5 and seen == [5] and client.calls == ["put"] and client.objects["key"] == b"small"

    def test_one_part_refused_is_never_put(self):
        client = RecordingS3()
        with pytest.raises(ValueError, match="refused"):
            upload_stream(target(client), [b"small"], hashlib.md5(), _refuse)
        assert client.calls == [] and client.objects == {}

    def test_many_parts_with_few_buffers(self):
        client = RecordingS3()
        data = random.randbytes(9 * PART + 11)
        digest = hashlib.md5()
        upload_stream(target(client, buffers=2, concurrency=4), chunks_of(data, [MIB] * 40), digest, accept)
        assert client.objects["key"] == data and digest.hexdigest() == hashlib.md5(data).hexdigest()
        assert client.calls == ["create", "complete"]
        assert all(arguments["ChecksumAlgorithm"] == "CRC32" for arguments in client.part_arguments)

    def test_a_failed_part_aborts_and_raises_its_own_error(self):
        client = RecordingS3(fail_part=2)
        with pytest.raises(PartFailed, match="part 2"):
            upload_stream(target(client), chunks_of(random.randbytes(6 * PART), [MIB] * 30), hashlib.md5(), accept)
        assert client.calls == ["create", "abort"] and client.objects == {}

    def test_a_refused_stream_is_aborted_not_completed(self):
        client = RecordingS3()
        with pytest.raises(ValueError, match="refused"):
            upload_stream(target(client), [random.randbytes(3 * PART)], hashlib.md5(), _refuse)
        assert client.calls == ["create", "abort"]

    def test_a_broken_source_aborts(self):
        def broken():
            yield b"x" * (2 * PART)
            raise ConnectionError("source gone")

        client = RecordingS3()
        with pytest.raises(ConnectionError, match="source gone"):
            upload_stream(target(client), broken(), hashlib.md5(), accept)
        assert client.calls == ["create", "abort"]

    def test_no_checksum_when_the_client_opts_out(self):
        client = RecordingS3(checksums="when_required")
        upload_stream(target(client), [random.randbytes(2 * PART)], hashlib.md5(), accept)
        assert all("ChecksumAlgorithm" not in arguments for arguments in client.part_arguments)


class TestUploadRanges:
    def test_parts_fetched_out_of_order_are_hashed_in_order(self):
        data = random.randbytes(7 * PART + 999)
        client, digest = RecordingS3(), hashlib.md5()

        def fetch(first, view):
            time.sleep(random.uniform(0, 0.02))
            view[:] = data[first : first + len(view)]

        assert upload_ranges(target(client, buffers=3, concurrency=3), len(data), fetch, digest, accept) == len(data)
        assert client.objects["key"] == data and digest.hexdigest() == hashlib.md5(data).hexdigest()

    def test_gets_go_on_while_the_destination_is_slow_to_take_parts(self):
        # Uploads wait until released: the GETs must not wait with them (a part being sent holds no GET's turn).
        data = random.randbytes(6 * PART)
        released, lock = threading.Event(), threading.Lock()
        running = {"get": 0, "upload": 0}
        most = dict(running)
        fetched: list[int] = []

        def count(kind, change):
            with lock:
                running[kind] += change
                most[kind] = max(most[kind], running[kind])

        class SlowS3(RecordingS3):
            def upload_part(self, **arguments):
                count("upload", 1)
                try:
                    released.wait(10)
                    return super().upload_part(**arguments)
                finally:
                    count("upload", -1)

        def fetch(first, view):
            count("get", 1)
            time.sleep(0.01)
            view[:] = data[first : first + len(view)]
            fetched.append(first)
            count("get", -1)

        client = SlowS3()
        worker = threading.Thread(
            target=upload_ranges,
            args=(target(client, buffers=6, concurrency=2), len(data), fetch, hashlib.md5(), accept),
        )
        worker.start()
        deadline = time.monotonic() + 10
        while len(fetched) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        got_while_blocked = len(fetched)
        released.set()
        worker.join(10)
        assert got_while_blocked == 6  # all six parts read while no upload had finished (buffers allow it)
        assert most == {"get": 2, "upload": 2}  # never more than `concurrency` of either
        assert client.objects["key"] == data

    def test_a_small_object_is_one_get_and_one_put(self):
        client, fetched = RecordingS3(), []

        def fetch(first, view):
            fetched.append((first, len(view)))
            view[:] = b"z" * len(view)

        upload_ranges(target(client), 100, fetch, hashlib.md5(), accept)
        assert fetched == [(0, 100)] and client.calls == ["put"]

    def test_a_failed_fetch_aborts(self):
        client = RecordingS3()

        def fetch(first, view):
            if first == 3 * PART:
                raise ConnectionError("range gone")
            view[:] = b"\0" * len(view)

        with pytest.raises(ConnectionError, match="range gone"):
            upload_ranges(target(client), 8 * PART, fetch, hashlib.md5(), accept)
        assert client.calls == ["create", "abort"]

    def test_a_refused_object_is_aborted(self):
        client = RecordingS3()
        with pytest.raises(ValueError, match="refused"):
            upload_ranges(target(client), 3 * PART, lambda first, view: None, hashlib.md5(), _refuse)
        assert client.calls == ["create", "abort"]


def _refuse(digest, size) -> None:
    raise ValueError("refused")


def test_the_pool_hands_out_only_its_buffers():
    pool = BufferPool(2, 16)
    failed = threading.Event()
    first, second = pool.take(failed), pool.take(failed)
    assert first is not second
    pool.hold(first, 2)
    pool.release(first)
    failed.set()
    with pytest.raises(UploadAborted):
        pool.take(failed)  # the upload has failed: no waiting for a buffer that may never come
    pool.release(first)
    failed.clear()
    assert pool.take(failed) is first
