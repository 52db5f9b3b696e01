"""Scanlet's one exception tree, with stable error codes.

The ``code`` strings are the public contract (HTTP problem+json, WebSocket events, the CLI and
the JS SDK); class names and HTTP statuses may change, codes may not. Every error class of the
project is defined here (feature modules such as ``scanlet.importing.errors`` and
``scanlet.ocr.tesseract`` re-export theirs), so :data:`ERRORS_BY_CODE` knows every code.

Each entry: class (code, HTTP status); a subclass inherits its parent's status and CLI exit
code unless it names its own. CLI exit codes: 1 internal/import/export/storage, 2 request,
3 not found, 4 config, 5 already running, 6 device (and cancels), 7 driver, 8 access,
9 certificate, 10 OCR, 11 OS service (3 when it is not installed).

    ScanletError (internal, 500)
    ├── RequestError (bad_request, 400)
    │   ├── InvalidSetting (invalid_setting, 422)
    │   │   ├── UnsupportedSource (unsupported_source, 422)
    │   │   └── ImportInvalid (import_invalid, 422)      corrupt, truncated, empty file
    │   │       ├── ImportUnsupportedFormat (import_unsupported_format, 415)
    │   │       └── PdfPasswordRequired (pdf_password_required, 422)
    │   ├── NoPages (no_pages, 422)
    │   ├── ImportTooLarge (import_too_large, 413)       bytes, pixels, frames, pages, budgets
    │   └── DecodeTooLarge (decode_too_large, 413)       a stored page's work needs more than
    │                                                    the service's share of that budget
    ├── NotFound (not_found, 404)
    │   ├── DeviceNotFound (device_not_found)
    │   ├── JobNotFound (job_not_found)
    │   ├── DocumentNotFound (document_not_found)
    │   ├── PageNotFound (page_not_found)
    │   └── TaskNotFound (task_not_found)
    ├── ConfigError (config_invalid)
    │   └── UnsafeHome (home_unsafe)                  home, keys/ or cert/ of another user or
    │                                                 writable by others
    ├── AlreadyRunning (already_running, 409)
    ├── DeviceError (device_error, 409)
    │   ├── FeederEmpty (feeder_empty)
    │   ├── PaperJam (paper_jam)
    │   ├── CoverOpen (cover_open)
    │   ├── DoubleFeed (double_feed)                  the feeder took two or more sheets at once
    │   ├── DeviceBusy (device_busy)
    │   ├── DeviceIOError (device_io_error, 502)
    │   ├── DeviceOutOfMemory (device_out_of_memory, 507)
    │   ├── DeviceAccessDenied (device_access_denied, 403)
    │   └── ScanCancelled (scan_cancelled)
    │       ├── OcrCancelled (ocr_cancelled)             a ScanCancelled so that tasks report
    │       │                                             "cancelled", not "failed"
    │       └── UploadCancelled (upload_cancelled)       an upload stopped on request (same)
    ├── DriverError (driver_error, 502)
    │   ├── DriverUnavailable (driver_unavailable, 503)
    │   ├── DriverCrashed (driver_crashed)
    │   └── DriverTimeout (driver_timeout, 504)
    ├── JobStateError (job_state, 409)
    ├── JobGone (job_gone, 410)                       compatibility API: a deleted job
    ├── DocumentPasswordInvalid (document_password_invalid, 403)  compatibility API
    ├── StorageError (storage_error)
    │   └── PageCorrupt (page_corrupt)
    ├── ExportError (export_failed)
    ├── ImportFailed (import_failed, 500)                 the PDF worker broke (our fault)
    ├── UploadFailed (upload_failed, 502)                 the target kept failing (5xx, network)
    ├── OcrError (ocr_failed, 500)                       tesseract failed on a page
    │   ├── OcrUnavailable (ocr_unavailable, 503)        no tesseract, or a bad [ocr] tesseract
    │   └── OcrTimeout (ocr_timeout, 504)                a page took longer than its timeout
    ├── AccessError (access_denied, 403)
    │   ├── HostNotAllowed (host_not_allowed)
    │   ├── OriginNotAllowed (origin_not_allowed)
    │   ├── Unauthorized (unauthorized, 401)
    │   ├── TokenInvalid (token_invalid, 401)
    │   ├── TokenOriginMismatch (token_origin_mismatch)
    │   ├── ScopeNotGranted (scope_not_granted)
    │   ├── FetchModeNotAllowed (fetch_mode_not_allowed)
    │   ├── ProductKeyRequired (product_key_required)   compatibility API: a call that needs a key
    │   ├── UploadTargetRefused (upload_target_refused)  an upload URL the policy refuses
    │   ├── UnsupportedMediaType (unsupported_media_type, 415)
    │   ├── PayloadTooLarge (payload_too_large, 413)
    │   ├── RateLimited (rate_limited, 429)              with ``retry_after`` (Retry-After)
    │   │   ├── TooManyTasks (too_many_tasks, 429)       too many OCR tasks running at once
    │   │   ├── TooManySessions (too_many_sessions, 429) too many client sessions open
    │   │   ├── ImportsBusy (imports_busy, 429)          the shared decoding budget stayed full
    │   │   └── DecodeBusy (decode_busy, 429)            no room in it for a stored page's pixels
    │   └── PairingError (pairing_error)
    │       ├── PairingDisabled (pairing_disabled)
    │       ├── PairingNotFound (pairing_not_found, 404)
    │       ├── PairingDenied (pairing_denied)
    │       ├── PairingExpired (pairing_expired, 410)
    │       └── ConsentTooSoon (consent_too_soon, 429)  Allow before the consent delay
    ├── CertificateError (certificate_error)
    │   └── CertificateNotScanlet (certificate_not_scanlet)  ca.pem is not exactly Scanlet's
    │                                                 constrained CA: never trusted
    └── ServiceError (service_error)                OS service install/start/stop failed
        └── ServiceNotInstalled (service_not_installed, 404)
"""

from __future__ import annotations

from typing import Any, ClassVar


class ScanletError(Exception):
    """Base of every error Scanlet raises on purpose."""

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str | None = None, **detail: Any) -> None:
        self.message = message or self.title
        self.detail: dict[str, Any] = detail
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """Serializable form, used across the worker boundary and in events."""
        return {"code": self.code, "message": self.message, "detail": self.detail}


class RequestError(ScanletError):
    code = "bad_request"
    http_status = 400
    title = "Bad request"
    exit_code = 2


class InvalidSetting(RequestError):
    """A setting is outside what the device or the API allows.

    ``detail`` carries ``field`` and, where known, ``allowed``.
    """

    code = "invalid_setting"
    http_status = 422
    title = "Invalid setting"


class UnsupportedSource(InvalidSetting):
    code = "unsupported_source"
    title = "The device has no such paper source"


class NoPages(RequestError):
    code = "no_pages"
    http_status = 422
    title = "There are no pages to write (a scan that kept none, or all dropped as blank)"


class NotFound(ScanletError):
    code = "not_found"
    http_status = 404
    title = "Not found"
    exit_code = 3


class DeviceNotFound(NotFound):
    code = "device_not_found"
    title = "No such device"


class JobNotFound(NotFound):
    code = "job_not_found"
    title = "No such job"


class DocumentNotFound(NotFound):
    code = "document_not_found"
    title = "No such document"


class PageNotFound(NotFound):
    code = "page_not_found"
    title = "No such page"


class TaskNotFound(NotFound):
    code = "task_not_found"
    title = "No such task"


class ConfigError(ScanletError):
    """A config file or value is invalid; the message names file, key and expected form."""

    code = "config_invalid"
    title = "Invalid configuration"
    exit_code = 4


class UnsafeHome(ConfigError):
    """The home folder, ``keys/``, ``cert/`` (or a key, certificate or config file in them)
    belongs to another user or others may write it, so what it holds cannot be trusted. The
    message names the path, its owner and mode, and the command that fixes it."""

    code = "home_unsafe"
    title = "The home folder is not safe to use"


class AlreadyRunning(ScanletError):
    code = "already_running"
    http_status = 409
    title = "Scanlet is already running for this home"
    exit_code = 5


class DeviceError(ScanletError):
    code = "device_error"
    http_status = 409
    title = "The scanner reported an error"
    exit_code = 6


class FeederEmpty(DeviceError):
    code = "feeder_empty"
    title = "The document feeder is empty: load paper and try again"


class PaperJam(DeviceError):
    code = "paper_jam"
    title = "Paper jam: clear the feeder and try again"


class CoverOpen(DeviceError):
    code = "cover_open"
    title = "The scanner cover is open: close it and try again"


class DoubleFeed(DeviceError):
    code = "double_feed"
    title = "The feeder took two or more sheets at once: reload them and try again"


class DeviceBusy(DeviceError):
    code = "device_busy"
    title = "The scanner is busy: wait for the other job and try again"


class DeviceIOError(DeviceError):
    code = "device_io_error"
    http_status = 502
    title = "Communication with the scanner failed: check the cable or network"


class DeviceOutOfMemory(DeviceError):
    code = "device_out_of_memory"
    http_status = 507
    title = "The scanner ran out of memory: lower the resolution or area"


class DeviceAccessDenied(DeviceError):
    code = "device_access_denied"
    http_status = 403
    title = "Access to the scanner was denied: check permissions"


class ScanCancelled(DeviceError):
    code = "scan_cancelled"
    title = "The scan was cancelled"


class DriverError(ScanletError):
    code = "driver_error"
    http_status = 502
    title = "The scanner driver failed"
    exit_code = 7


class DriverUnavailable(DriverError):
    code = "driver_unavailable"
    http_status = 503
    title = "The scanner driver is not available on this machine"


class DriverCrashed(DriverError):
    code = "driver_crashed"
    title = "The scanner driver crashed; pages already stored are kept, retry the scan"


class DriverTimeout(DriverError):
    code = "driver_timeout"
    http_status = 504
    title = "The scanner driver stopped responding; pages already stored are kept"


class JobStateError(ScanletError):
    code = "job_state"
    http_status = 409
    title = "The job is not in a state that allows this"


class StorageError(ScanletError):
    code = "storage_error"
    title = "The page buffer failed"


class PageCorrupt(StorageError):
    code = "page_corrupt"
    title = "A stored page could not be read back (corrupt or wrong key)"


class ExportError(ScanletError):
    code = "export_failed"
    title = "Export failed"


# -- file imports --------------------------------------------------------------------------------
# Every import failure the client can fix is a 4xx with a stable code.


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

    Why 422 and not 401/403: 401 is HTTP authentication (it requires a ``WWW-Authenticate``
    challenge and makes clients re-ask for *their* credentials: the SDK treats 401/403 as "pair
    again" or "token revoked"), and 403 means the client is not allowed. Here the client is
    allowed and authenticated; the *content* cannot be processed without a further input, which
    is what 422 says. The distinct code lets the UI ask for the password.
    """

    code = "pdf_password_required"
    http_status = 422
    title = "The PDF is protected by a password: send the document's password"


class ImportTooLarge(RequestError):
    """The file exceeds a limit: bytes, pixels per page, frames or pages, or the PDF
    worker's memory, CPU or time budget.

    ``detail["limit"]`` names the limit (``bytes``, ``pixels``, ``decoded_bytes``,
    ``content_bytes``, ``frames``, ``pages``, ``memory``, ``cpu``, ``time``) and, where known,
    ``detail["maximum"]`` its value.
    """

    code = "import_too_large"
    http_status = 413
    title = "The file is too large or too complex to import"


class DecodeTooLarge(RequestError):
    """Working on a stored page in the service (an edit, processing, an export, a rendition)
    would need more memory than the service may take of the decoding budget (``[limits]
    decode_memory_mb`` less 256 MB); ``detail`` has ``needed`` and ``maximum`` (bytes)."""

    code = "decode_too_large"
    http_status = 413
    title = "The page is too large for this operation within the memory budget"


class ImportFailed(ScanletError):
    """The PDF worker failed in a way the file does not explain (could not start, broke
    its protocol): a fault of this installation, not of the client."""

    code = "import_failed"
    http_status = 500
    title = "The import failed inside Scanlet; see the service log"


# -- OCR (Tesseract) -----------------------------------------------------------------------------


class OcrError(ScanletError):
    """Tesseract failed on a page (the message has its stderr); ``detail`` has ``page``
    (0-based) when run by the pool."""

    code = "ocr_failed"
    http_status = 500
    title = "OCR failed"
    exit_code = 10


class OcrUnavailable(OcrError):
    """No tesseract executable (not installed, or ``[ocr] tesseract`` names a missing or
    non-executable file: ``detail["path"]``), or a model it needs (OSD) is missing."""

    code = "ocr_unavailable"
    http_status = 503
    title = "OCR is not available: Tesseract is not installed"


class OcrTimeout(OcrError):
    code = "ocr_timeout"
    http_status = 504
    title = "OCR of a page took too long"


class OcrCancelled(ScanCancelled):
    """OCR was cancelled; a :class:`ScanCancelled` so that ``tasks.TaskManager`` reports the
    task as cancelled rather than failed."""

    code = "ocr_cancelled"
    title = "OCR was cancelled"


class AccessError(ScanletError):
    """The request was refused by the access rules (host, origin, token, limits)."""

    code = "access_denied"
    http_status = 403
    title = "Access denied"
    exit_code = 8


class HostNotAllowed(AccessError):
    code = "host_not_allowed"
    title = "The Host header is not one this service answers to"


class OriginNotAllowed(AccessError):
    code = "origin_not_allowed"
    title = "This web origin is not allowed; pair it first"


class Unauthorized(AccessError):
    code = "unauthorized"
    http_status = 401
    title = "A pairing token or API key is needed"


class TokenInvalid(AccessError):
    code = "token_invalid"
    http_status = 401
    title = "The token or API key is unknown, expired or revoked"


class TokenOriginMismatch(AccessError):
    code = "token_origin_mismatch"
    title = "The token belongs to another origin"


class ScopeNotGranted(AccessError):
    code = "scope_not_granted"
    title = "The token does not grant this"


class FetchModeNotAllowed(AccessError):
    code = "fetch_mode_not_allowed"
    title = "The API answers only fetch/XHR requests, not navigations, forms or images"


class UploadTargetRefused(AccessError):
    """The upload policy refuses the target URL; ``detail`` has ``reason`` (``url``,
    ``scheme``, ``credentials``, ``origin``, ``address``, ``resolve``), the target as
    ``scheme://host:port/path`` (never its query) and, for ``address``, the refused
    ``address``."""

    code = "upload_target_refused"
    title = "Scanlet does not upload to this target"


class UploadCancelled(ScanCancelled):
    """An upload was cancelled on request; a :class:`ScanCancelled` so that tasks report it
    as cancelled rather than failed."""

    code = "upload_cancelled"
    title = "The upload was cancelled"


class UploadFailed(ScanletError):
    """The upload target kept failing after every retry: ``detail`` has ``target``
    (``scheme://host:port/path``, never its query), ``attempts`` and either the last
    ``status`` (5xx) or ``reason`` ``connection`` (with the ``error`` kind)."""

    code = "upload_failed"
    http_status = 502
    title = "The upload target did not accept the file"


class UnsupportedMediaType(AccessError):
    code = "unsupported_media_type"
    http_status = 415
    title = "Request bodies must be application/json"


class PayloadTooLarge(AccessError):
    code = "payload_too_large"
    http_status = 413
    title = "The request body is too large"


class RateLimited(AccessError):
    """Too many requests of a kind; ``detail["retry_after"]`` (seconds) becomes the
    ``Retry-After`` header."""

    code = "rate_limited"
    http_status = 429
    title = "Too many requests; try again later"


class TooManyTasks(RateLimited):
    """The client already runs as many tasks of a kind as its limit allows (``[limits]
    max_running_ocr_tasks``, ``max_running_uploads``); ``detail`` has ``running``,
    ``maximum`` and ``retry_after``."""

    code = "too_many_tasks"
    title = "Too many tasks are running; wait for one to finish"


class TooManySessions(RateLimited):
    """The service already has as many client sessions (``/v1/session`` WebSockets) open as
    it keeps; ``detail["limit"]``."""

    code = "too_many_sessions"
    title = "Too many client sessions are open"


class ImportsBusy(RateLimited):
    """Other imports hold the decoding budget or every decode slot (``[limits]
    decode_memory_mb``, ``max_running_decodes``) for longer than ``decode_wait_seconds``;
    ``detail`` has ``running``, ``maximum`` and ``retry_after``."""

    code = "imports_busy"
    title = "Other imports are decoding; try again shortly"


class DecodeBusy(RateLimited):
    """Decoding a stored page (edits, processing, exports, renditions) found no room in the
    decoding budget imports share (``[limits] decode_memory_mb``) within
    ``decode_wait_seconds``; ``detail["retry_after"]``."""

    code = "decode_busy"
    title = "Other work holds the memory for decoded pages; try again shortly"


class PairingError(AccessError):
    code = "pairing_error"
    title = "Pairing failed"


class PairingDisabled(PairingError):
    code = "pairing_disabled"
    title = "Pairing is turned off; an administrator must allow this origin"


class PairingNotFound(PairingError):
    code = "pairing_not_found"
    http_status = 404
    title = "No such pairing request (it may have expired)"


class PairingDenied(PairingError):
    code = "pairing_denied"
    title = "The user denied the pairing request"


class PairingExpired(PairingError):
    code = "pairing_expired"
    http_status = 410
    title = "The pairing request expired or its token was already collected"


class ConsentTooSoon(PairingError):
    """Allow arrived sooner than ``[security] consent_delay_ms`` after the consent page was
    served (a double-click meant for another page); the request stays pending."""

    code = "consent_too_soon"
    http_status = 429
    title = "Allow was clicked too soon after the consent page appeared"


class CertificateError(ScanletError):
    """The HTTPS certificate or a trust store could not be created, read, installed or removed.

    The message says which file or store, and what to do (e.g. run with ``sudo``, install
    ``libnss3-tools``, close Firefox).
    """

    code = "certificate_error"
    title = "HTTPS certificate error"
    exit_code = 9


class CertificateNotScanlet(CertificateError):
    """``cert/ca.pem`` is not exactly the name-constrained CA Scanlet makes (constraints,
    path length, key usage, lifetime, self-signature), so it is put into no trust store. The
    message says which property differs; ``scanlet cert renew`` makes a genuine one."""

    code = "certificate_not_scanlet"
    title = "Not Scanlet's local CA"


class JobGone(ScanletError):
    """Compatibility API: the scan job was deleted (the reference answers 410, code -1034;
    after a restart it no longer knows the job: 404)."""

    code = "job_gone"
    http_status = 410
    title = "The job was deleted"
    dwt_code = -1034


class DocumentPasswordInvalid(ScanletError):
    """Compatibility API: the document's password (``DWT-DOC-PASSWORD``) is missing or
    wrong (the reference's 403, code -1043)."""

    code = "document_password_invalid"
    http_status = 403
    title = "The password is not valid"
    dwt_code = -1043


class ProductKeyRequired(AccessError):
    """Compatibility API: creating a scan job or reading barcodes needs a Scanlet API key as
    the product key (the reference's 403, code -2800)."""

    code = "product_key_required"
    title = "The current product key is empty or invalid"


class ServiceError(ScanletError):
    """Installing, starting, stopping or removing the OS service (systemd, launchd, Task
    Scheduler) failed, or the service manager cannot be reached. ``detail`` may carry
    ``command`` and the manager's ``output``; the message says what to do next."""

    code = "service_error"
    title = "The OS service could not be changed"
    exit_code = 11


class ServiceNotInstalled(ServiceError):
    code = "service_not_installed"
    http_status = 404
    title = "Scanlet is not installed as an OS service: run `scanlet service install`"
    exit_code = 3


def _all_subclasses(cls: type[ScanletError]) -> list[type[ScanletError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


def errors_by_code() -> dict[str, type[ScanletError]]:
    """Every error class by its code (every class of this module; a subclass defined
    elsewhere is found too, once its module is imported)."""
    return {c.code: c for c in _all_subclasses(ScanletError)}


ERRORS_BY_CODE: dict[str, type[ScanletError]] = errors_by_code()


def error_from_dict(data: dict[str, Any]) -> ScanletError:
    """Rebuild an error serialized with :meth:`ScanletError.to_dict` (e.g. from a worker).

    Unknown codes become a plain :class:`DriverError` keeping the original code in ``detail``.
    """
    code = str(data.get("code", "internal"))
    detail = dict(data.get("detail") or {})
    cls = errors_by_code().get(code)
    if cls is None:
        detail["original_code"] = code
        cls = DriverError
    return cls(str(data.get("message") or cls.title), **detail)

