"""The service log set-up: rotation, formats, the run-time level and redaction (in-process)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanlet.api.access_log import request_target
from scanlet.core import logs
from scanlet.errors import InvalidSetting

log = logging.getLogger("scanlet.test_logs")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure() changes the process's root logger: put it back after each test."""
    root, ours = logging.getLogger(), logging.getLogger("scanlet")
    handlers, levels = root.handlers[:], (root.level, ours.level)
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET_LOGGERS}
    state = (logs._format, logs._file)
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(levels[0])
    ours.setLevel(levels[1])
    logs._format, logs._file = state
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)


def file_only() -> None:
    """Keep only the file handler (the tests write megabytes)."""
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if isinstance(h, logs.RotatingFile)]


def test_files_rotate_at_the_size_and_keep_the_count(tmp_path: Path) -> None:
    path = logs.configure(tmp_path, "INFO", max_mb=1, backups=2)
    assert path == tmp_path / "scanlet.log"
    file_only()
    for i in range(4000):  # ~4 MB: rotates three times, the oldest file is dropped
        log.info("record %05d %s", i, "x" * 1000)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["scanlet.log", "scanlet.log.1", "scanlet.log.2"]
    for name in names:
        assert (tmp_path / name).stat().st_size <= 2**20
    assert "record 03999" in path.read_text()
    assert "record 00000" not in "".join((tmp_path / n).read_text() for n in names)
    newest_old = (tmp_path / "scanlet.log.1").read_text().splitlines()
    oldest = (tmp_path / "scanlet.log.2").read_text().splitlines()
    assert oldest[-1] < newest_old[0]  # .1 is newer than .2


def test_no_backups_keeps_one_bounded_file(tmp_path: Path) -> None:
    path = logs.configure(tmp_path, "INFO", max_mb=1, backups=0)
    file_only()
    for i in range(1500):
        log.info("record %05d %s", i, "y" * 1000)
    assert [p.name for p in tmp_path.iterdir()] == ["scanlet.log"]
    assert path.stat().st_size <= 2**20
    assert "record 01499" in path.read_text()


def test_json_lines_carry_time_level_logger_message_and_extras(tmp_path: Path) -> None:
    path = logs.configure(tmp_path, "INFO", fmt="json")
    log.info("GET %s", "/v1/health", extra={"method": "GET", "path": "/v1/health",
                                             "status": 200, "duration_ms": 1.5,
                                             "client": "key:abc"})
    log.warning("two\nlines \"quoted\" \x1b[31m")
    try:
        raise ValueError("broken")
    except ValueError:
        log.exception("it failed")
    log.debug("not shown at INFO")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 3
    first = lines[0]
    assert {k: first[k] for k in ("level", "logger", "message", "method", "path", "status",
                                  "duration_ms", "client")} == {
        "level": "INFO", "logger": "scanlet.test_logs", "message": "GET /v1/health",
        "method": "GET", "path": "/v1/health", "status": 200, "duration_ms": 1.5,
        "client": "key:abc"}
    when = dt.datetime.fromisoformat(first["time"])
    assert first["time"].endswith("Z") and when.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - when).total_seconds()) < 60
    assert lines[1]["message"] == "two\nlines \"quoted\" \x1b[31m"
    assert lines[2]["level"] == "ERROR" and "ValueError: broken" in lines[2]["exc_info"]
    assert "Traceback" in lines[2]["exc_info"]


def test_text_lines_cannot_be_forged(tmp_path: Path) -> None:
    path = logs.configure(tmp_path, "INFO")
    log.info("path %s", "/x\n2024-01-01 00:00:00,000 ERROR scanlet: forged\r\x1b[2J")
    text = path.read_text()
    lines = text.splitlines()
    assert len(lines) == 2 and lines[1].startswith("    ")
    assert "\x1b" not in text and "\r" not in text and "\\x1b[2J" in text


def test_levels_change_at_run_time(tmp_path: Path) -> None:
    path = logs.configure(tmp_path, "INFO")
    assert logs.current() == logs.LogState("INFO", "text", path)
    log.debug("hidden debug")
    assert logs.set_level("debug") == "DEBUG"
    assert logging.getLogger("scanlet").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger().level == logging.INFO  # other libraries stay at INFO
    log.debug("shown debug")
    logging.getLogger("somelib").debug("library debug")
    logs.set_level("WARNING")
    log.info("hidden info")
    log.warning("shown warning")
    text = path.read_text()
    assert "shown debug" in text and "shown warning" in text
    assert "hidden" not in text and "library debug" not in text
    with pytest.raises(InvalidSetting) as caught:
        logs.set_level("LOUD")
    assert caught.value.detail["field"] == "level"
    assert logs.current().level == "WARNING"


def test_secrets_and_payloads_never_reach_the_file(tmp_path: Path) -> None:
    path = logs.configure(tmp_path, "DEBUG", fmt="json")
    key = bytes(range(32))
    logs.add_secret(key)
    token = "slt_" + "T" * 43
    api_key = "slk_" + "K" * 43
    secrets = [token, api_key, "pollsecretvalue123", "nonce-value-456", "pdfpw-789",
               "productkey-000", base64.b64encode(key).decode(), key.hex(),
               base64.urlsafe_b64encode(key).decode().rstrip("=")]
    log.info("headers %s", [(b"authorization", f"Bearer {api_key}".encode()),
                            (b"dwt-product-key", b"productkey-000"),
                            (b"x-pdf-password", b"pdfpw-789")])
    log.info("body %s", {"secret": "pollsecretvalue123", "nonce": "nonce-value-456",
                         "code": "123 456"})
    log.info("ws protocols %s", ["scanlet", f"scanlet.bearer.{token}"])
    log.info("hello %s", json.dumps({"op": "hello", "key": base64.b64encode(key).decode()}))
    log.info("raw key %s / %s", key.hex(), base64.urlsafe_b64encode(key).decode())
    log.info("extra", extra={"client": f"Bearer {token}", "blob": b"\xff\xd8\xff" * 100})
    log.info("page %r and %s and %s", b"\xff\xd8\xff\xe0" + bytes(2000), bytearray(500),
             memoryview(bytes(100)))
    log.info("short bytes stay %r", b"abc")
    try:
        raise RuntimeError(f"rejected {token}")
    except RuntimeError:
        log.exception("failure with %s", api_key)
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    for secret in secrets:
        assert secret not in text, secret
    assert "123 456" not in text
    assert b"\xff\xd8\xff" not in raw and "\\xff\\xd8" not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert len(records) == 9
    assert records[0]["message"].count("***") == 3 and "authorization" in records[0]["message"]
    assert records[5]["client"] == "Bearer ***" and records[5]["blob"] == "<300 bytes>"
    assert records[6]["message"] == "page '<2004 bytes>' and <500 bytes> and <100 bytes>"
    assert records[7]["message"] == "short bytes stay b'abc'"
    assert records[8]["level"] == "ERROR" and "slt_***" in records[8]["exc_info"]


def test_urls_cookies_and_library_loggers_are_masked_or_quiet(tmp_path: Path) -> None:
    """Issue 14, item 5: httpx logged presigned upload URLs whole at INFO."""
    path = logs.configure(tmp_path, "DEBUG")
    signature = "a1b2c3d4e5f6signature"
    url = (f"https://bucket.example/scan.pdf?X-Amz-Credential=AKIA%2Fs3&X-Amz-Signature="
           f"{signature}&{signature}x")
    logging.getLogger("httpx").info('HTTP Request: PUT %s "HTTP/1.1 200 OK"', url)
    logging.getLogger("httpcore.http11").debug("send_request_headers.started %s", url)
    logging.getLogger("PIL.PngImagePlugin").debug("STREAM b'IHDR' %s", url)
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    logging.getLogger("httpx").warning("retrying %s", url)
    log.info("target ftp://scanner:%s@host/in and %s", signature + "p", url)
    log.info("headers %s", [(b"cookie", f"session={signature}c; theme=dark".encode()),
                            (b"dwt-doc-password", f"{signature}d".encode()),
                            (b"x-dics-source-password", f"{signature}s".encode())])
    text = path.read_text()
    assert signature not in text
    lines = text.splitlines()
    assert len(lines) == 3  # httpx's INFO, httpcore's and PIL's DEBUG lines are gone
    assert lines[0].endswith(
        "WARNING httpx: retrying https://bucket.example/scan.pdf?X-Amz-Credential=***"
        "&X-Amz-Signature=***&***")
    assert "ftp://scanner:***@host/in" in lines[1]
    assert "(b'cookie', b'***')" in lines[2] and "(b'dwt-doc-password', b'***')" in lines[2]


def test_request_targets_hide_secret_query_values() -> None:
    scope = {"type": "http", "path": "/v1/x\n", "raw_path": b"/v1/x%0A",
             "query_string": b"token=slt_abc&format=pdf&key=slk_z&code=123%20456"}
    assert request_target(scope) == "/v1/x%0A?token=***&format=pdf&key=***&code=***"
    # values of any parameter Scanlet does not know are masked too, and bare parts whole
    scope["query_string"] = b"X-Amz-Signature=abc123&quality=80&abc456"
    assert request_target(scope) == "/v1/x%0A?X-Amz-Signature=***&quality=80&***="
    assert request_target({"type": "http", "path": "/v1/\x1b", "query_string": b""}) == \
        "/v1/\\x1b"
