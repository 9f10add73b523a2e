"""Transfer operators (ASF to the user's S3 bucket)."""

from __future__ import annotations
