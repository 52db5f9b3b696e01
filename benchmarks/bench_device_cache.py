"""Device list cache (issue 15, item 2), with Debian's SANE backends enabled.

1. ``GET /v1/devices`` answered from the cache: median over ``--calls`` calls (target
   < 50 ms), against ``GET /v1/devices?refresh=true`` (a listing per call, as every call was
   before the cache).
2. The first job after start-up: from the service answering ``/v1/health`` (and from
   launching its process) to the job's first ``page`` event (target < 1 s). Measured on a
   fresh home (no listing kept: the job waits for the start-up listing) and on ``--starts``
   restarts of a home whose previous run kept its listing (the job's device is opened at
   once while the listing runs); and the demo scanner's first job on ``--starts`` fresh
   homes (it waits only for the demo driver's own part of the first listing).

The service runs ``serve --demo`` with ``[devices] demo_system_backends = true``: the test and
pnm backends plus every backend enabled in /etc/sane.d/dll.conf (network probing included).

Run: .venv/bin/python benchmarks/bench_device_cache.py [--calls 50] [--starts 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import service_process
from service_process import auth
from websockets.sync.client import connect

CONFIG = "[devices]\ndemo_system_backends = true\n"
JOB = {"device": "sane:test:0", "source": "flatbed", "mode": "gray", "resolution": 75,
       "pages": 1}
#: The demo scanner (in-process driver): its first job on a fresh home waits only for the demo
#: driver's own listing, not for SANE's backends.
DEMO_JOB = {**JOB, "device": "demo:scanner"}


def first_page(http: httpx.Client, url: str, job_body: dict[str, object] = JOB) -> float:
    """Seconds from creating a one-page job to its first ``page`` event."""
    start = time.perf_counter()
    job = http.post("/v1/jobs", json=job_body)
    job.raise_for_status()
    ws_url = "ws" + url.removeprefix("http") + f"/v1/jobs/{job.json()['id']}/events"
    with connect(ws_url, additional_headers={"Authorization": http.headers["Authorization"]}
                 ) as ws:
        for message in ws:
            event = json.loads(message)
            if event["type"] == "page":
                return time.perf_counter() - start
            if event["type"] == "job" and event["job"]["state"] not in ("pending", "running"):
                raise SystemExit(f"job ended without a page: {event['job']}")
    raise SystemExit("job events ended without a page")


def start(home: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    """The service, its URL and the seconds it took to answer."""
    launched = time.perf_counter()
    proc, url = service_process.start_service(home, CONFIG)
    return proc, url, time.perf_counter() - launched


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def timed_get(http: httpx.Client, **params: str) -> float:
    start = time.perf_counter()
    http.get("/v1/devices", params=params).raise_for_status()
    return time.perf_counter() - start


def describe(name: str, times: list[float]) -> str:
    return (f"{name:<44} min {min(times) * 1000:8.1f}  median "
            f"{statistics.median(times) * 1000:8.1f}  max {max(times) * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        proc, url, up = start(home)
        try:
            with httpx.Client(base_url=url, timeout=120, headers=auth(home)) as http:
                fresh = first_page(http, url)
                refreshed = [timed_get(http, refresh="true") for _ in range(3)]
                before = http.get("/v1/admin/status").json()["device_listings"]
                cached = [timed_get(http) for _ in range(args.calls)]
                listings = http.get("/v1/admin/status").json()["device_listings"] - before
        finally:
            stop(proc)
        kept_ready, kept_launch = [], []
        for _ in range(args.starts):
            proc, url, up_again = start(home)
            try:
                with httpx.Client(base_url=url, timeout=120, headers=auth(home)) as http:
                    seconds = first_page(http, url)
            finally:
                stop(proc)
            kept_ready.append(seconds)
            kept_launch.append(seconds + up_again)
        demo_fresh = []
        for attempt in range(args.starts):
            demo_home = Path(scratch) / f"demo-home-{attempt}"
            proc, url, _up = start(demo_home)
            try:
                with httpx.Client(base_url=url, timeout=120, headers=auth(demo_home)) as http:
                    demo_fresh.append(first_page(http, url, DEMO_JOB))
            finally:
                stop(proc)

    print(f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}")
    print(describe("GET /v1/devices?refresh=true (a listing)", refreshed))
    print(describe(f"GET /v1/devices from the cache ({args.calls} calls)", cached))
    print(f"  listings during the {args.calls} cached calls: {listings} (target 0, "
          "< 50 ms median)")
    print(f"first job, fresh home: ready -> first page {fresh * 1000:.0f} ms "
          f"(launch -> page {(fresh + up) * 1000:.0f} ms)")
    print(describe("first job after restart: ready -> first page", kept_ready))
    print(describe("  launch -> first page", kept_launch))
    print(describe("demo scanner, fresh home: ready -> page", demo_fresh))
    print("  (target: ready -> first page < 1000 ms)")


if __name__ == "__main__":
    main()
