"""Fault injection with real processes: killed, hung, idle and orphaned scan workers."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from scanlet.devices.bridge import WorkerClient, WorkerConfig
from scanlet.errors import DriverCrashed, DriverError, DriverTimeout
from scanlet.models import ScanSettings
from tests.devices.conftest import SLOW_FEEDER, Env, collect, process_gone

pytestmark = pytest.mark.timeout(60)

ONE_PAGE = {"device": "sane:test:0", "resolution": 75, "paper_size": "A5"}


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_gone(pid):
            return True
        time.sleep(0.05)
    return False


def test_killed_worker_is_driver_crashed_and_next_scan_gets_a_new_worker(env: Env) -> None:
    async def body() -> None:
        async with env.manager() as manager:
            session = manager.scan(ScanSettings.model_validate(SLOW_FEEDER))
            pages = []
            with pytest.raises(DriverCrashed) as info:
                async for page in session:
                    pages.append(page)
                    if len(pages) == 1:
                        os.kill(manager.worker_pids()["sane:test:0"], signal.SIGKILL)
            killed = info.value.detail["pid"]
            assert info.value.detail["signal"] == "SIGKILL"
            assert info.value.detail["pages"] == len(pages) >= 1
            assert env.image(pages[0]).size == (620, 876)  # pages before the crash are kept
            assert manager.worker_pids() == {}

            again, error = await collect(manager, ONE_PAGE)
            assert error is None and len(again) == 1
            assert manager.worker_pids()["sane:test:0"] != killed

    env.run(body())


def test_hung_worker_times_out_and_is_replaced(env: Env) -> None:
    async def body() -> None:
        async with env.manager(progress_timeout=1.0) as manager:
            session = manager.scan(ScanSettings.model_validate(SLOW_FEEDER))
            started = time.monotonic()
            with pytest.raises(DriverTimeout) as info:
                async for _page in session:
                    os.kill(manager.worker_pids()["sane:test:0"], signal.SIGSTOP)
            assert time.monotonic() - started < 15
            stopped = info.value.detail["pid"]
            assert info.value.detail["timeout"] == 1.0
            assert _wait_gone(stopped)  # killed, not left stopped

            again, error = await collect(manager, ONE_PAGE)
            assert error is None and len(again) == 1
            assert manager.worker_pids()["sane:test:0"] != stopped

    env.run(body())


def test_idle_worker_is_stopped(env: Env) -> None:
    async def body() -> None:
        async with env.manager(idle_timeout=0.5) as manager:
            last_use = time.monotonic()
            await manager.capabilities("sane:test:0")
            pid = manager.worker_pids()["sane:test:0"]  # no await since: the timer waits
            deadline = time.monotonic() + 30  # a guard only
            while manager.worker_pids():
                assert time.monotonic() < deadline, "the idle worker was never stopped"
                await asyncio.sleep(0.05)
            # Never sooner than the idle timeout after its last use (a busy machine can only
            # make this later; the timer fires at most a clock tick early).
            assert time.monotonic() - last_use >= 0.5 - 0.01
            while not process_gone(pid):
                assert time.monotonic() < deadline, "the idle worker's process stayed"
                await asyncio.sleep(0.05)
            pages, error = await collect(manager, ONE_PAGE)  # starts a fresh one
            assert error is None and len(pages) == 1

    env.run(body())


def test_worker_dies_with_its_parent(env: Env, tmp_path: Path) -> None:
    """The service is killed with SIGKILL mid-scan: its worker must not stay behind."""
    script = textwrap.dedent(f"""
        import asyncio, sys
        from pathlib import Path
        from scanlet.devices.manager import DeviceManager, DeviceOptions
        from scanlet.models import ScanSettings

        async def main():
            manager = DeviceManager(DeviceOptions(
                sane_config_dir=Path({str(env.options.sane_config_dir)!r}),
                incoming_dir=Path({str(env.options.incoming_dir)!r}),
                cache_key=bytes(32), fsync=False))
            session = manager.scan(ScanSettings.model_validate({SLOW_FEEDER!r}))
            async for _ in session:
                print(manager.worker_pids()["sane:test:0"], flush=True)
                await asyncio.sleep(60)

        asyncio.run(main())
    """)
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                          text=True) as parent:
        try:
            assert parent.stdout is not None
            worker = int(parent.stdout.readline())
            assert not process_gone(worker)
            parent.kill()
            parent.wait(10)
            assert _wait_gone(worker)
        finally:
            if parent.poll() is None:
                parent.kill()


def test_worker_handshake_and_exit_on_stdin_close(env: Env) -> None:
    """The raw protocol: hello -> ready; a bad hello -> error; EOF on stdin -> exit 0."""
    env_vars = {**os.environ, "SANE_CONFIG_DIR": str(env.options.sane_config_dir)}
    command = [sys.executable, "-m", "scanlet.devices.worker", "--parent-pid", str(os.getpid())]
    hello = {"op": "hello", "protocol": 1, "fsync": False,
             "key": base64.b64encode(env.options.cache_key).decode(),
             "incoming_dir": str(env.options.incoming_dir)}
    worker = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env_vars)
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(json.dumps(hello).encode() + b"\n")
    worker.stdin.write(b'{"op": "list", "id": 7}\n')
    worker.stdin.flush()
    ready = json.loads(worker.stdout.readline())
    assert ready["ev"] == "ready" and ready["pid"] == worker.pid and ready["driver"] == "sane"
    listed = json.loads(worker.stdout.readline())
    assert listed["ev"] == "devices" and listed["id"] == 7
    assert "sane:test:0" in {d["id"] for d in listed["devices"]}
    worker.stdin.close()
    assert worker.wait(10) == 0
    assert json.loads(worker.stdout.read()) == {"ev": "bye"}
    worker.stdout.close()
    assert worker.stderr is not None
    with worker.stderr:
        records = [json.loads(line) for line in worker.stderr.read().splitlines()]
    assert any("SANE" in r["msg"] for r in records)  # logs are JSON records on stderr

    bad = subprocess.run(command, input=json.dumps({**hello, "incoming_dir": "/nonexistent"})
                         .encode() + b"\n", capture_output=True, env=env_vars, timeout=30)
    assert bad.returncode == 1
    event = json.loads(bad.stdout.splitlines()[0])
    assert event["ev"] == "error" and event["error"]["code"] == "driver_error"


def test_start_failure_is_a_typed_error(env: Env, tmp_path: Path) -> None:
    async def body() -> None:
        client = WorkerClient(WorkerConfig(incoming_dir=tmp_path / "missing",
                                           cache_key=env.options.cache_key),
                              name="broken", start_timeout=20)
        with pytest.raises(DriverError) as info:
            await client.start()
        assert "missing" in info.value.message
        assert not client.alive

        async with env.manager(incoming_dir=tmp_path / "missing") as manager:
            with pytest.raises(DriverError):
                await manager.list_devices()

    env.run(body())
