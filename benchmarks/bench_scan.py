"""Scan through the service vs scanimage on the same SANE test backend, in one run.

1. 10 feeder pages, A4, 300 dpi, colour (`Color pattern`): create job -> all pages stored ->
   fetch each page as JPEG, against `scanimage --batch --format=jpeg` (target ratio <= 1.2).
2. The same 10 pages to one PDF through the service (job + export) against
   `scanimage --batch --format=jpeg` + `img2pdf` (target ratio <= 1.2).
3. Peak RSS (VmHWM) of a fresh service process during a 200-page A4 300 dpi colour job while
   a viewer fetches each page's thumbnail as it arrives (target <= 300 MB).

Run: .venv/bin/python benchmarks/bench_scan.py [--runs 5] [--rss-pages 200]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import service_process
from service_process import auth
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
# jpeg_quality 75 is scanimage's own default, so both sides encode the same JPEG.
JOB = {"device": "sane:test:0", "source": "feeder", "mode": "color", "resolution": 300,
       "paper_size": "A4", "pages": "all", "jpeg_quality": 75,
       "raw_options": {"test_picture": "Color pattern"}}
SCANIMAGE = ["scanimage", "-d", "test:0", "--source", "Automatic Document Feeder",
             "--mode", "Color", "--resolution", "300", "--test-picture", "Color pattern",
             "-x", "210", "-y", "297", "--format=jpeg"]


def start_service(home: Path, fsync: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    return service_process.start_service(
        home, "[devices]\ndemo_system_backends = false\n"
        f"[buffer]\nfsync = {str(fsync).lower()}\n")


def run_job(http: httpx.Client, url: str, body: dict[str, object]) -> dict[str, object]:
    job = http.post("/v1/jobs", json=body)
    job.raise_for_status()
    job_id = job.json()["id"]
    ws_url = "ws" + url.removeprefix("http") + f"/v1/jobs/{job_id}/events"
    final: dict[str, object] = {}
    with connect(ws_url, max_size=2**22,
                 additional_headers={"Authorization": http.headers["Authorization"]}) as ws:
        for message in ws:
            event = json.loads(message)
            if event["type"] == "job" and event["job"]["state"] not in ("pending", "running"):
                final = event["job"]
    if final.get("state") != "completed":
        raise SystemExit(f"job did not complete: {final}")
    return final


def rss_job(home: Path, pages: int) -> tuple[float, float, float]:
    """A fresh service scans ``pages`` flatbed pages; returns (VmHWM before, after, seconds)."""
    proc, url = start_service(home)
    try:
        with httpx.Client(base_url=url, timeout=300, headers=auth(home)) as http:
            before = vm_hwm_mb(proc.pid)
            start = time.perf_counter()
            job = http.post("/v1/jobs", json={**JOB, "source": "flatbed", "pages": pages})
            job.raise_for_status()
            ws_url = "ws" + url.removeprefix("http") + f"/v1/jobs/{job.json()['id']}/events"
            with connect(ws_url, max_size=2**22, additional_headers=auth(home)) as ws:
                for message in ws:
                    event = json.loads(message)
                    if event["type"] == "page":
                        thumb = http.get(f"/v1/pages/{event['page']['id']}/image",
                                         params={"width": 200, "height": 200})
                        thumb.raise_for_status()
                    elif (event["type"] == "job"
                          and event["job"]["state"] not in ("pending", "running")
                          and event["job"]["pages_stored"] != pages):
                        raise SystemExit(f"RSS job failed: {event['job']}")
            seconds = time.perf_counter() - start
            return before, vm_hwm_mb(proc.pid), seconds
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def service_jpeg(client: httpx.Client, url: str) -> None:
    job = run_job(client, url, JOB)
    pages = client.get(f"/v1/documents/{job['document_id']}/pages").json()
    assert len(pages) == 10, len(pages)
    # The page bytes are fetched with the standard library's HTTP client on one keep-alive
    # connection, as a browser would: httpx parses a 3 MB body in Python at ~9 ms a page,
    # which measures the client, not the service.
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        for page in pages:
            conn.request("GET", f"/v1/pages/{page['id']}/image?format=jpeg",
                         headers={"Authorization": client.headers["Authorization"]})
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200 and body[:2] == b"\xff\xd8", response.status
    finally:
        conn.close()


def service_pdf(http: httpx.Client, url: str, out: Path) -> None:
    job = run_job(http, url, JOB)
    pdf = http.get(f"/v1/documents/{job['document_id']}/export", params={"format": "pdf"})
    pdf.raise_for_status()
    out.write_bytes(pdf.content)


def scanimage_jpeg(env: dict[str, str], folder: Path) -> list[Path]:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    subprocess.run([*SCANIMAGE, f"--batch={folder}/p%03d.jpg"], env=env, check=True,
                   capture_output=True)
    pages = sorted(folder.glob("p*.jpg"))
    assert len(pages) == 10, len(pages)
    return pages


def scanimage_pdf(env: dict[str, str], folder: Path, out: Path) -> None:
    pages = scanimage_jpeg(env, folder)
    subprocess.run([str(Path(sys.executable).parent / "img2pdf"), *map(str, pages), "-o",
                    str(out)], check=True)


def timed_pair(baseline: Callable[[], object], ours: Callable[[], object],
               runs: int) -> tuple[list[float], list[float]]:
    """Alternate the two so that drift in the machine's load hits both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for fn, into in ((baseline, times[0]), (ours, times[1])):
            start = time.perf_counter()
            fn()
            into.append(time.perf_counter() - start)
    return times


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def describe(name: str, times: list[float]) -> str:
    return (f"{name:<34} min {min(times):.3f}  median {statistics.median(times):.3f}  "
            f"max {max(times):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rss-pages", type=int, default=200)
    parser.add_argument("--no-fsync", action="store_true",
                        help="run the service with [buffer] fsync = false")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        proc, url = start_service(tmp / "home", fsync=not args.no_fsync)
        env = {**os.environ, "SANE_CONFIG_DIR": str(tmp / "home" / "sane")}
        try:
            with httpx.Client(base_url=url, timeout=300, headers=auth(tmp / "home")) as http:
                run_job(http, url, {**JOB, "pages": 1, "resolution": 75})  # start the worker
                base_jpeg, ours_jpeg = timed_pair(
                    lambda: scanimage_jpeg(env, tmp / "si"), lambda: service_jpeg(http, url),
                    args.runs)
                base_pdf, ours_pdf = timed_pair(
                    lambda: scanimage_pdf(env, tmp / "si", tmp / "si.pdf"),
                    lambda: service_pdf(http, url, tmp / "ours.pdf"), args.runs)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        hwm_before, hwm, rss_seconds = rss_job(tmp / "rss-home", args.rss_pages)

    print(describe("scanimage --batch jpeg (10 p)", base_jpeg))
    print(describe("service job + fetch JPEGs (10 p)", ours_jpeg))
    print(f"ratio (median): {statistics.median(ours_jpeg) / statistics.median(base_jpeg):.2f}"
          "  (target <= 1.2)")
    print(describe("scanimage + img2pdf (10 p)", base_pdf))
    print(describe("service job + export PDF (10 p)", ours_pdf))
    print(f"ratio (median): {statistics.median(ours_pdf) / statistics.median(base_pdf):.2f}"
          "  (target <= 1.2)")
    print(f"service peak RSS (VmHWM) during a {args.rss_pages}-page A4 300 dpi colour job: "
          f"{hwm:.0f} MB (before the job: {hwm_before:.0f} MB; job took {rss_seconds:.1f} s)"
          "  (target <= 300 MB)")


if __name__ == "__main__":
    main()
