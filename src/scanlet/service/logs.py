"""Logging set-up for the service process: rotating file in ``log/`` plus stderr."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path


def configure(log_dir: Path, level: str) -> None:
    """Send Scanlet's logs to ``log/scanlet.log`` (rotating) and to stderr."""
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    file_handler = logging.handlers.RotatingFileHandler(
        log_dir / "scanlet.log", maxBytes=5 * 2**20, backupCount=5, encoding="utf-8"
    )
    file_handler.setFormatter(fmt)
    stream = logging.StreamHandler()
    stream.setFormatter(fmt)
    root = logging.getLogger()
    root.handlers[:] = [file_handler, stream]
    root.setLevel(level)
