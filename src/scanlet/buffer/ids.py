"""Identifiers for documents, pages and jobs.

16 characters of lowercase base32 (80 random bits): URL-safe, and safe as file names on
case-insensitive file systems (macOS, Windows), where ``token_urlsafe`` ids differing only in
case would collide. Page ids name their files, so that matters here.
"""

from __future__ import annotations

import base64
import re
import secrets

_ID_BYTES = 10
ID_PATTERN = re.compile(r"^[a-z2-7]{16}$")


def new_id() -> str:
    """A fresh random id."""
    return base64.b32encode(secrets.token_bytes(_ID_BYTES)).decode("ascii").lower()


def is_id(text: str) -> bool:
    """True if ``text`` has the shape of an id made by :func:`new_id`."""
    return bool(ID_PATTERN.match(text))
