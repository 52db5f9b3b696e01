"""The configuration model: one pydantic model per INI section, and the file composed of them.

Each field is one key: its type (``values.py``: syntax, bounds, the form error messages
name), its default, its INI name (the alias) and its description, the text of the key in
docs/configuration.md (generated from these models by ``python -m scanlet.config.docs``).
The field names are the flat attribute names the rest of Scanlet reads
(``settings.monitor_hang_timeout`` for ``[monitor] hang_timeout``), so :class:`Settings`
(``settings.py``) is these models side by side, and no key is declared twice.

``json_schema_extra`` of a field may hold ``form`` (how a value is written, when the type's
form is not precise enough), ``shown`` (the default as the docs show it, when it is no value)
and ``example`` (the value the commented-out line of a new ``scanlet.ini`` shows).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from scanlet.config.values import (
    Address,
    Bool,
    Count,
    Days,
    DevTargets,
    Drivers,
    Hours,
    Kilobytes,
    LogFormat,
    LogLevel,
    Megabytes,
    Names,
    OptionalPath,
    Origins,
    Port,
    Positive,
    Quality,
    Seconds,
    Unlimited,
    UploadTargets,
)

DEFAULT_PORT = 18622
DEFAULT_HTTPS_PORT = 18623


class _Section(BaseModel):
    """One INI section: keys by their INI names only, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_alias=True,
                              validate_by_name=False)


class ServerSection(_Section):
    """``[server]``: Where the service listens, and how it stops."""

    host: Address = Field(
        "127.0.0.1", alias="host", description=(
        "Address to listen on: `127.0.0.1` or `::1`. Any other address needs `allow_remote = "
        "true`. `--host` overrides."))
    port: Port = Field(
        DEFAULT_PORT, alias="port", description=(
        "HTTP port; `0` picks a free one (written to `port.lock`). `--port` overrides."))
    listen_ipv6: Bool = Field(
        False, alias="listen_ipv6", description=(
        "Also listen on `[::1]` (same ports)."))
    https: Bool = Field(
        False, alias="https", description=(
        "Also serve HTTPS with the per-install certificate (see security.md)."))
    https_port: Port = Field(
        DEFAULT_HTTPS_PORT, alias="https_port", description=(
        "HTTPS port; `0` picks a free one."))
    allow_remote: Bool = Field(
        False, alias="allow_remote", description=(
        "Allow a non-loopback `host`. Then only HTTPS runs (with `[tls]` cert and key), every "
        "client needs a token or key, and web consent is off (admins allow origins)."))
    shutdown_grace: Seconds = Field(
        10.0, alias="shutdown_grace", description=(
        "On SIGTERM/SIGINT, `serve` drains HTTP requests for half of this, then stops running "
        "jobs (`interrupted`, stored pages kept), stops the scan workers and checkpoints the "
        "index. The monitor kills a `serve` still running `shutdown_grace` + 5 s after the "
        "signal."))
    public_names: Names = Field(
        (), alias="public_names", description=(
        "With `allow_remote`: the host names/addresses clients use (accepted in `Host`; must be "
        "in the certificate)."))


class TlsSection(_Section):
    """``[tls]``: Your own certificate instead of the per-install one, and the certificate task."""

    tls_cert_file: OptionalPath = Field(
        None, alias="cert_file", description=(
        "Your own certificate (PEM) instead of the per-install one, with `key_file`. Required "
        "for `allow_remote`."),
        json_schema_extra={"form": "a PEM certificate file path"})
    tls_key_file: OptionalPath = Field(
        None, alias="key_file", description=(
        "The private key (PEM) of `cert_file`. Required for `allow_remote`."),
        json_schema_extra={"form": "a PEM private key file path"})
    cert_check_hours: Hours = Field(
        6.0, alias="check_hours", description=(
        "How often the certificate task runs (renewal, new browser profiles)."))


class SecuritySection(_Section):
    """``[security]``: Which web origins may use the service, and how they are let in."""

    allowed_origins: Origins = Field(
        (), alias="allowed_origins", description=(
        "Origins an admin pre-approves, exact and canonical (`https://app.example.com`, "
        "`http://localhost:3000`), separated by commas. Their pages get a token from `POST "
        "/v1/pair` without a consent prompt."))
    pairing: Bool = Field(
        True, alias="pairing", description=(
        "Let unknown origins ask the user for access. `false`: only `allowed_origins` and "
        "`scanlet sites allow` origins."))
    token_days: Days = Field(
        90, alias="token_days", description=(
        "Lifetime of a site token."))
    consent_delay_ms: Count = Field(
        1000, alias="consent_delay_ms", description=(
        "The consent page's **Allow** works only this long after the page was shown (and, in the "
        "page, after it became visible and focused); an earlier decision is refused (429 "
        "`consent_too_soon`). Stops a double-click on another page from landing on Allow. `0` "
        "turns it off."),
        json_schema_extra={"form": "milliseconds, an integer >= 0"})


class LimitsSection(_Section):
    """``[limits]``: Sizes, rates and timeouts that keep one client from taking the service down."""

    max_body_kb: Kilobytes = Field(
        1024, alias="max_body_kb", description=(
        "Largest JSON request body."))
    max_import_mb: Megabytes = Field(
        200, alias="max_import_mb", description=(
        "Largest file sent to `POST /v1/documents/{id}/import`."))
    max_image_megapixels: Positive = Field(
        200, alias="max_image_megapixels", description=(
        "Largest image the service decodes (decompression bombs get a 4xx)."),
        json_schema_extra={"form": "megapixels, an integer > 0"})
    max_decoded_mb: Megabytes = Field(
        256, alias="max_decoded_mb", description=(
        "Largest decoded page or image frame an import may hold in memory, checked from the "
        "header before decoding: pixels x bytes per pixel as Pillow holds them (1 for bilevel and "
        "8-bit grey, 2 for 16-bit grey, 4 for colour), plus the copies a conversion needs (alpha, "
        "palette, CMYK: 13 more a pixel); 12 bytes a pixel for a PDF page. 413 `import_too_large` "
        "(`limit: decoded_bytes`) beyond. 256 MB holds an A4 image at 600 dpi in colour, and an "
        "A4 PDF page rasterised at up to 480 dpi; each import worker's address space is this plus "
        "128 MB."))
    decode_memory_mb: Megabytes = Field(
        768, alias="decode_memory_mb", description=(
        "Memory all import workers together may take (each reserves its address-space limit). "
        "Pages decoded in the service (edits, processing, exports, renditions) hold their "
        "estimated working memory of the same budget while the total stays within it less 256 MB; "
        "429 `decode_busy` when no room comes within `decode_wait_seconds`, 413 "
        "`decode_too_large` for work that needs more than that."))
    max_running_decodes: Positive = Field(
        2, alias="max_running_decodes", description=(
        "Import workers running at once, for all clients together."))
    decode_wait_seconds: Seconds = Field(
        30.0, alias="decode_wait_seconds", description=(
        "How long an import waits for room in the budget or a free slot before 429 `imports_busy` "
        "(with `Retry-After`)."))
    pair_requests_per_minute: Count = Field(
        5, alias="pair_requests_per_minute", description=(
        "Pairing requests per site (registrable domain, e.g. all of `*.example.com`; an IP "
        "address or `localhost` counts as its own site) and minute (`0` = none). A paired origin "
        "asking again for scopes it holds counts on its own."),
        json_schema_extra={"form": "an integer >= 0 (0 = no pairing requests)"})
    max_pending_pairings: Positive = Field(
        50, alias="max_pending_pairings", description=(
        "Pairing requests waiting for the user, in total (429 `rate_limited` beyond). Origins "
        "already paired for the scopes they ask are not counted and never refused for it."))
    max_pending_pairings_per_site: Positive = Field(
        3, alias="max_pending_pairings_per_site", description=(
        "Pairing requests waiting for the user from one site (registrable domain)."))
    pair_unopened_timeout: Seconds = Field(
        60.0, alias="pair_unopened_timeout", description=(
        "Seconds a pairing request lives if its consent page is never opened; once opened it "
        "lives 5 minutes from its start."))
    scans_per_minute: Unlimited = Field(
        30, alias="scans_per_minute", description=(
        "Scan jobs started per client (site, key, or own pages) and minute (`0` = unlimited)."))
    ocr_tasks_per_minute: Unlimited = Field(
        12, alias="ocr_tasks_per_minute", description=(
        "OCR requests (`POST /v1/documents/{id}/ocr`) per client and minute, counted before the "
        "request is checked (`0` = unlimited). Over it: 429 `rate_limited` with `Retry-After`."))
    max_running_ocr_tasks: Unlimited = Field(
        2, alias="max_running_ocr_tasks", description=(
        "OCR tasks one client may have running at once (`0` = unlimited); another one gets 429 "
        "`too_many_tasks` with `Retry-After` until one finishes or is cancelled. However many "
        "tasks run, OCR uses at most one tesseract per core."))
    upload_tasks_per_minute: Unlimited = Field(
        30, alias="upload_tasks_per_minute", description=(
        "Upload requests (`POST /v1/documents/{id}/upload`) per client and minute, counted before "
        "the request is checked (`0` = unlimited). Over it: 429 `rate_limited` with "
        "`Retry-After`."))
    max_running_uploads: Unlimited = Field(
        2, alias="max_running_uploads", description=(
        "Uploads one client may have running at once (`0` = unlimited); another one gets 429 "
        "`too_many_tasks` with `Retry-After`."))
    header_timeout: Seconds = Field(
        10.0, alias="header_timeout", description=(
        "Seconds a connection has to send a complete request head, from its start (or from the "
        "first byte of a later request on it); then it is closed. Idle keep-alive connections "
        "close after 5 s anyway."))
    body_timeout: Seconds = Field(
        30.0, alias="body_timeout", description=(
        "Seconds a request body may pause (no byte arriving while the service reads it) before "
        "the connection is closed."))
    max_connections_per_peer: Unlimited = Field(
        256, alias="max_connections_per_peer", description=(
        "Open connections (HTTP and WebSocket, all listeners) one peer may hold: per OS user on "
        "loopback (Linux), else per address (`0` = unlimited). One more gets 503 and is closed."))
    sessions_per_client: Positive = Field(
        16, alias="sessions_per_client", description=(
        "Client sessions (`WS /v1/session`) one client (a site, an API key, Scanlet's own pages) "
        "may hold of the service's 64; one more handshake is refused (`too_many_sessions`)."))


class OcrSection(_Section):
    """``[ocr]``: The tesseract program."""

    tesseract: OptionalPath = Field(
        None, alias="tesseract", description=(
        "The tesseract program used for OCR and for page orientation (`orient` edits): an "
        "absolute path such as `/opt/tesseract/bin/tesseract` (or `C:\\Program "
        "Files\\Tesseract-OCR\\tesseract.exe`), or a program name looked up on PATH. Empty: "
        "`tesseract` on PATH (on Windows also the installer's default folder). Not checked at "
        "start-up: a path that does not exist or is not executable makes OCR requests fail with "
        "503 `ocr_unavailable` naming the path. `scanlet convert --ocr` reads it too."),
        json_schema_extra={"form": "the tesseract program: a path, or empty to search PATH",
                           "shown": "*(PATH)*"})


class DevicesSection(_Section):
    """``[devices]``: Scanner drivers and the scan worker processes."""

    device_drivers: Drivers = Field(
        (), alias="drivers", description=(
        "Scanner drivers to use, by name, separated by commas: `sane` (SANE scanners, and its "
        "`test`/`pnm` virtual devices), `demo` (the demo scanner, no hardware). Empty: every "
        "driver made for this operating system except `demo` (`--demo` adds it, first). A "
        "driver whose library is missing still appears in `scanlet doctor` and the logs, with "
        "no devices. An unknown name stops the service with an error naming it and the known "
        "ones."),
        json_schema_extra={"shown": "*(every driver made for this system)*"})
    sane_config_dir: OptionalPath = Field(
        None, alias="sane_config_dir", description=(
        "SANE config folder for the scan workers (`SANE_CONFIG_DIR`). Ignored with `--demo`."),
        json_schema_extra={"form": "a folder path", "shown": "*(system)*"})
    demo_system_backends: Bool = Field(
        True, alias="demo_system_backends", description=(
        "With `--demo`, also list the backends enabled in `/etc/sane.d/dll.conf`, so real "
        "scanners appear next to the demo ones. Tests set `false` (system backends probe the "
        "network)."))
    worker_idle_timeout: Seconds = Field(
        60.0, alias="worker_idle_timeout", description=(
        "Seconds a scan worker may stay idle before it is stopped. A worker held by client "
        "sessions (`WS /v1/session`, api.md) stops as soon as it is idle once the last of them "
        "closes."))
    worker_progress_timeout: Seconds = Field(
        60.0, alias="worker_progress_timeout", description=(
        "Seconds a running scan may go without a page before the worker is killed and the job "
        "fails with `driver_timeout`."))
    worker_start_timeout: Seconds = Field(
        20.0, alias="worker_start_timeout", description=(
        "Seconds a new worker has to report ready."))
    list_max_age: Seconds = Field(
        300.0, alias="list_max_age", description=(
        "Seconds `GET /v1/devices` (and the compat scanner list) answers from the last device "
        "listing; a request after that still gets it at once and starts a new listing in the "
        "background. `?refresh=true` lists now; a job for an id not in the listing lists once "
        "more before `device_not_found`."))


class BufferSection(_Section):
    """``[buffer]``: The page buffer (cache/)."""

    ram_cache_mb: Megabytes = Field(
        256, alias="ram_cache_mb", description=(
        "Upper bound of decoded page data kept in RAM."))
    fsync: Bool = Field(
        True, alias="fsync", description=(
        "Flush page files to disk before a page is announced (survives power loss, not only a "
        "crash of the service)."))
    jpeg_quality: Quality = Field(
        85, alias="jpeg_quality", description=(
        "Default JPEG quality for stored colour/grey pages (a job's `jpeg_quality` wins)."))


class LogSection(_Section):
    """``[log]``: The service log (log/scanlet.log and stderr)."""

    log_level: LogLevel = Field(
        "INFO", alias="level", description=(
        "`DEBUG`, `INFO`, `WARNING` or `ERROR`, for Scanlet's own loggers and the scan workers "
        "(other libraries stay at `INFO` or above). Change it while the service runs with "
        "`scanlet log-level LEVEL` or `PUT /v1/admin/log`: that applies at once, to running scan "
        "workers too, and lasts until the service stops; this key is the level it starts with."))
    log_format: LogFormat = Field(
        "text", alias="format", description=(
        "`text`: one record per line, `time LEVEL logger: message`; continuation lines "
        "(tracebacks) are indented and control characters escaped. `json`: one JSON object per "
        "line with `time` (ISO 8601 UTC), `level`, `logger`, `message`, the record's extra fields "
        "(request lines: `method`, `path`, `status`, `duration_ms`, `client`, `bytes`, and "
        "`close_code` for WebSockets) and `exc_info`. Used for the file and stderr."))
    log_max_mb: Megabytes = Field(
        5, alias="max_mb", description=(
        "Size in MB at which `log/scanlet.log` is rotated."))
    log_backups: Count = Field(
        5, alias="backups", description=(
        "Rotated files kept (`scanlet.log.1` … `.N`); `0` keeps only the current file, emptied "
        "when it reaches `max_mb`."))
    log_requests: Bool = Field(
        True, alias="requests", description=(
        "One INFO line per HTTP request, and per WebSocket when it closes, on logger "
        "`scanlet.access`: method (`WS` for WebSockets), path and query (values of `token`, "
        "`key`, `secret`, `nonce`, `password`, `code`, `session` shown as `***`), status, "
        "duration in ms, client (the site's origin, `key:<key id>`, `self` for Scanlet's own "
        "pages, or the peer address). Requests the access control refuses are logged too. A "
        "successful `GET /v1/health` is logged at `DEBUG`."))


class DumpSection(_Section):
    """``[dump]``: Crash reports (dump/)."""

    dump_keep: Positive = Field(
        20, alias="keep", description=(
        "Crash reports kept in `dump/`; older ones are deleted."))


class MonitorSection(_Section):
    """``[monitor]``: The monitor that keeps ``serve`` running (``scanlet service run``)."""

    monitor_health_interval: Seconds = Field(
        2.0, alias="health_interval", description=(
        "Seconds between the monitor's `GET /v1/health` checks."))
    monitor_hang_timeout: Seconds = Field(
        10.0, alias="hang_timeout", description=(
        "Seconds without a health answer before `serve` counts as hung: SIGUSR1 (tracebacks), "
        "then SIGKILL, a crash report and a restart."))
    monitor_start_timeout: Seconds = Field(
        30.0, alias="start_timeout", description=(
        "Seconds a new `serve` has to answer its first health check."))
    monitor_backoff_max: Seconds = Field(
        60.0, alias="backoff_max", description=(
        "Longest wait before a restart. The wait starts at 0.5 s, doubles after each exit, and "
        "starts over once `serve` stayed healthy for 30 s."))
    monitor_crash_loop_restarts: Positive = Field(
        5, alias="crash_loop_restarts", description=(
        "Exits within `crash_loop_window` that count as a crash loop."))
    monitor_crash_loop_window: Seconds = Field(
        120.0, alias="crash_loop_window", description=(
        "Seconds; see `crash_loop_restarts`."))
    monitor_crash_loop_pause: Seconds = Field(
        300.0, alias="crash_loop_pause", description=(
        "After a crash loop the monitor logs one ERROR line (how often, last exit, latest report) "
        "and waits this long before trying again."))


class UploadSection(_Section):
    """``[upload]``: Uploads of documents to other servers."""

    upload_allowed_targets: UploadTargets = Field(
        default_factory=dict, alias="allowed_targets", description=(
        "Extra upload targets per web origin, for `POST /v1/documents/{id}/upload` by paired "
        "sites (a page may always upload to its own origin): entries `ORIGIN -> TARGET`, "
        "separated by commas or new lines, e.g. `https://app.example.com -> "
        "https://files.example.com/incoming/`. `TARGET` is an exact origin or a URL prefix ending "
        "on a path boundary. API keys (the CLI) and Scanlet's own pages may upload to any target "
        "the address rules accept."),
        json_schema_extra={
            "example": "https://app.example.com -> https://files.example.com/incoming/"})
    upload_allow_private: Bool = Field(
        False, alias="allow_private", description=(
        "Accept upload targets on private, ULA and CGNAT addresses (intranet servers). Loopback, "
        "link-local, cloud metadata and other special addresses stay refused."))
    upload_dev_targets: DevTargets = Field(
        (), alias="dev_targets", description=(
        "Loopback development targets, separated by commas, e.g. `http://127.0.0.1:8080`: the "
        "only loopback targets accepted, and the only ones that may use plain `http`/`ftp` "
        "(exactly that port)."))
    upload_retries: Count = Field(
        3, alias="retries", description=(
        "Attempts after the first when an upload gets no connection or a 5xx answer (waits 0.5 s, "
        "doubling, at most 30 s)."))
    upload_timeout: Seconds = Field(
        60.0, alias="timeout", description=(
        "Seconds an upload connection may wait for the target (connect, each write and read)."))
    upload_max_response_kb: Count = Field(
        64, alias="max_response_kb", description=(
        "Largest part of the target's answer body kept in the upload task's result (`truncated` "
        "tells when it was longer)."),
        json_schema_extra={"form": "kilobytes, an integer >= 0"})


class CompatSection(_Section):
    """``[compat]``: The compatibility API (docs/compat.md)."""

    compat_twain_types: Bool = Field(
        False, alias="twain_types", description=(
        "Compatibility API (docs/compat.md): also offer Scanlet's scanners to a `GET "
        "/api/device/scanners` or `/DWTAPI/Scanners` request whose `type` mask asks for TWAIN "
        "(16) or TWAIN x64 (64) devices but not SANE (256), reported with that TWAIN bit, so the "
        "reference's client examples (`type=80`) find them unchanged. `false`: such a request "
        "lists no scanner, as the reference on a computer without TWAIN drivers."))


class ScanletConfig(BaseModel):
    """One INI file (``scanlet.ini`` or ``user.ini``): its sections, by name; unknown sections
    refused. Field order is the order of the docs and of a new ``scanlet.ini``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    server: ServerSection = Field(default_factory=ServerSection)
    tls: TlsSection = Field(default_factory=TlsSection)
    security: SecuritySection = Field(default_factory=SecuritySection)
    limits: LimitsSection = Field(default_factory=LimitsSection)
    ocr: OcrSection = Field(default_factory=OcrSection)
    devices: DevicesSection = Field(default_factory=DevicesSection)
    buffer: BufferSection = Field(default_factory=BufferSection)
    log: LogSection = Field(default_factory=LogSection)
    dump: DumpSection = Field(default_factory=DumpSection)
    monitor: MonitorSection = Field(default_factory=MonitorSection)
    upload: UploadSection = Field(default_factory=UploadSection)
    compat: CompatSection = Field(default_factory=CompatSection)


def sections() -> dict[str, type[BaseModel]]:
    """Section name -> its model, in the order of the docs."""
    found: dict[str, type[BaseModel]] = {}
    for name, field in ScanletConfig.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        found[name] = model
    return found
