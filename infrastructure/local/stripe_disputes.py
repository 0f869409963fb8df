"""Disputes and charge.* webhook events for localstripe (which has neither)."""

from __future__ import annotations

from typing import Any


def install(app: Any) -> None:
    """Add this module's routes to localstripe's aiohttp ``app`` (before it starts)."""
