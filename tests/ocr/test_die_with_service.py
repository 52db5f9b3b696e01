"""Helper programs die with the process that started them, even when it is SIGKILLed (Linux
``PR_SET_PDEATHSIG`` through ``scanlet.childproc``): tesseract run by the OCR pool (in a plain
Python process and in a real ``scanlet serve``), tesseract OSD (orientation) and jpegtran.

Each test starts its own child process, waits until that child runs the helper, stops the
helper (SIGSTOP: it can then never finish its work, however fast the machine), SIGKILLs the
child by its pid and then waits for the helper's pid to disappear (:data:`GONE_WITHIN` is a
guard against a hang only; the children stay in pytest's process group, so the kernel's
SIGHUP to a newly orphaned group with stopped members never kills a helper instead of the
death signal). The inputs are slow as well: a tall page of dense text (about
10 s of tesseract), and for OSD and jpegtran a launcher that waits a minute before it execs
the real program.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from PIL import Image

from tests.conftest import Service, make_home, start_service
from tests.ocr.pages import dense_page, encode

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="PR_SET_PDEATHSIG is Linux only")

ROOT = Path(__file__).resolve().parents[2]
#: Seconds a (stopped) helper may survive the death of its parent: a guard against a hang;
#: a stopped helper that the parent's death did not kill would stay forever.
GONE_WITHIN = 60.0


@pytest.fixture(scope="module")
def tall_dense_png() -> bytes:
    """Two A4 pages of dense text stacked: ~10 s for one tesseract."""
    return encode(dense_page((2480, 7014)), "png")


def gone(proc: psutil.Process) -> bool:
    """The process has exited (a zombie waiting for init to reap it counts as exited)."""
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for_children(parent: subprocess.Popen[bytes] | int, count: int, *,
                      name: str | None = None, timeout: float = 60) -> list[psutil.Process]:
    """``count`` live children (optionally with this process name) of ``parent``."""
    pid = parent if isinstance(parent, int) else parent.pid
    me = psutil.Process(pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not isinstance(parent, int) and parent.poll() is not None:
            raise AssertionError(f"the child exited early with {parent.returncode}: "
                                 f"{(parent.stderr.read() if parent.stderr else b'').decode()}")
        found = []
        for child in me.children():
            try:
                if not gone(child) and (name is None or child.name() == name):
                    found.append(child)
            except psutil.NoSuchProcess:
                continue
        if len(found) >= count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{count} children named {name} never ran")


def kill_and_expect_gone(pid: int, helpers: list[psutil.Process]) -> None:
    """Stop every helper (so that none can end by finishing its work), SIGKILL ``pid`` and
    wait until every helper is gone (fails after GONE_WITHIN)."""
    assert helpers and all(not gone(h) for h in helpers)
    for helper in helpers:
        helper.suspend()
    deadline = time.monotonic() + GONE_WITHIN  # SIGSTOP is delivered asynchronously
    while not all(h.status() == psutil.STATUS_STOPPED for h in helpers):
        assert time.monotonic() < deadline, [h.status() for h in helpers]
        time.sleep(0.01)
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    while time.monotonic() - killed < GONE_WITHIN:
        if all(gone(h) for h in helpers):
            return
        time.sleep(0.02)
    alive = [h.pid for h in helpers if not gone(h)]
    raise AssertionError(f"helpers {alive} outlived their SIGKILLed parent {pid}")


@pytest.fixture
def leftovers() -> Iterator[list[psutil.Process]]:
    """Helpers a test started; any still alive after a failure are killed (by pid)."""
    started: list[psutil.Process] = []
    yield started
    for proc in started:
        if not gone(proc):
            proc.kill()


def python_child(code: str, *args: str, env: dict[str, str] | None = None
                 ) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)


def slow_launcher(path: Path, real: str) -> Path:
    """An executable that waits a minute, then becomes ``real`` (same process, via exec)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\nimport os, sys, time\ntime.sleep(60)\n"
                    f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n")
    path.chmod(0o755)
    return path


POOL_CHILD = """
import sys
from pathlib import Path
from scanlet.ocr import OcrPage, OcrPool

data = Path(sys.argv[1]).read_bytes()
with OcrPool(workers=2) as pool:
    pool.run([OcrPage(data, dpi=300)] * 4)
"""


def test_pool_tesseracts_die_with_their_process(tmp_path: Path, tall_dense_png: bytes,
                                                leftovers: list[psutil.Process]) -> None:
    page = tmp_path / "dense.png"
    page.write_bytes(tall_dense_png)
    child = python_child(POOL_CHILD, str(page))
    try:
        tesseracts = wait_for_children(child, 2, name="tesseract")
        leftovers.extend(tesseracts)
        kill_and_expect_gone(child.pid, tesseracts)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL


ORIENT_CHILD = """
import sys
from PIL import Image
from scanlet.imaging.orientation import detect_orientation
from scanlet.ocr.tesseract import configure

configure(sys.argv[1])
detect_orientation(Image.new("L", (400, 400), 255), 300, timeout=300)
"""


def test_orientation_tesseract_dies_with_its_process(tmp_path: Path,
                                                     leftovers: list[psutil.Process]) -> None:
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        pytest.skip("tesseract is not installed")
    launcher = slow_launcher(tmp_path / "bin" / "slow-tesseract", tesseract)
    child = python_child(ORIENT_CHILD, str(launcher))
    try:
        [helper] = wait_for_children(child, 1)
        leftovers.append(helper)
        assert Path(helper.cmdline()[1]) == launcher  # the configured [ocr] tesseract
        kill_and_expect_gone(child.pid, [helper])
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)
        if child.stderr:
            child.stderr.close()


JPEGTRAN_CHILD = """
import sys
from pathlib import Path
from scanlet.imaging.jpeg_lossless import ROTATE_180, transform_jpeg

transform_jpeg(Path(sys.argv[1]).read_bytes(), ROTATE_180, timeout=300)
"""


def test_jpegtran_dies_with_its_process(tmp_path: Path,
                                        leftovers: list[psutil.Process]) -> None:
    jpegtran = shutil.which("jpegtran")
    if jpegtran is None:
        pytest.skip("jpegtran is not installed")
    launcher = slow_launcher(tmp_path / "bin" / "jpegtran", jpegtran)
    jpeg = tmp_path / "page.jpg"
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(out, "JPEG")
    jpeg.write_bytes(out.getvalue())
    env = {**os.environ, "PATH": f"{launcher.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    child = python_child(JPEGTRAN_CHILD, str(jpeg), env=env)
    try:
        [helper] = wait_for_children(child, 1)
        leftovers.append(helper)
        kill_and_expect_gone(child.pid, [helper])
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)
        if child.stderr:
            child.stderr.close()


def test_ocr_task_tesseracts_die_with_a_killed_service(tmp_path: Path, tall_dense_png: bytes,
                                                       leftovers: list[psutil.Process]) -> None:
    """The real thing: ``scanlet serve`` runs an OCR task (tesseracts started from the pool's
    threads) and is SIGKILLed."""
    service: Service = start_service(make_home(tmp_path / "home"))
    try:
        with service.client() as http:
            doc = http.post("/v1/documents", json={"name": "ocr"}).json()["id"]
            for _ in range(3):
                http.post(f"/v1/documents/{doc}/import", content=tall_dense_png,
                          headers={"Content-Type": "image/png"}).raise_for_status()
            started = http.post(f"/v1/documents/{doc}/ocr", json={"lang": "eng",
                                                                   "output": "text"})
            assert started.status_code == 202, started.text
        tesseracts = wait_for_children(service.process.pid, 1, name="tesseract")
        leftovers.extend(tesseracts)
        kill_and_expect_gone(service.process.pid, tesseracts)
        service.process.wait(timeout=10)
        with pytest.raises(httpx.HTTPError):
            httpx.get(service.url + "/v1/health", timeout=2)
    finally:
        service.kill()
