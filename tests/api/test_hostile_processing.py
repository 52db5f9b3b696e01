"""Pages that passed the import caps, worked on by many requests at once (issue 14, item 3): a 49
Mpx colour PNG of 0.3 MB decodes to 187 MiB, and every edit, blank or barcode check, export,
full-size rendition and OCR run decodes it again in the service (or in tesseract, its child).
Twenty-one such requests at once, mixed over the v1 and the compatibility routes, keep the
service's whole process tree under 1 GB because each one holds its bytes of the decoding budget
the imports share (codecs/pixel_budget.py); the rest wait and, past ``decode_wait_seconds``,
get 429 ``decode_busy``. Work that needs more than the service's share of the budget (the
analysis of a 132 Mpx 16-bit page) is 413 ``decode_too_large`` at once; an OCR request that
includes such a page is refused so before its task starts. ``/v1/health`` keeps answering, and
the service is healthy afterwards.

Without the budget the same requests took the tree to 5.8 GiB.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import Service
from tests.importing.hostile import near_the_cap, tree_rss, watching, zero_png

GB = 10**9
#: 7000 x 7000 8-bit RGB: 49 Mpx, 187 MiB as Pillow holds it: an analysis (about 400 MiB)
#: fits the service's share of the budget, two do not.
COLOUR = zero_png(7000, 7000)

#: 5000 x 5000 8-bit RGB: 25 Mpx, small enough for tesseract within the service's share.
MIDDLE = zero_png(5000, 5000)

OK: frozenset[tuple[int | str, str]] = frozenset({(200, ""), (429, "decode_busy")})
TOO_LARGE: frozenset[tuple[int | str, str]] = frozenset({(413, "decode_too_large")})
#: An OCR task completes, or ends failed with the error code of its first failing page.
OCR_DONE: frozenset[tuple[int | str, str]] = frozenset(
    {("completed", ""), ("failed", "decode_busy")})

Call = Callable[[httpx.Client], httpx.Response]


def _answer(response: httpx.Response) -> tuple[int | str, str]:
    if response.status_code < 400 and "/v1/tasks/" in str(response.url):
        task = response.json()
        return task["state"], (task.get("error") or {}).get("code", "")
    if response.status_code < 400:
        return response.status_code, ""
    body = response.json()
    return response.status_code, str(body.get("code") if "scanletCode" not in body
                                      else body["scanletCode"])


def _ocr(http: httpx.Client, document: str, pages: list[str]) -> httpx.Response:
    """Start an OCR task and answer its final state (a 4xx if it could not start)."""
    started = http.post(f"/v1/documents/{document}/ocr",
                        json={"output": "text", "page_ids": pages})
    if started.status_code != 202:
        return started
    deadline = time.monotonic() + 300  # a guard only
    while True:
        task = http.get(f"/v1/tasks/{started.json()['id']}")
        if task.json()["state"] != "running" or time.monotonic() > deadline:
            return task
        time.sleep(0.2)


def _import(http: httpx.Client, document: str, data: bytes) -> str:
    answer = http.post(f"/v1/documents/{document}/import", content=data,
                       headers={"Content-Type": "image/png"}, timeout=300)
    assert answer.status_code == 201, answer.text
    return str(answer.json()[0]["id"])


def _source(service: Service, page: str) -> str:
    return (f"{service.url}/api/device/scanners/jobs/{uuid.uuid4()}/next-page?page={page}")


def _requests(service: Service, document: str, colour: list[str], deep: str,
              middle: str) -> list[tuple[str, Call, frozenset[tuple[int | str, str]]]]:
    """Twenty requests that each decode a page in the service: (name, call, answers)."""
    key = {"DWT-PRODUCT-KEY": service.key}
    mixed: list[tuple[str, Call, frozenset[tuple[int | str, str]]]] = []
    for page in colour:
        mixed += [
            ("blank", lambda h, p=page: h.get(f"/v1/pages/{p}/blank"), OK),
            ("barcodes", lambda h, p=page: h.get(f"/v1/pages/{p}/barcodes"), OK),
            ("edit", lambda h, p=page: h.post(f"/v1/pages/{p}/edit", json={
                "edits": [{"op": "rotate", "angle": 90}], "output": "png"}), OK),
            ("full-size jpeg", lambda h, p=page: h.get(f"/v1/pages/{p}/image",
                                                       params={"format": "jpeg"}), OK),
            ("export jpeg", lambda h, p=page: h.get(
                f"/v1/documents/{document}/export", params={"format": "jpeg", "pages": p}), OK),
            ("compat check-blank", lambda h, p=page: h.post(
                "/api/process/check-blank", json={"source": _source(service, p)}), OK),
            ("compat read-barcode", lambda h, p=page: h.post(
                "/api/process/read-barcode", json={"source": _source(service, p)},
                headers=key), OK),
        ]
    mixed += [
        ("deep blank", lambda h: h.get(f"/v1/pages/{deep}/blank"), TOO_LARGE),
        ("deep edit", lambda h: h.post(f"/v1/pages/{deep}/edit", json={
            "edits": [{"op": "invert"}]}), TOO_LARGE),
        # Reaches the 16-bit page after the two colour ones (if they find room in time).
        ("deep split", lambda h: h.post(f"/v1/documents/{document}/split",
                                        json={"rule": {"kind": "blank"}}),
         TOO_LARGE | {(429, "decode_busy")}),
        ("deep export webp", lambda h: h.get(f"/v1/documents/{document}/export",
                                             params={"format": "webp", "pages": deep}),
         TOO_LARGE),
        ("deep export tiff", lambda h: h.get(f"/v1/documents/{document}/export",
                                             params={"format": "tiff", "pages": deep}), OK),
        # tesseract reads the 25 Mpx page within the budget; the 16-bit page could never be
        # read within it, so that OCR is refused before a task starts
        ("ocr", lambda h: _ocr(h, document, [middle]), OCR_DONE),
        ("deep ocr", lambda h: _ocr(h, document, [middle, deep]), TOO_LARGE),
    ]
    return mixed


def test_work_on_large_pages_stays_within_the_memory_budget(service: Service) -> None:
    with service.client() as http:
        document = http.post("/v1/documents", json={"name": "large"}).json()["id"]
        colour = [_import(http, document, COLOUR) for _ in range(2)]
        deep = _import(http, document, near_the_cap().data)
        middle = _import(http, document, MIDDLE)
    mixed = _requests(service, document, colour, deep, middle)
    assert len(mixed) == 21

    def run(item: tuple[str, Call, frozenset[tuple[int | str, str]]],
            ) -> tuple[str, int | str, str]:
        name, call, _ = item
        with httpx.Client(base_url=service.url, headers=service.auth, timeout=300) as http:
            return (name, *_answer(call(http)))

    with watching(service.process.pid, service.url) as watch, \
            ThreadPoolExecutor(max_workers=len(mixed)) as pool:
        answers = list(pool.map(run, mixed))
    for (name, status, code), (_, _, expected) in zip(answers, mixed, strict=True):
        assert (status, code) in expected, (name, status, code)
    assert sum(status == 200 for _, status, _ in answers) >= 2
    assert watch.samples > 0 and watch.health_seconds
    assert watch.peak_rss < GB, f"the service tree peaked at {watch.peak_rss / 2**20:.0f} MiB"
    assert watch.health_failures == []
    with service.client() as http:
        assert http.get("/v1/health", timeout=10).status_code == 200
        assert http.get(f"/v1/pages/{colour[0]}/blank", timeout=120).status_code == 200
    assert service.process.poll() is None
    assert tree_rss(service.process.pid) < GB
