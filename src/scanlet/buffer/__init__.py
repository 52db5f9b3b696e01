"""The page buffer: documents of ordered pages, encrypted at rest, indexed in SQLite.

``PageStore`` is the public surface; store.py's docstring describes the thread-safety and
crash-safety design, recovery.py the start-up repair.
"""

from scanlet.buffer.recovery import RecoveryReport
from scanlet.buffer.renditions import RenderedImage
from scanlet.buffer.store import DEFAULT_DPI, PageStore

__all__ = ["DEFAULT_DPI", "PageStore", "RecoveryReport", "RenderedImage"]
