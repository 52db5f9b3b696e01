"""Request bodies of the compatibility API: JSON whatever the Content-Type says (the
reference's older clients send ``application/text``), the key field ``license`` left out."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from scanlet.errors import InvalidSetting


async def json_body(request: Request, *, required: bool = False) -> dict[str, Any]:
    """The body as a JSON object (``{}`` when empty, unless ``required``), without
    ``license``; 400 (code -2113) for anything else."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise InvalidSetting("a JSON body is required", field="body")
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidSetting(f"the body is not JSON: {exc}", field="body") from None
    if not isinstance(data, dict):
        raise InvalidSetting("the body must be a JSON object", field="body")
    data.pop("license", None)
    return data
