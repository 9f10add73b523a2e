"""Service limits (CMR, S3), in one module of their own so that a DAG's parse imports no HTTP stack."""

from __future__ import annotations

#: CMR answers at most 2000 granules per page (CMR api.md "Paging Details").
MAX_PAGE_SIZE = 2000

MIB = 1024 * 1024
#: S3 multipart limits (S3 "Amazon S3 multipart upload limits"): parts of 5 MiB to 5 GiB but the last,
#: at most 10,000 parts; a single PutObject or CopyObject takes at most 5 GiB.
S3_MIN_PART_SIZE = 5 * MIB
S3_MAX_PARTS = 10_000
S3_MAX_SINGLE_PUT = 5 * 1024**3
S3_MAX_SINGLE_COPY = 5 * 1024**3
