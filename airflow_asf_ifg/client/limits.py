"""Service limits checked when a DAG is parsed; a module of its own so that parsing imports no HTTP stack."""

from __future__ import annotations

#: CMR answers at most 2000 granules per page (CMR api.md "Paging Details").
MAX_PAGE_SIZE = 2000
