"""Scanlet's one exception tree, with stable error codes.

The ``code`` strings are the public contract (HTTP problem+json, WebSocket events, the CLI and
the JS SDK); class names and HTTP statuses may change, codes may not.

    ScanletError (internal, 500)
    ├── RequestError (bad_request, 400)
    │   ├── InvalidSetting (invalid_setting, 422)
    │   └── UnsupportedSource (unsupported_source, 422)
    ├── NotFound (not_found, 404)
    │   ├── DeviceNotFound (device_not_found)
    │   ├── JobNotFound (job_not_found)
    │   ├── DocumentNotFound (document_not_found)
    │   └── PageNotFound (page_not_found)
    ├── ConfigError (config_invalid)
    ├── AlreadyRunning (already_running)
    ├── DeviceError (device_error, 409)
    │   ├── FeederEmpty (feeder_empty)
    │   ├── PaperJam (paper_jam)
    │   ├── CoverOpen (cover_open)
    │   ├── DeviceBusy (device_busy)
    │   ├── DeviceIOError (device_io_error, 502)
    │   ├── DeviceOutOfMemory (device_out_of_memory, 507)
    │   ├── DeviceAccessDenied (device_access_denied, 403)
    │   └── ScanCancelled (scan_cancelled)
    ├── DriverError (driver_error, 502)
    │   ├── DriverUnavailable (driver_unavailable, 503)
    │   ├── DriverCrashed (driver_crashed)
    │   └── DriverTimeout (driver_timeout, 504)
    ├── JobStateError (job_state, 409)
    ├── StorageError (storage_error)
    │   └── PageCorrupt (page_corrupt)
    └── ExportError (export_failed)
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


class ConfigError(ScanletError):
    """A config file or value is invalid; the message names file, key and expected form."""

    code = "config_invalid"
    title = "Invalid configuration"
    exit_code = 4


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


class UnsupportedMediaType(AccessError):
    code = "unsupported_media_type"
    http_status = 415
    title = "Request bodies must be application/json"


class PayloadTooLarge(AccessError):
    code = "payload_too_large"
    http_status = 413
    title = "The request body is too large"


class RateLimited(AccessError):
    code = "rate_limited"
    http_status = 429
    title = "Too many requests; try again later"


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


class CertificateError(ScanletError):
    """The HTTPS certificate or a trust store could not be created, read, installed or removed.

    The message says which file or store, and what to do (e.g. run with ``sudo``, install
    ``libnss3-tools``, close Firefox).
    """

    code = "certificate_error"
    title = "HTTPS certificate error"
    exit_code = 9


def _all_subclasses(cls: type[ScanletError]) -> list[type[ScanletError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


def errors_by_code() -> dict[str, type[ScanletError]]:
    """Every error class by its code, including those defined in feature packages (importing,
    ocr) once they are imported."""
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

