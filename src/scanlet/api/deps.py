"""Request dependencies of the native API: who a request acts for.

The runtime dependency both APIs share is ``scanlet.core.deps.runtime``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def client_key(scope: Mapping[str, Any]) -> str:
    """Who a request or WebSocket acts for, as one string: the kind and id of the principal
    the access middleware found (``anonymous:`` when none)."""
    principal = scope.get("state", {}).get("principal")
    if principal is None:
        return "anonymous:"
    return f"{principal.kind}:{principal.id}"
