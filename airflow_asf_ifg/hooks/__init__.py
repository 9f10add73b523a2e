"""Airflow hooks: read a connection once and build the client objects."""

from __future__ import annotations
