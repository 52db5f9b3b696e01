"""Shared request dependencies: the runtime the app serves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request

from scanlet.service.runtime import Runtime


def runtime(request: Request) -> Runtime:
    """The Runtime this app was built around."""
    rt: Runtime = request.app.state.runtime
    return rt


def client_key(scope: Mapping[str, Any]) -> str:
    """Who a request or WebSocket acts for, as one string: the kind and id of the principal
    the access middleware found (``anonymous:`` when none)."""
    principal = scope.get("state", {}).get("principal")
    if principal is None:
        return "anonymous:"
    return f"{principal.kind}:{principal.id}"
