"""Upload to a real nginx on loopback vs ``curl -T`` of the same file to the same URL (issue 6).

1. A 100-page PDF of about 50 MB (A4 150 dpi photo-like JPEG pages, imported into the service
   and exported by it) is PUT to nginx's WebDAV location (tests/upload/nginx_server.py), the
   same URL every time, alternating in one process:
   - baseline: ``curl -sS -T FILE URL`` (a fresh curl process per run, as a user would run it);
   - library: ``scanlet.upload.upload_file(FILE, target, method="PUT")`` in this process, with
     a progress callback as the service passes one (target: median <= 1.25 x curl);
   - library with ``cancel=threading.Event()`` as well, as the service calls it (a cancellable
     upload runs a watcher thread);
   - with ``--chunk-kib N``, also the library with its read/send chunk size patched to N KiB
     in this process (an experiment for tuning ``scanlet.upload.http.CHUNK_SIZE``);
   - service: ``POST /v1/documents/{id}/upload`` (PUT) of the 100-page document, from the
     request until the task's final event; this also exports the PDF into ``upload/`` first,
     which curl does not do, so it is reported separately, with the moment its first upload
     progress event arrived (about when sending starts) splitting export from sending.
2. Peak RSS (VmHWM) of a freshly started service process during the upload of a document of
   about 1 GB (A4 300 dpi noise-like JPEG pages, kept as they are by import and PDF export)
   through ``POST /v1/documents/{id}/upload`` to nginx (target <= 200 MB). The document is
   imported by another service process first, so the measured process does only the upload.

Disk: about 3.5 GB at the peak of part 2 (pages in the buffer, the staged export, nginx's
copy), all under ``--dir``, removed at the end.

Run: .venv/bin/python benchmarks/bench_upload.py [--runs 9] [--dir /var/tmp] [--rss-pages 100]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import img2pdf
import numpy as np
import pikepdf
from PIL import Image
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import service_process  # noqa: E402
from service_process import auth  # noqa: E402
from tests.upload.nginx_server import Nginx, running_nginx  # noqa: E402

from scanlet.security.policy import Principal  # noqa: E402
from scanlet.upload import UploadRules, check_target, upload_file  # noqa: E402
from scanlet.upload import http as http_upload  # noqa: E402

MB = 1_000_000
KEY = Principal("key", "bench", None, frozenset({"upload"}))
DAV_PATH = "/dav/bench/document.pdf"


# --- pages -------------------------------------------------------------------------------------


def photo_jpeg(rng: np.random.Generator, width: int, height: int, *, quality: int,
               noise: float, dpi: int) -> bytes:
    """A photo-like page: smooth colour blobs plus grain, which JPEG compresses badly (as a
    colour photo or a dirty scan does), so the file size comes from real entropy."""
    base = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(base).resize((width, height), Image.Resampling.BICUBIC))
    grain = rng.normal(0.0, noise, smooth.shape).astype(np.int16)
    pixels = np.clip(smooth.astype(np.int16) + grain, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality, dpi=(dpi, dpi))
    return out.getvalue()


def make_pdf(path: Path, pages: int, distinct: int, **page: Any) -> None:
    """``pages`` pages cycling through ``distinct`` generated JPEGs, written by img2pdf (which
    embeds each JPEG unchanged, as the service's importer and exporter keep it)."""
    rng = np.random.default_rng(6)
    jpegs = [photo_jpeg(rng, **page) for _ in range(distinct)]
    with open(path, "wb") as fh:
        img2pdf.convert([jpegs[i % distinct] for i in range(pages)], outputstream=fh)


# --- the service -------------------------------------------------------------------------------


def start_service(home: Path, nginx: Nginx) -> tuple[subprocess.Popen[bytes], str]:
    """``scanlet serve --demo`` on a free port, nginx allowed as a development upload target,
    no per-minute limit on upload tasks (the benchmark starts more than the default 30)."""
    return service_process.start_service(home, (
        "[devices]\ndemo_system_backends = false\n"
        "[limits]\nupload_tasks_per_minute = 0\nmax_import_mb = 200\n"
        f"[upload]\ndev_targets = {nginx.origin}\nretries = 0\ntimeout = 300\n"))


def stop_service(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_tail(home: Path, lines: int = 40) -> str:
    """The end of the service's log, for error messages."""
    logs = sorted((home / "log").glob("*.log"), key=lambda p: p.stat().st_mtime)
    return "\n".join(logs[-1].read_text(errors="replace").splitlines()[-lines:]) if logs else ""


def import_pdf(http: httpx.Client, home: Path, document: str, pdf: Path) -> None:
    with open(pdf, "rb") as fh:
        answer = http.post(f"/v1/documents/{document}/import", content=fh,
                           headers={"Content-Type": "application/pdf"})
    if answer.status_code != 201:
        raise SystemExit(f"import failed: {answer.status_code} {answer.text[:500]}\n"
                         f"{log_tail(home)}")


def service_upload(http: httpx.Client, url: str, document: str,
                   target_url: str) -> tuple[float, float | None]:
    """One upload task from the request to its final event: (seconds, seconds until the
    first upload progress event, i.e. about when the export was done and sending began)."""
    start = time.perf_counter()
    answer = http.post(f"/v1/documents/{document}/upload",
                       json={"url": target_url, "method": "PUT"})
    if answer.status_code != 202:
        raise SystemExit(f"upload refused: {answer.status_code} {answer.text[:500]}")
    ws_url = "ws" + url.removeprefix("http") + f"/v1/tasks/{answer.json()['id']}/events"
    first_progress: float | None = None
    final: dict[str, Any] = {}
    with connect(ws_url, open_timeout=10, max_size=2**22,
                 additional_headers={"Authorization": http.headers["Authorization"]}) as ws:
        for message in ws:
            event = json.loads(message)
            if event["type"] == "progress" and first_progress is None and event["done"]:
                first_progress = time.perf_counter() - start
            elif event["type"] == "task" and event["task"]["state"] != "running":
                final = event["task"]
                break
    seconds = time.perf_counter() - start
    if final.get("state") != "completed" or final["result"]["status"] not in (201, 204):
        raise SystemExit(f"upload task did not succeed: {final}")
    return seconds, first_progress


# --- the two clients ---------------------------------------------------------------------------


def curl_put(path: Path, url: str) -> None:
    done = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T",
                           str(path), url], capture_output=True, text=True, check=True)
    if done.stdout not in ("201", "204"):
        raise SystemExit(f"curl got {done.stdout}: {done.stderr}")


def library_put(path: Path, nginx: Nginx, cancellable: bool = False,
                chunk: int | None = None) -> None:
    sent = [0]

    def progress(done: int, _total: int) -> None:
        sent[0] = done

    target = check_target(nginx.url(DAV_PATH), requester=KEY,
                          rules=UploadRules(allow_loopback_targets=(nginx.origin,)))
    default_chunk = http_upload.CHUNK_SIZE
    if chunk is not None:
        http_upload.CHUNK_SIZE = chunk
    try:
        result = upload_file(path, target, method="PUT", content_type="application/pdf",
                             retries=0, timeout=120, progress=progress,
                             cancel=threading.Event() if cancellable else None)
    finally:
        http_upload.CHUNK_SIZE = default_chunk
    if result.status not in (201, 204) or sent[0] != path.stat().st_size:
        raise SystemExit(f"library upload failed: {result}")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def vm_kb(pid: int, field: str) -> float:
    """A ``/proc/PID/status`` memory line (``VmHWM``, ``VmRSS``) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def describe(name: str, times: list[float]) -> str:
    return (f"{name:<44} min {min(times):.3f}  median {statistics.median(times):.3f}  "
            f"max {max(times):.3f} s")


# --- the parts ---------------------------------------------------------------------------------


def speed(tmp: Path, nginx: Nginx, runs: int, chunk_kib: int | None) -> None:
    source = tmp / "source-100.pdf"
    make_pdf(source, pages=100, distinct=10, width=1240, height=1754, quality=75, noise=8,
             dpi=150)
    home = tmp / "home"
    proc, url = start_service(home, nginx)
    try:
        with httpx.Client(base_url=url, timeout=600, headers=auth(home)) as http:
            document = http.post("/v1/documents", json={"name": "bench"}).json()["id"]
            import_pdf(http, home, document, source)
            source.unlink()
            pdf = tmp / "document.pdf"
            with http.stream("GET", f"/v1/documents/{document}/export",
                             params={"format": "pdf"}) as answer, open(pdf, "wb") as fh:
                answer.raise_for_status()
                for chunk in answer.iter_bytes():
                    fh.write(chunk)
            with pikepdf.open(pdf) as check:
                pages = len(check.pages)
            print(f"document: {pages} pages, {pdf.stat().st_size / MB:.1f} MB "
                  f"(the service's PDF export)")
            target_url = nginx.url(DAV_PATH)
            stored = nginx.dav_file(DAV_PATH.removeprefix("/dav/"))

            times: dict[str, list[float]] = {"curl": [], "lib": [], "lib+cancel": [],
                                             "lib+chunk": []}
            svc_times: list[float] = []
            svc_send: list[float] = []
            # One untimed round first: page cache, nginx's worker, the service's imports.
            curl_put(pdf, target_url)
            library_put(pdf, nginx, cancellable=True)
            service_upload(http, url, document, target_url)
            for run in range(runs):
                sides: list[tuple[str, Callable[[], object]]] = [
                    ("curl", lambda: curl_put(pdf, target_url)),
                    ("lib", lambda: library_put(pdf, nginx)),
                    ("lib+cancel", lambda: library_put(pdf, nginx, cancellable=True))]
                if chunk_kib:
                    sides.append(("lib+chunk",
                                  lambda: library_put(pdf, nginx, chunk=chunk_kib * 1024)))
                if run % 2:
                    sides.reverse()  # alternate which side goes first
                for name, fn in sides:
                    seconds = timed(fn)
                    if stored.stat().st_size != pdf.stat().st_size:
                        raise SystemExit(f"{name}: nginx stored {stored.stat().st_size} bytes")
                    times[name].append(seconds)
                total, first = service_upload(http, url, document, target_url)
                svc_times.append(total)
                if first is not None:
                    svc_send.append(total - first)
            if stored.stat().st_size != pdf.stat().st_size:  # the service's own export
                raise SystemExit("the service's export differs in size from document.pdf")
    finally:
        stop_service(proc)
        shutil.rmtree(home, ignore_errors=True)

    base = statistics.median(times["curl"])
    print(describe("curl -T (baseline)", times["curl"]))
    print(describe("library upload_file PUT", times["lib"]))
    print(f"ratio library / curl (median): {statistics.median(times['lib']) / base:.2f}"
          "  (target <= 1.25)")
    print(describe("library upload_file PUT, cancellable", times["lib+cancel"]))
    print(f"ratio cancellable library / curl (median): "
          f"{statistics.median(times['lib+cancel']) / base:.2f}  (target <= 1.25)")
    if chunk_kib:
        print(describe(f"library, {chunk_kib} KiB chunks (experiment)", times["lib+chunk"]))
        print(f"ratio library with {chunk_kib} KiB chunks / curl (median): "
              f"{statistics.median(times['lib+chunk']) / base:.2f}")
    print(describe("service upload task (export + PUT)", svc_times))
    print(f"ratio service task / curl (median): {statistics.median(svc_times) / base:.2f}"
          "  (includes the export; no target)")
    if svc_send:
        print(describe("  of which after the first progress event", svc_send))
        print(f"  ratio sending part / curl (median): "
              f"{statistics.median(svc_send) / base:.2f}")


def rss(tmp: Path, nginx: Nginx, pages: int) -> None:
    source = tmp / "source-big.pdf"
    per_pdf = 10
    make_pdf(source, pages=per_pdf, distinct=per_pdf, width=2480, height=3508, quality=95,
             noise=80, dpi=300)
    home = tmp / "rss-home"
    proc, url = start_service(home, nginx)
    try:
        with httpx.Client(base_url=url, timeout=900, headers=auth(home)) as http:
            document = http.post("/v1/documents", json={"name": "big"}).json()["id"]
            for _ in range(-(-pages // per_pdf)):
                import_pdf(http, home, document, source)
            count = len(http.get(f"/v1/documents/{document}/pages").json())
    finally:
        stop_service(proc)
    source.unlink()

    proc, url = start_service(home, nginx)  # fresh: only the upload in this process
    peak_sampled = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            try:
                peak_sampled[0] = max(peak_sampled[0], vm_kb(proc.pid, "VmRSS"))
            except OSError:
                return

    try:
        with httpx.Client(base_url=url, timeout=900, headers=auth(home)) as http:
            before_hwm, before_rss = vm_kb(proc.pid, "VmHWM"), vm_kb(proc.pid, "VmRSS")
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            seconds, first = service_upload(http, url, document, nginx.url("/dav/big.pdf"))
            stop.set()
            sampler.join()
            after_hwm, after_rss = vm_kb(proc.pid, "VmHWM"), vm_kb(proc.pid, "VmRSS")
    finally:
        stop.set()
        stop_service(proc)
    stored = nginx.dav_file("big.pdf")
    size = stored.stat().st_size
    with pikepdf.open(stored) as check:
        stored_pages = len(check.pages)
    stored.unlink()
    shutil.rmtree(home, ignore_errors=True)
    if stored_pages != count:
        raise SystemExit(f"nginx stored {stored_pages} pages of {count}")
    sending = f", sending {seconds - first:.1f} s" if first is not None else ""
    print(f"service peak RSS (VmHWM) during the upload of a {count}-page {size / MB:.0f} MB PDF: "
          f"{after_hwm:.0f} MB (target <= 200 MB); before the upload: VmHWM {before_hwm:.0f} MB, "
          f"VmRSS {before_rss:.0f} MB; after: VmRSS {after_rss:.0f} MB; highest VmRSS sampled "
          f"{peak_sampled[0]:.0f} MB; task took {seconds:.1f} s{sending}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the temporary files go (about 3.5 GB at the peak)")
    parser.add_argument("--rss-pages", type=int, default=100,
                        help="pages of ~10 MB in the RSS document (0: skip that part)")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--chunk-kib", type=int, default=None,
                        help="also time the library with this chunk size (KiB), patched in")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is not installed: run scripts/install")

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-upload-") as scratch:
        tmp = Path(scratch)
        with running_nginx(tmp / "nginx") as nginx:
            if not args.skip_speed:
                speed(tmp, nginx, args.runs, args.chunk_kib)
            if args.rss_pages:
                rss(tmp, nginx, args.rss_pages)


if __name__ == "__main__":
    main()
