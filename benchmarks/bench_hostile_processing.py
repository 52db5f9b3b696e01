"""Work on pages that passed the import caps, many requests at once, against a real service:
the process tree's peak RSS and /v1/health latency (issue 14, item 3; targets: the tree under
1 GB, health within 1 s).

The pages (tests/api/test_hostile_processing.py): two 7000 x 7000 8-bit RGB PNGs (49 Mpx, 187
MiB decoded, 0.3 MB each), an 11500 x 11500 16-bit grey PNG (264.5 MB decoded, just within
``max_decoded_mb = 256``) and a 5000 x 5000 RGB PNG. Each round sends the test's twenty-one
requests at once: blank and barcode checks, edits, full-size JPEG renditions and JPEG exports
of the colour pages, the compatibility API's check-blank and read-barcode, and on the 16-bit
page an analysis, an edit, a split, WebP and TIFF exports and an OCR request (refused at once),
besides an OCR task on the 5000 x 5000 page. One thread samples the RSS of the service and its
children every 50 ms, another times ``GET /v1/health`` every 200 ms.

Run: .venv/bin/python benchmarks/bench_hostile_processing.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
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
from tests.api.test_hostile_processing import (  # noqa: E402
    COLOUR,
    MIDDLE,
    Call,
    _answer,
    _import,
    _requests,
)
from tests.conftest import Service  # noqa: E402
from tests.importing.hostile import near_the_cap, tree_rss, watching  # noqa: E402

MIB = 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-processing-") as tmp:
        home = Path(tmp) / "home"
        proc, url = service_process.start_service(home, "[devices]\ndemo_system_backends = false\n")
        service = Service(proc, home, url, home / "serve-output.log")
        try:
            with service.client() as http:
                document = http.post("/v1/documents", json={"name": "bench"}).json()["id"]
                colour = [_import(http, document, COLOUR) for _ in range(2)]
                deep = _import(http, document, near_the_cap().data)
                middle = _import(http, document, MIDDLE)
            print(f"service pid {proc.pid}, tree RSS after the imports "
                  f"{tree_rss(proc.pid) / MIB:.0f} MiB")
            for round_no in range(1, args.rounds + 1):
                mixed = _requests(service, document, colour, deep, middle)

                def run(item: tuple[str, Call, object]) -> str:
                    name, call, _ = item
                    with httpx.Client(base_url=url, headers=service.auth, timeout=600) as http:
                        status, code = _answer(call(http))
                    return f"{name}: {status} {code}".rstrip()

                load_before = os.getloadavg()[0]
                started = time.monotonic()
                with watching(proc.pid, url) as watch, \
                        ThreadPoolExecutor(max_workers=len(mixed)) as pool:
                    answers = list(pool.map(run, mixed))
                elapsed = time.monotonic() - started
                median, worst = watch.health_summary()
                print(f"round {round_no}: {len(mixed)} requests in {elapsed:.1f} s; peak tree "
                      f"RSS {watch.peak_rss / MIB:.0f} MiB ({watch.samples} samples); "
                      f"/v1/health median {median * 1000:.1f} ms, max {worst * 1000:.1f} ms "
                      f"({len(watch.health_seconds)} probes, "
                      f"{len(watch.health_failures)} failed); load average "
                      f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}")
                statuses = Counter(answer.split(": ", 1)[1] for answer in answers)
                print("    " + ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items())))
                print("    " + "; ".join(a for a in answers if not a.endswith(": 200")))
            with service.client() as http:
                health = http.get("/v1/health").status_code
            print(f"after: tree RSS {tree_rss(proc.pid) / MIB:.0f} MiB, service "
                  f"{'running' if proc.poll() is None else 'GONE'}, /v1/health {health}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
