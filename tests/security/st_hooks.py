"""Schemathesis hooks for tests/security/test_fuzz_openapi.py (``st run`` loads this file
through ``SCHEMATHESIS_HOOKS``): the import route's file bodies are drawn from the degenerate
page images of tests/degenerate.py (written by the test into the folder named by
``SCANLET_FUZZ_BODIES``, one file per image, named ``<name>.<media type with / as +>``) as
well as from random bytes, so the fuzzer also imports 1 px strips, 1x1 pages, 16-bit, CMYK,
palette, alpha and EXIF-rotated images and a 1x1 pt PDF, not only noise that fails to decode.

This runs in the ``st run`` process, which does not have the test suite on its path; it
reads files instead of importing tests.degenerate.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import schemathesis
from hypothesis import strategies as st

BODIES_ENV = "SCANLET_FUZZ_BODIES"
#: Every file may also come as a generic binary body.
ANY_FILE = "application/octet-stream"


def media_of(path: Path) -> str:
    """The media type a body file was written for (``x.image+png`` -> ``image/png``)."""
    return path.suffix.removeprefix(".").replace("+", "/")


def register(folder: Path) -> dict[str, int]:
    """Register a body strategy per media type: a degenerate file of that type or random
    bytes. Gives how many files each media type draws from."""
    files: dict[str, list[bytes]] = defaultdict(list)
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        files[media_of(path)].append(data)
        files[ANY_FILE].append(data)
    for media, bodies in files.items():
        schemathesis.openapi.media_type(
            media, st.one_of(st.sampled_from(bodies), st.binary(max_size=512)))
    return {media: len(bodies) for media, bodies in files.items()}


if os.environ.get(BODIES_ENV):
    register(Path(os.environ[BODIES_ENV]))
