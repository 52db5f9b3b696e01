"""The worker-process kit (scanlet.childproc) with real processes: the handshake and JSON-lines
events, a C-level print that cannot corrupt the protocol, the log relay (threads and asyncio,
with log level changes and the stderr tail kept for crash reports), running a command (exit
status, missing program, time bound) and a command's death with its parent."""

from __future__ import annotations

import asyncio
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
    AsyncLineReader,
    LineReader,
    StderrTail,
    child_environment,
    dumps_line,
    module_command,
    relay_stream,
    relay_stream_async,
    relog_file,
    run_command,
    send_hello,
    spawn,
    spawn_async,
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


ASYNC_CHILD = textwrap.dedent("""
    import logging, os, sys
    from scanlet.childproc import (LineWriter, claim_stdout, iter_lines, read_hello,
                                   set_child_log_level, setup_child_logging)

    setup_child_logging("INFO")
    out = LineWriter(claim_stdout(buffering=1 << 16))  # buffered: send() must flush
    out.send({"ev": "ready", "echo": read_hello(sys.stdin.buffer)})
    for message in iter_lines(sys.stdin.buffer):
        if message.get("op") == "level":
            out.send({"ev": "level", "ok": set_child_log_level(message["level"])})
        else:
            logging.getLogger("scanlet.kid").debug("debug after %s", message.get("ev"))
            out.send({"ev": "echo", "got": message})
    os.write(1, b"Fatal Python error: pretend\\n")  # fd 1 is stderr: no log record
""")


def test_asyncio_side_levels_and_stderr_tail(caplog: pytest.LogCaptureFixture) -> None:
    """The asyncio service's side (the scan worker's bridge): spawn_async, AsyncLineReader
    (garbage is an event), relay_stream_async with text that is no record at INFO, a
    StderrTail, and a worker that changes its log level on request."""
    caplog.set_level(logging.DEBUG, logger="scanlet.test.akid")
    logger = logging.getLogger("scanlet.test.akid")
    tail = StderrTail(output=10, faults=10)

    async def exchange(reader: AsyncLineReader, stdin: asyncio.StreamWriter,
                       line: bytes) -> dict[str, object] | None:
        stdin.write(line)
        await stdin.drain()
        return await asyncio.wait_for(reader.events.get(), GUARD)

    async def body() -> list[dict[str, object] | None]:
        process = await spawn_async([sys.executable, "-c", ASYNC_CHILD],
                                    stderr=subprocess.PIPE, new_session=True)
        assert process.stdin is not None and process.stdout is not None
        assert process.stderr is not None
        reader = AsyncLineReader(process.stdout, name="akid-events", logger=logger)
        relay = relay_stream_async(process.stderr, logger, prefix="[akid] ",
                                   other_level=logging.INFO, tail=tail)
        got = [await exchange(reader, process.stdin, dumps_line({"key": "k"}))]
        for line in (b"no json\n", dumps_line({"op": "level", "level": "LOUD"}),
                     dumps_line({"op": "level", "level": "DEBUG"}), dumps_line({"ev": "x"})):
            got.append(await exchange(reader, process.stdin, line))
        process.stdin.close()
        got.append(await asyncio.wait_for(reader.events.get(), GUARD))
        assert await asyncio.wait_for(process.wait(), GUARD) == 0
        await asyncio.wait_for(relay, GUARD)
        return got

    got = asyncio.run(body())
    assert got == [{"ev": "ready", "echo": {"key": "k"}},
                   {"ev": "echo", "got": {"ev": "garbage", "line": "no json\n"}},
                   {"ev": "level", "ok": False}, {"ev": "level", "ok": True},
                   {"ev": "echo", "got": {"ev": "x"}}, None]
    records = [(r.levelno, r.getMessage()) for r in caplog.records
               if r.name == "scanlet.test.akid"]
    assert (logging.DEBUG, "[akid] scanlet.kid: debug after x") in records
    assert not any("debug after garbage" in m for _, m in records)  # still at INFO then
    assert (logging.INFO, "[akid] Fatal Python error: pretend") in records
    assert list(tail.faults) == ["Fatal Python error: pretend"]
    assert "DEBUG scanlet.kid: debug after x" in tail.output
    assert tail.output[-1] == "Fatal Python error: pretend"


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
