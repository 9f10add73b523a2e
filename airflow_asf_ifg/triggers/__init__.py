"""Triggers (asyncio, run by the triggerer) of the provider."""

from __future__ import annotations
