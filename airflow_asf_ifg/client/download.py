"""Download one product file to a local path: resumable from a ``.part`` file, size and checksum verified.

What the 2018 page's second script did (``download_GRFN-serial.py``: stream ``/door/download/<file>``
with the ``.netrc`` login), plus the copy engine's Range resume and MD5 check, for the command line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from airflow_asf_ifg.client.transfer import MAX_RESUMES, Progress, Source, new_hash, resuming_read
from airflow_asf_ifg.exceptions import ChecksumMismatchError

__all__ = [
    "DownloadResult",
    "download",
]

_BLOCK = 1 << 20


@dataclass
class DownloadResult:
    """What one download did.

    :param path: the file written.
    :param status: ``downloaded`` or ``skipped`` (already there with the same size and checksum).
    :param bytes: bytes read from the source in this run.
    :param size: the file's size.
    :param checksum: its checksum.
    :param resumed_from: the byte a previous run's ``.part`` file let this one start at.
    :param resumes: breaks survived while reading.
    :param seconds: time taken.
    """

    path: str
    status: str
    bytes: int
    size: int
    checksum: str
    resumed_from: int = 0
    resumes: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


def _hash_file(path: Path, algorithm: str | None) -> tuple[Any, int]:
    digest, size = new_hash(algorithm), 0
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return digest, size


def download(
    source: Source,
    path: Path,
    *,
    size: int | None,
    checksum: str | None,
    algorithm: str | None = "MD5",
    max_resumes: int = MAX_RESUMES,
    progress_seconds: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadResult:
    """Download ``source`` to ``path``, continuing a ``<path>.part`` left by an interrupted run.

    The file appears at ``path`` only once its size and checksum match; a mismatch removes the part file.

    :param source: where to read (an ``HttpsSource`` through Earthdata Login, or an ``S3Source``).
    :param path: where to write.
    :param size: the size CMR publishes (checked when given).
    :param checksum: the checksum CMR publishes (checked when given).
    :param algorithm: its algorithm (``MD5``...).
    :param max_resumes: breaks in a row survived.
    :param progress_seconds: log progress at least this often.
    :param sleep: how to wait between tries.
    """
    started = time.monotonic()
    if path.is_file() and size is not None and checksum:
        digest, found = _hash_file(path, algorithm)
        if found == size and digest.hexdigest().lower() == checksum.lower():
            return DownloadResult(str(path), "skipped", 0, size, checksum, seconds=time.monotonic() - started)
    part = path.with_name(path.name + ".part")
    if part.is_file() and size is not None and part.stat().st_size > size:
        part.unlink()  # longer than the product: not a prefix of it
    digest, offset = _hash_file(part, algorithm) if part.is_file() else (new_hash(algorithm), 0)
    if size is not None and offset == size and part.is_file():
        # A run that died after its last write but before the rename left the whole file: asking for more
        # would get 416 on every rerun. Keep it if it is the product, else start over.
        actual = digest.hexdigest()
        if not checksum or actual.lower() == checksum.lower():
            os.replace(part, path)
            return DownloadResult(str(path), "downloaded", 0, size, actual, offset, 0, time.monotonic() - started)
        part.unlink()
        digest, offset = new_hash(algorithm), 0
    state = {"offset": offset, "reread": 0, "resumes": 0}
    progress = Progress(path.name, size, 10.0, progress_seconds, done=offset)
    path.parent.mkdir(parents=True, exist_ok=True)
    with part.open("ab") as out:
        for chunk in resuming_read(source, state, progress, max_resumes, sleep):
            out.write(chunk)
            digest.update(chunk)
    actual = digest.hexdigest()
    if (size is not None and state["offset"] != size) or (checksum and actual.lower() != checksum.lower()):
        part.unlink()
        raise ChecksumMismatchError(
            f"{source.url}: got {state['offset']} bytes with {algorithm or 'MD5'} {actual}; "
            f"CMR says {size} bytes, {checksum}. The partial file was removed; run again"
        )
    os.replace(part, path)
    return DownloadResult(
        str(path),
        "downloaded",
        state["offset"] - offset,
        state["offset"],
        actual,
        offset,
        state["resumes"],
        time.monotonic() - started,
    )
