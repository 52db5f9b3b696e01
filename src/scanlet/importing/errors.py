"""Errors of file imports (to be merged into :mod:`scanlet.errors` later).

Every import failure the client can fix is a 4xx with a stable code:

    InvalidSetting (invalid_setting, 422)
    ├── ImportInvalid (import_invalid, 422)            corrupt, truncated, empty, no pages
    │   ├── ImportUnsupportedFormat (import_unsupported_format, 415)
    │   └── PdfPasswordRequired (pdf_password_required, 422)
    RequestError (bad_request, 400)
    └── ImportTooLarge (import_too_large, 413)         bytes, pixels, frames, pages, limits
    ScanletError (internal, 500)
    └── ImportFailed (import_failed, 500)              the PDF worker broke (our fault)

Why 422 for a missing or wrong PDF password: 401 is HTTP authentication (it requires a
``WWW-Authenticate`` challenge and makes clients re-ask for *their* credentials: the SDK
treats 401/403 as "pair again" or "token revoked"), and 403 means the client is not allowed.
Here the client is allowed and authenticated; the *content* cannot be processed without a
further input, which is what 422 says. The distinct code lets the UI ask for the password.

Because :data:`scanlet.errors.ERRORS_BY_CODE` is built when ``scanlet.errors`` is imported,
these classes are not in it; :data:`IMPORT_ERRORS_BY_CODE` serves the PDF worker's boundary.
"""

from __future__ import annotations

from typing import Any

from scanlet.errors import InvalidSetting, RequestError, ScanletError


class ImportInvalid(InvalidSetting):
    """The file is empty, truncated, damaged or has nothing to import."""

    code = "import_invalid"
    http_status = 422
    title = "The file could not be read: it is empty, truncated or damaged"


class ImportUnsupportedFormat(ImportInvalid):
    """The file's content (by magic bytes, never its name) is not an importable format.

    ``detail["allowed"]`` lists the formats that are.
    """

    code = "import_unsupported_format"
    http_status = 415
    title = "Unsupported file format: import JPEG, PNG, TIFF, BMP, WebP or PDF"


class PdfPasswordRequired(ImportInvalid):
    """The PDF is encrypted and no password, or a wrong one, was given.

    ``detail["password_given"]`` tells the two apart.
    """

    code = "pdf_password_required"
    http_status = 422
    title = "The PDF is protected by a password: send the document's password"


class ImportTooLarge(RequestError):
    """The file exceeds a limit: bytes, pixels per page, frames or pages, or the PDF
    worker's memory, CPU or time budget.

    ``detail["limit"]`` names the limit (``bytes``, ``pixels``, ``frames``, ``pages``,
    ``memory``, ``cpu``, ``time``) and, where known, ``detail["maximum"]`` its value.
    """

    code = "import_too_large"
    http_status = 413
    title = "The file is too large or too complex to import"


class ImportFailed(ScanletError):
    """The PDF worker failed in a way the file does not explain (could not start, broke
    its protocol): a fault of this installation, not of the client."""

    code = "import_failed"
    http_status = 500
    title = "The import failed inside Scanlet; see the service log"


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
