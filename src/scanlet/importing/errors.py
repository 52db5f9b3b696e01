"""Errors of file imports: defined in :mod:`scanlet.errors` (the one exception tree) and
re-exported here, where the importing code and its callers have always found them.

    InvalidSetting (invalid_setting, 422)
    ├── ImportInvalid (import_invalid, 422)            corrupt, truncated, empty, no pages
    │   ├── ImportUnsupportedFormat (import_unsupported_format, 415)
    │   └── PdfPasswordRequired (pdf_password_required, 422)
    RequestError (bad_request, 400)
    └── ImportTooLarge (import_too_large, 413)         bytes, pixels, frames, pages, limits
    ScanletError (internal, 500)
    └── ImportFailed (import_failed, 500)              the PDF worker broke (our fault)

:data:`IMPORT_ERRORS_BY_CODE` serves the PDF worker's boundary: the worker may only report
import errors (:func:`import_error_from_dict`), whatever code it sends.
"""

from __future__ import annotations

from typing import Any

from scanlet.errors import (
    ImportFailed,
    ImportInvalid,
    ImportTooLarge,
    ImportUnsupportedFormat,
    PdfPasswordRequired,
    ScanletError,
)

__all__ = [
    "IMPORT_ERRORS_BY_CODE",
    "ImportFailed",
    "ImportInvalid",
    "ImportTooLarge",
    "ImportUnsupportedFormat",
    "PdfPasswordRequired",
    "import_error_from_dict",
]

IMPORT_ERRORS_BY_CODE: dict[str, type[ScanletError]] = {
    cls.code: cls
    for cls in (ImportInvalid, ImportUnsupportedFormat, PdfPasswordRequired, ImportTooLarge,
                ImportFailed)
}


def import_error_from_dict(data: dict[str, Any]) -> ScanletError:
    """Rebuild an error serialized with ``to_dict`` by the PDF worker.

    Only import errors are expected from the worker; any other code becomes ImportFailed
    keeping the original code in ``detail``.
    """
    code = str(data.get("code", ""))
    detail = dict(data.get("detail") or {})
    cls = IMPORT_ERRORS_BY_CODE.get(code)
    if cls is None:
        detail["original_code"] = code
        cls = ImportFailed
    return cls(str(data.get("message") or cls.title), **detail)
