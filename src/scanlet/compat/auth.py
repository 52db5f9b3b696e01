"""Who a compatibility-API call acts for (decided by the access middleware, see
``scanlet.compat``), and the calls that need a product key."""

from __future__ import annotations

from fastapi import Request

from scanlet.errors import ProductKeyRequired
from scanlet.security.policy import ANONYMOUS, Principal


def principal(request: Request) -> Principal:
    found = request.scope.get("state", {}).get("principal")
    return found if isinstance(found, Principal) else ANONYMOUS


def require_key(request: Request) -> Principal:
    """The caller's API key; 403 (code -2800) for a keyless call. Use as a dependency of the
    routes the reference guards with its product key (scan jobs, barcode reading)."""
    who = principal(request)
    if who.kind != "key":
        raise ProductKeyRequired("send a Scanlet API key (scanlet keys create) as "
                                 "DWT-PRODUCT-KEY, X-DICS-LICENSE-KEY or the body's license")
    return who


def owner_key(request: Request) -> str:
    """The id that owns what a call creates (its key, or the local program)."""
    return principal(request).id or "anonymous"
