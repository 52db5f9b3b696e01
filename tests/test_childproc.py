"""The worker-process kit (scanlet.childproc) with real processes: the handshake and JSON-lines
events, a C-level print that cannot corrupt the protocol, the log relay, running a command
(exit status, missing program, time bound) and a command's death with its parent."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from scanlet.childproc import (
    PACKAGE_ROOT,
    LineReader,
    child_environment,
    module_command,
    relay_stream,
    relog_file,
    run_command,
    send_hello,
    spawn,
)
from scanlet.errors import CertificateError, ServiceError

#: A guard against a hang only (never a speed assertion).
GUARD = 60.0

CHILD = textwrap.dedent("""
    import logging, os, sys
    from scanlet.childproc import claim_stdout, dumps_line, read_hello, setup_child_logging

    setup_child_logging("INFO")
    out = claim_stdout()
    hello = read_hello(sys.stdin.buffer)
    os.write(1, b"a C library printing to stdout\\n")  # fd 1 is stderr now
    logging.getLogger("scanlet.kid").warning("hello had %d key(s)", len(hello or {}))
    out.write(dumps_line({"ev": "ready", "echo": hello}))
    for line in sys.stdin.buffer:
        out.write(dumps_line({"ev": "got", "n": int(line)}))
    out.write(dumps_line({"ev": "done"}))
""")


def close(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def test_handshake_events_and_log_relay(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="scanlet.test.kid")
    process = spawn([sys.executable, "-c", CHILD], stderr=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    assert process.stderr is not None
    relay = relay_stream(process.stderr, logging.getLogger("scanlet.test.kid"), prefix="[kid] ")
    events = LineReader(process.stdout, name="kid-events").events
    try:
        send_hello(process.stdin, {"password": "s3cret"})
        assert events.get(timeout=GUARD) == {"ev": "ready", "echo": {"password": "s3cret"}}
        for n in (1, 2):
            process.stdin.write(f"{n}\n".encode())
        process.stdin.close()
        got = [events.get(timeout=GUARD) for _ in range(4)]
        assert got == [{"ev": "got", "n": 1}, {"ev": "got", "n": 2}, {"ev": "done"}, None]
        assert process.wait(timeout=GUARD) == 0
        relay.join(GUARD)
    finally:
        close(process)
    records = [(r.levelno, r.getMessage()) for r in caplog.records
               if r.name == "scanlet.test.kid"]
    assert (logging.WARNING, "[kid] scanlet.kid: hello had 1 key(s)") in records
    assert (logging.WARNING, "[kid] a C library printing to stdout") in records
    assert not any("s3cret" in " ".join(p.cmdline()) for p in psutil.process_iter(["cmdline"])
                   if p.info["cmdline"])  # the secret went on stdin only


def test_garbage_on_the_protocol_stream_is_reported_not_raised() -> None:
    process = spawn([sys.executable, "-c", "print('not json'); print('[1]')"])
    assert process.stdout is not None
    events = LineReader(process.stdout, name="garbage").events
    try:
        assert events.get(timeout=GUARD) == {"ev": "garbage", "line": "not json\n"}
        assert events.get(timeout=GUARD)["ev"] == "garbage"
        assert events.get(timeout=GUARD) is None
    finally:
        close(process)


def test_relog_file_keeps_levels(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="scanlet.test.file")
    log_file = tmp_path / "worker.log"
    log_file.write_text('{"level": "ERROR", "logger": "scanlet.x", "msg": "broke"}\n'
                        '{"level": "DEBUG", "logger": "scanlet.y", "msg": "detail"}\n'
                        "Fatal Python error: Segmentation fault\n\n")
    relog_file(log_file, logging.getLogger("scanlet.test.file"))
    assert [(r.levelno, r.getMessage()) for r in caplog.records
            if r.name == "scanlet.test.file"] == [
        (logging.ERROR, "scanlet.x: broke"), (logging.DEBUG, "scanlet.y: detail"),
        (logging.WARNING, "Fatal Python error: Segmentation fault")]


def test_workers_run_this_very_package() -> None:
    assert module_command("scanlet.x", "--a", "1") == [sys.executable, "-m", "scanlet.x",
                                                       "--a", "1"]
    env = child_environment(extra={"A": "1"}, defaults={"HOME": "/nowhere"})
    assert env["PYTHONPATH"].split(os.pathsep)[0] == PACKAGE_ROOT
    assert (Path(PACKAGE_ROOT) / "scanlet" / "childproc" / "__init__.py").is_file()
    assert env["A"] == "1" and env["HOME"] == os.environ.get("HOME", "/nowhere")


def test_run_command_results_and_errors() -> None:
    done = run_command([sys.executable, "-c", "import sys; print('out'); "
                        "print('last words', file=sys.stderr); sys.exit(3)"])
    assert not done.ok and done.returncode == 3 and done.stdout == "out\n"
    assert done.describe().endswith("exited 3: last words")
    assert run_command(["true"]).ok
    with pytest.raises(ServiceError) as missing:
        run_command(["scanlet-no-such-program"], error=ServiceError)
    assert missing.value.detail["command"] == "scanlet-no-such-program"
    with pytest.raises(CertificateError):
        run_command(["sleep", "30"], timeout=0.2, error=CertificateError)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_a_command_dies_with_its_parent() -> None:
    parent = subprocess.Popen([sys.executable, "-c",
                               "from scanlet.childproc import run_command; "
                               "run_command(['sleep', '600'], timeout=900)"],
                              env=child_environment())
    try:
        deadline = time.monotonic() + GUARD
        children: list[psutil.Process] = []
        while not children:
            assert time.monotonic() < deadline, "the command never started"
            children = [c for c in psutil.Process(parent.pid).children() if c.name() == "sleep"]
            time.sleep(0.05)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=GUARD)
        gone, _alive = psutil.wait_procs(children, timeout=GUARD)
        assert len(gone) == 1
    finally:
        parent.kill()
        parent.wait()
