"""Hostile imports against a real service: the process tree's peak RSS and /v1/health latency
(issue 14, item 3; targets: the tree under 1 GB, health within 1 s).

The mix (tests/importing/hostile.py), every file within the 200 Mpx pixel cap:

- a 0.57 MB PNG of 14000 x 14000 8-bit RGB (196 Mpx; 784 MB as Pillow holds it);
- a 16-bit grey PNG of 12000 x 12000 (288 MB decoded);
- an 8-bit RGBA PNG of 8000 x 8000 (64 Mpx, about 1 GB with the alpha compositing);
- a 1 MB PDF whose content stream inflates to 1 GiB;
- valid files, which are imported: an 8000 x 8000 grey PNG (64 MB decoded) and, three
  times, an 11500 x 11500 16-bit grey PNG (264.5 MB decoded, just within the 256 MiB cap).

Each round sends two of each bomb and the four valid files, ``--clients`` at a time, to a freshly
started ``scanlet serve --demo`` with default limits, while one thread samples the RSS of the
service and all its children every 50 ms and another times ``GET /v1/health`` every 200 ms.
Before the rounds, /v1/health is timed on the idle service for comparison.

Run: .venv/bin/python benchmarks/bench_hostile_imports.py [--rounds 3] [--clients 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import service_process  # noqa: E402
from service_process import auth  # noqa: E402
from tests.importing.hostile import (  # noqa: E402
    Hostile,
    hostile_files,
    near_the_cap,
    tree_rss,
    watching,
    within_caps,
)

MIB = 2**20


def _import(url: str, headers: dict[str, str], document: str, item: Hostile) -> str:
    with httpx.Client(base_url=url, timeout=600, headers=headers) as http:
        answer = http.post(f"/v1/documents/{document}/import", content=item.data,
                           headers={"Content-Type": item.content_type})
    code = answer.json().get("code", "") if answer.status_code >= 400 else "created"
    return f"{item.name}: {answer.status_code} {code}"


def _idle_health(url: str, count: int = 20) -> list[float]:
    times = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(count):
            started = time.monotonic()
            http.get("/v1/health").raise_for_status()
            times.append(time.monotonic() - started)
            time.sleep(0.05)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=6, help="imports sent at once")
    args = parser.parse_args()

    print("making the files...", flush=True)
    bombs = hostile_files()
    mix = [near_the_cap(), *bombs, within_caps(), near_the_cap(), *bombs, near_the_cap()]
    for item in [*bombs, within_caps(), near_the_cap()]:
        print(f"  {item.name}: {len(item.data) / MIB:.2f} MiB")
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        home = Path(tmp) / "home"
        proc, url = service_process.start_service(home, "[devices]\ndemo_system_backends = false\n")
        try:
            headers = auth(home)
            with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
                document = http.post("/v1/documents", json={"name": "bench"}).json()["id"]
            idle = _idle_health(url)
            print(f"service pid {proc.pid}, idle tree RSS {tree_rss(proc.pid) / MIB:.0f} MiB, "
                  f"idle /v1/health median {statistics.median(idle) * 1000:.1f} ms, "
                  f"max {max(idle) * 1000:.1f} ms")
            for round_no in range(1, args.rounds + 1):
                load_before = os.getloadavg()[0]
                started = time.monotonic()
                with watching(proc.pid, url) as watch, \
                        ThreadPoolExecutor(max_workers=args.clients) as pool:
                    answers = list(pool.map(
                        lambda item: _import(url, headers, document, item), mix))
                elapsed = time.monotonic() - started
                median, worst = watch.health_summary()
                print(f"round {round_no}: {len(mix)} imports in {elapsed:.1f} s; peak tree RSS "
                      f"{watch.peak_rss / MIB:.0f} MiB ({watch.samples} samples); /v1/health "
                      f"median {median * 1000:.1f} ms, max {worst * 1000:.1f} ms "
                      f"({len(watch.health_seconds)} probes, "
                      f"{len(watch.health_failures)} failed); load average "
                      f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}")
                for answer, count in sorted(Counter(answers).items()):
                    print(f"    {count} x {answer}")
            print(f"after: tree RSS {tree_rss(proc.pid) / MIB:.0f} MiB, service "
                  f"{'running' if proc.poll() is None else 'GONE'}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
