"""Imports that decode to far more than they weigh (issue 14, item 3): a 0.57 MB PNG of
196 Mpx, 16-bit and four-channel PNGs within the pixel cap, a 1 MB PDF whose content stream
inflates to 1 GiB. Sent together, several at a time, to a real service: each is refused with
413 (or imported, if within the caps), the service's whole process tree stays under 1 GB,
``/v1/health`` keeps answering, and the service is healthy afterwards.

Before the fix the PNG was decoded in the service process itself (2.3 GB) and the PDF worker
inflated the stream whole (2.1 GB).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

from tests.conftest import Service, start_service
from tests.importing.hostile import (
    Hostile,
    hostile_files,
    near_the_cap,
    tree_rss,
    watching,
    within_caps,
)

GB = 10**9


def _import(service: Service, document: str, item: Hostile) -> tuple[str, int, str]:
    with httpx.Client(base_url=service.url, timeout=300, headers=service.auth) as http:
        answer = http.post(f"/v1/documents/{document}/import", content=item.data,
                           headers={"Content-Type": item.content_type})
    code = answer.json().get("code", "") if answer.status_code >= 400 else ""
    return item.name, answer.status_code, code


def test_hostile_imports_stay_within_the_memory_budget(service: Service) -> None:
    files = hostile_files()
    # Two of each bomb, and three valid files that really decode: 64 MB, and twice 264.5 MB
    # (just within the cap), so the workers together would pass 1 GB without the budget.
    mix = [near_the_cap(), *files, within_caps(), near_the_cap(), *files, near_the_cap()]
    with service.client() as http:
        document = http.post("/v1/documents", json={"name": "bombs"}).json()["id"]
    expected = {item.name: item.expected for item in mix}
    with watching(service.process.pid, service.url) as watch, \
            ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda item: _import(service, document, item), mix))
    for name, status, code in answers:
        assert (status, code) in expected[name], (name, status, code)
    assert watch.samples > 0 and watch.health_seconds
    assert watch.peak_rss < GB, f"the service tree peaked at {watch.peak_rss / 2**20:.0f} MiB"
    assert watch.health_failures == []
    with service.client() as http:
        assert http.get("/v1/health", timeout=10).status_code == 200
        pages = http.get(f"/v1/documents/{document}/pages").json()
    assert sorted((p["width"], p["height"], p["bit_depth"]) for p in pages) == [
        (8000, 8000, 8), (11500, 11500, 16), (11500, 11500, 16), (11500, 11500, 16)]
    assert service.process.poll() is None
    assert tree_rss(service.process.pid) < GB


def _workers(pid: int) -> int:
    try:
        # Direct children only: the service starts every worker itself, and a fork a worker
        # makes keeps the worker's command line until it execs.
        children = psutil.Process(pid).children()
    except psutil.Error:
        return 0
    count = 0
    for child in children:
        with contextlib.suppress(psutil.Error):
            if "scanlet.importing.pdf_worker" in " ".join(child.cmdline()):
                count += 1
    return count


def test_all_clients_share_the_decode_slots(home: Path) -> None:
    """With ``max_running_decodes = 1`` no two import workers ever run at once, whichever
    clients send what (sampled: a missed overlap can only make this pass, never fail)."""
    with (home / "user.ini").open("a") as ini:
        ini.write("\n[limits]\nmax_running_decodes = 1\ndecode_wait_seconds = 120\n")
    service = start_service(home)
    try:
        with service.client() as http:
            document = http.post("/v1/documents", json={}).json()["id"]
        seen: list[int] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                seen.append(_workers(service.process.pid))
                stop.wait(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            mix = [within_caps(), *hostile_files(), within_caps()]
            with ThreadPoolExecutor(max_workers=len(mix)) as pool:
                answers = list(pool.map(lambda item: _import(service, document, item), mix))
        finally:
            stop.set()
            sampler.join()
        assert [status for _, status, _ in answers] == [201, 413, 413, 413, 413, 201]
        assert max(seen) == 1
    finally:
        service.kill(signal.SIGTERM)
