"""Degenerate pages through every processing, edit, rendition and export endpoint: no 5xx.

Pages one pixel wide or high, 1x1, huge aspect ratios, bilevel, 16-bit grey, CMYK, palette
with transparency, grey or colour with alpha, EXIF-rotated JPEGs and a PDF page of 1x1 pt
are imported through the real service's import route (and 1 px slices are also made by its
crop edit). Then every operation that reads page pixels runs on each of them, parametrised
over pages x operations, against one real ``scanlet serve --demo`` on loopback:

* an answer is 2xx, or a 4xx problem with a stable ``code`` where the operation cannot apply
  and says why (a page too small to judge blank, Group 4 for a page that is not bilevel, a
  bilevel result asked for as JPEG, a side beyond WebP's 16383 px, Tesseract's 32767 px or a
  PDF page's 200 inches, a rotated result beyond the pixel cap): any other 4xx fails too;
  never a 5xx, and no OCR task ends with an error whose class is a 5xx (``internal``,
  ``ocr_failed``...);
* every 2xx file is opened by an independent tool: PDFs by ``qpdf --check`` and pikepdf,
  images by Pillow (each page of a TIFF, each member of a ZIP), and a rendition or edit
  result has the size the page info states;
* afterwards the service log holds no traceback.

This complements the schemathesis pass (tests/security/test_fuzz_openapi.py): that one
varies the requests (parameters, bodies, sequences) on ordinary scanned pages, and sends
these same files (tests/degenerate.py) only as import bodies; this one varies the pixels that
valid requests meet.
"""

from __future__ import annotations

import io
import signal
import subprocess
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest
from PIL import Image

from scanlet.errors import ERRORS_BY_CODE
from tests.conftest import Service, make_home, start_service
from tests.degenerate import CROPS, FILES
from tests.security.conftest import write_config

TERMINAL = {"completed", "failed", "cancelled", "interrupted"}
PAGES = [*FILES, *CROPS]


# -- the service and its pages ---------------------------------------------------------------

@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service for the module; every test undoes its edits, so pages stay as imported.
    Its OCR rate limit is off: every page gets its OCR tasks, none is turned away with 429."""
    home = make_home(Path(tmp_path_factory.mktemp("degenerate")) / "home")
    write_config(home, "[limits]\nocr_tasks_per_minute = 0")
    svc = start_service(home)
    yield svc
    svc.kill(signal.SIGTERM)
    log = svc.log.read_text()
    assert "Traceback" not in log, log[max(0, log.index("Traceback") - 2000):][:8000]


@dataclass
class Page:
    """An imported degenerate page and the document that holds only it."""

    name: str
    document: str
    page: str


@pytest.fixture(scope="module")
def imported(service: Service) -> dict[str, Page]:
    """Filled on demand by :func:`page_of` (each file imported once per module)."""
    return {}


def _import(http: httpx.Client, name: str, data: bytes, media: str) -> Page:
    document = http.post("/v1/documents", json={"name": name}).json()["id"]
    answer = http.post(f"/v1/documents/{document}/import", content=data,
                       headers={"Content-Type": media})
    assert answer.status_code == 201, (name, answer.text)
    pages = answer.json()
    assert len(pages) == 1, (name, pages)
    return Page(name, document, pages[0]["id"])


def page_of(http: httpx.Client, imported: dict[str, Page], name: str) -> Page:
    if name not in imported:
        if name in FILES:
            imported[name] = _import(http, name, *FILES[name]())
        else:
            make, box = CROPS[name]
            page = _import(http, name, *make())
            edit = http.post(f"/v1/pages/{page.page}/edit",
                             json={"edits": [{"op": "crop", "box": box}]})
            assert edit.status_code == 200, edit.text
            # The cropped version is the page's original from now on: undo has nothing left.
            imported[name] = page
    return imported[name]


# -- checks ----------------------------------------------------------------------------------

#: Why an operation may refuse a degenerate page (what the problem's detail says); any other
#: 4xx, and any 4xx of an operation not listed, fails the test.
TOO_SMALL = "too small to judge"
G4_BILEVEL_ONLY = "Group 4 compresses black-and-white pages only"
BILEVEL_NOT_JPEG = "black-and-white result cannot be stored as JPEG"
WEBP_SIDE = "WebP images are at most"
PDF_SIDE = "more than the 200 inches a PDF page can have"
TESSERACT_SIDE = "Tesseract reads at most"
RESULT_PIXELS = "pixels, more than the"
Refusal = str | tuple[str, ...] | None


def _expected(detail: str, refusal: Refusal) -> bool:
    reasons = (refusal,) if isinstance(refusal, str) else refusal or ()
    return any(reason in detail for reason in reasons)


def answered(response: httpx.Response, refusal: Refusal = None) -> bool:
    """True for a 2xx; False for a 4xx problem with a stable code whose detail gives the
    expected ``refusal``; anything else (a 5xx above all) fails."""
    assert response.status_code < 500, (response.request.url, response.text[:2000])
    if response.status_code < 300:
        return True
    assert 400 <= response.status_code < 500, (response.request.url, response.status_code)
    body = response.json()
    assert body.get("code"), body
    assert _expected(body.get("detail", ""), refusal), (response.request.url, body.get("detail"))
    return False


def check_image(data: bytes, size: tuple[int, int] | None = None) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        if size is not None:
            assert image.size == size, (image.size, size)
        return image


def check_pdf(data: bytes, tmp_path: Path, pages: int = 1) -> None:
    path = tmp_path / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(data)
    subprocess.run(["qpdf", "--check", str(path)], check=True, capture_output=True)
    with pikepdf.open(path) as pdf:
        assert len(pdf.pages) == pages
        for page in pdf.pages:
            for image in page.get_images().values():
                assert isinstance(image, pikepdf.Stream)
                pikepdf.PdfImage(image).as_pil_image().load()


def check_export(response: httpx.Response, fmt: str, tmp_path: Path) -> None:
    """The exported file opens in an independent tool."""
    if fmt == "pdf":
        check_pdf(response.content, tmp_path)
        return
    if response.headers["content-type"].startswith("application/zip"):
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            for member in archive.namelist():
                check_image(archive.read(member))
        return
    with Image.open(io.BytesIO(response.content)) as image:
        frames = getattr(image, "n_frames", 1)
        for frame in range(frames):
            image.seek(frame)
            image.load()
            assert image.width >= 1 and image.height >= 1


def page_size(http: httpx.Client, page_id: str) -> tuple[int, int]:
    info = http.get(f"/v1/pages/{page_id}").json()
    return info["width"], info["height"]


def wait_task(http: httpx.Client, task_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task: dict[str, Any] = http.get(f"/v1/tasks/{task_id}").json()
        if task["state"] in TERMINAL:
            return task
        assert time.monotonic() < deadline, f"task still busy after {timeout}s: {task}"
        time.sleep(0.1)


# -- the operations --------------------------------------------------------------------------

Op = Callable[[httpx.Client, Page, Service, Path], None]


def _info(http: httpx.Client, page: Page, _svc: Service, _tmp: Path) -> None:
    answer = http.get(f"/v1/pages/{page.page}")
    assert answered(answer)
    info = answer.json()
    assert info["width"] >= 1 and info["height"] >= 1
    original = http.get(f"/v1/pages/{page.page}/image")
    assert answered(original)
    check_image(original.content, (info["width"], info["height"]))


def _rendition(**query: Any) -> Op:
    def run(http: httpx.Client, page: Page, _svc: Service, _tmp: Path) -> None:
        answer = http.get(f"/v1/pages/{page.page}/image", params=query)
        if answered(answer):
            image = check_image(answer.content)
            if "width" in query:
                assert image.width <= query["width"], image.size
            if "height" in query:
                assert image.height <= query["height"], image.size
    return run


def _blank_check(http: httpx.Client, page: Page, _svc: Service, _tmp: Path) -> None:
    answer = http.get(f"/v1/pages/{page.page}/blank")
    if answered(answer, TOO_SMALL):
        assert isinstance(answer.json()["blank"], bool)


def _barcodes(http: httpx.Client, page: Page, _svc: Service, _tmp: Path) -> None:
    for path in (f"/v1/pages/{page.page}/barcodes",
                 f"/v1/pages/{page.page}/barcodes?region=0,0,1,1",
                 f"/v1/documents/{page.document}/barcodes"):
        answer = http.get(path)
        answered(answer)


def _edit(*edits: dict[str, Any], output: str = "auto", refusal: Refusal = None) -> Op:
    def run(http: httpx.Client, page: Page, _svc: Service, _tmp: Path) -> None:
        try:
            answer = http.post(f"/v1/pages/{page.page}/edit",
                               json={"edits": list(edits), "output": output})
            if answered(answer, refusal):
                info = answer.json()["page"]
                image = http.get(f"/v1/pages/{page.page}/image")
                assert answered(image)
                check_image(image.content, (info["width"], info["height"]))
                for width in (1, 64):
                    small = http.get(f"/v1/pages/{page.page}/image", params={"width": width})
                    assert answered(small)
                    check_image(small.content)
        finally:
            http.post(f"/v1/pages/{page.page}/undo", json={"to_original": True})
    return run


def _export(fmt: str, refusal: Refusal = None, **query: Any) -> Op:
    def run(http: httpx.Client, page: Page, _svc: Service, tmp: Path) -> None:
        answer = http.get(f"/v1/documents/{page.document}/export",
                          params={"format": fmt, **query})
        if answered(answer, refusal):
            check_export(answer, fmt, tmp)
    return run


def _ocr(output: str) -> Op:
    def run(http: httpx.Client, page: Page, _svc: Service, tmp: Path) -> None:
        answer = http.post(f"/v1/documents/{page.document}/ocr",
                           json={"lang": "eng", "output": output})
        if not answered(answer, (TESSERACT_SIDE, PDF_SIDE) if output == "pdf" else TESSERACT_SIDE):
            return
        assert answer.status_code == 202, answer.text
        task = wait_task(http, answer.json()["id"])
        error = task.get("error") or {}
        # A task's error is a 5xx when its class is one (internal, ocr_failed, ...).
        assert ERRORS_BY_CODE[error.get("code", "internal")].http_status < 500 \
            if error else task["state"] == "completed", task
        if task["state"] == "completed" and output == "pdf":
            pdf = http.get(f"/v1/tasks/{task['id']}/file")
            assert answered(pdf)
            check_pdf(pdf.content, tmp)
    return run


def _split(kind: str) -> Op:
    def run(http: httpx.Client, page: Page, _svc: Service, _tmp: Path) -> None:
        # Splitting removes its document: split a copy of the page in a document of its own.
        copy = http.post("/v1/documents", json={"name": f"split {page.name}"}).json()["id"]
        original = http.get(f"/v1/pages/{page.page}/image")
        assert answered(original)
        media = original.headers["content-type"]
        imported = http.post(f"/v1/documents/{copy}/import", content=original.content,
                             headers={"Content-Type": media})
        assert answered(imported)
        answer = http.post(f"/v1/documents/{copy}/split", json={"rule": {"kind": kind}})
        if answered(answer, TOO_SMALL if kind == "blank" else None):
            for document in answer.json():
                http.delete(f"/v1/documents/{document['id']}")
        else:
            http.delete(f"/v1/documents/{copy}")
    return run


def _compat_answer(response: httpx.Response, refusal: Refusal = None) -> bool:
    """:func:`answered` for the compatibility API, whose errors are the reference's
    {code, message, statusCode}."""
    assert response.status_code < 500, (response.request.url, response.text[:2000])
    if response.status_code < 300:
        return True
    body = response.json()
    assert body["code"] and body["statusCode"] == response.status_code, body
    assert 400 <= response.status_code < 500, (response.request.url, response.status_code)
    assert _expected(body["message"], refusal), (response.request.url, body["message"])
    return False


def _source(svc: Service, page: Page) -> str:
    return (f"{svc.url}/api/device/scanners/jobs/{uuid.uuid4()}/next-page"
            f"?page={page.page}")


def _compat_process(http: httpx.Client, page: Page, svc: Service, _tmp: Path) -> None:
    blank = http.post("/api/process/check-blank", json={"source": _source(svc, page)})
    if _compat_answer(blank, TOO_SMALL):
        assert isinstance(blank.json()["result"], bool)
    barcodes = http.post("/api/process/read-barcode", json={"source": _source(svc, page)},
                         headers={"DWT-PRODUCT-KEY": svc.key})
    _compat_answer(barcodes)


def _compat_content(http: httpx.Client, page: Page, svc: Service, tmp: Path) -> None:
    created = http.post("/api/storage/documents", json={})
    assert _compat_answer(created)
    uid = created.json()["uid"]
    try:
        inserted = http.post(f"/api/storage/documents/{uid}/pages",
                             json={"source": _source(svc, page)})
        assert _compat_answer(inserted)
        for kind, fmt in (("application/pdf", "pdf"), ("image/tiff", "tiff"),
                          ("image/jpeg", "jpeg"), ("image/png", "png")):
            answer = http.get(f"/api/storage/documents/{uid}/content", params={"type": kind})
            if _compat_answer(answer, PDF_SIDE if fmt == "pdf" else None):
                check_export(answer, fmt, tmp)
    finally:
        http.delete(f"/api/storage/documents/{uid}")


OPS: dict[str, Op] = {
    "info": _info,
    "image-w64": _rendition(width=64),
    "image-h64": _rendition(height=64),
    "image-1x1-box": _rendition(width=1, height=1),
    "image-w4096-png": _rendition(width=4096, format="png"),
    "image-jpeg": _rendition(format="jpeg", quality=50),
    "image-png": _rendition(format="png"),
    "blank": _blank_check,
    "barcodes": _barcodes,
    "edit-rotate90": _edit({"op": "rotate", "angle": 90}),
    "edit-rotate7": _edit({"op": "rotate", "angle": 7.5}, refusal=RESULT_PIXELS),
    "edit-flip-mirror": _edit({"op": "flip"}, {"op": "mirror"}),
    "edit-crop-1px": _edit({"op": "crop", "box": [0, 0, 1, 1]}),
    "edit-fill": _edit({"op": "fill", "box": [0, 0, 1, 1], "color": "black"}),
    "edit-resize-w1": _edit({"op": "resize", "width": 1}),
    "edit-resize-h1": _edit({"op": "resize", "height": 1}),
    "edit-dpi-10": _edit({"op": "dpi", "dpi": 10}),
    "edit-gray": _edit({"op": "gray"}),
    "edit-bw-otsu": _edit({"op": "bw", "method": "otsu"}),
    "edit-bw-threshold": _edit({"op": "bw", "method": "threshold", "threshold": 100}),
    "edit-bw-adaptive": _edit({"op": "bw", "method": "adaptive"}),
    "edit-invert-adjust": _edit({"op": "invert"}, {"op": "adjust", "brightness": 20,
                                                   "contrast": -30}),
    "edit-despeckle": _edit({"op": "despeckle"}),
    "edit-deskew": _edit({"op": "deskew"}),
    "edit-autocrop": _edit({"op": "autocrop"}),
    "edit-orient": _edit({"op": "orient"}),
    "edit-to-jpeg": _edit({"op": "rotate", "angle": 180}, output="jpeg",
                          refusal=BILEVEL_NOT_JPEG),
    "edit-to-png": _edit({"op": "mirror"}, output="png"),
    "export-pdf": _export("pdf", PDF_SIDE),
    "export-pdfa": _export("pdf", PDF_SIDE, pdf_a="true"),
    "export-tiff": _export("tiff"),
    "export-tiff-g4": _export("tiff", G4_BILEVEL_ONLY, tiff_compression="g4"),
    "export-tiff-jpeg": _export("tiff", tiff_compression="jpeg"),
    "export-jpeg": _export("jpeg", reencode_jpeg="true", progressive="true"),
    "export-png": _export("png"),
    "export-bmp": _export("bmp"),
    "export-webp": _export("webp", WEBP_SIDE),
    "ocr-text": _ocr("text"),
    "ocr-pdf": _ocr("pdf"),
    "split-blank": _split("blank"),
    "split-patch": _split("patch"),
    "compat-process": _compat_process,
    "compat-content": _compat_content,
}


@pytest.fixture(scope="module")
def http(service: Service) -> Iterator[httpx.Client]:
    with service.client() as client:
        yield client


@pytest.mark.parametrize("operation", list(OPS))
@pytest.mark.parametrize("name", PAGES)
def test_no_server_error(service: Service, http: httpx.Client, imported: dict[str, Page],
                         tmp_path: Path, name: str, operation: str) -> None:
    OPS[operation](http, page_of(http, imported, name), service, tmp_path)


def test_exif_rotated_sizes(http: httpx.Client, imported: dict[str, Page]) -> None:
    """An EXIF-rotated JPEG is kept byte for byte, as stored (64x24, its EXIF tag not
    applied); the page info, a PNG rendition, a PNG export and the image in a PDF export all
    agree on that one size."""
    for name in ("exif6-jpeg", "exif8-jpeg"):
        page = page_of(http, imported, name)
        size = page_size(http, page.page)
        assert size == (64, 24)
        png = http.get(f"/v1/pages/{page.page}/image", params={"format": "png"})
        assert answered(png)
        check_image(png.content, size)
        exported = http.get(f"/v1/documents/{page.document}/export", params={"format": "png"})
        assert answered(exported)
        check_image(exported.content, size)
        pdf = http.get(f"/v1/documents/{page.document}/export", params={"format": "pdf"})
        assert answered(pdf)
        with pikepdf.open(io.BytesIO(pdf.content)) as document:
            [image] = document.pages[0].get_images().values()
            assert (int(image.Width), int(image.Height)) == size
