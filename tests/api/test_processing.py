"""Processing through the API on pages scanned from the real SANE pnm backend: edits as
versions (and undo), blank checks, barcodes, and splitting a document on separator pages."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pikepdf
import pypdfium2
import zxingcpp
from PIL import Image, ImageDraw
from websockets.sync.client import connect

from tests.conftest import Service
from tests.helpers import assert_problem, job_events

WIDTH, HEIGHT = 1240, 1754  # A5-ish at 300 dpi: quick to scan


def page_image(text: str | None = None, qr: str | None = None) -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    if text:
        for line in range(12):
            draw.text((120, 200 + 90 * line), f"{text} line {line}", fill="black",
                      font_size=48)
    if qr:
        code = Image.fromarray(np.asarray(
            zxingcpp.create_barcode(qr, zxingcpp.BarcodeFormat.QRCode).to_image(scale=10)))
        image.paste(code.convert("RGB"), (400, 600))
    return image


def scan(http: httpx.Client, service: Service, image: Image.Image, path: Path,
         document_id: str | None = None) -> dict[str, Any]:
    """Scan ``image`` through sane:pnm:0 into a document; the stored page."""
    image.save(path)
    body: dict[str, Any] = {"device": "sane:pnm:0", "resolution": 300,
                            "raw_options": {"filename": str(path)}}
    if document_id:
        body["document_id"] = document_id
    job = http.post("/v1/jobs", json=body)
    assert job.status_code == 201, job.text
    events = job_events(service.url, job.json()["id"], headers=service.auth)
    assert events[-1]["job"]["state"] == "completed", events[-1]
    pages = http.get(f"/v1/documents/{job.json()['document_id']}/pages").json()
    return dict(pages[-1])


def size_of(http: httpx.Client, page_id: str) -> tuple[int, int]:
    data = http.get(f"/v1/pages/{page_id}/image").content
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def test_edit_is_a_new_version_and_undo_restores(service: Service, tmp_path: Path) -> None:
    with service.client() as http:
        page = scan(http, service, page_image(text="Edit me"), tmp_path / "p.ppm")
        original = http.get(f"/v1/pages/{page['id']}/image")
        edited = http.post(f"/v1/pages/{page['id']}/edit",
                           json={"edits": [{"op": "rotate", "angle": 90}]})
        assert edited.status_code == 200, edited.text
        assert edited.json()["page"]["version"] == 1
        assert size_of(http, page["id"]) == (HEIGHT, WIDTH)
        changed = http.get(f"/v1/pages/{page['id']}/image")
        assert changed.headers["etag"] != original.headers["etag"]
        gray = http.post(f"/v1/pages/{page['id']}/edit",
                         json={"edits": [{"op": "gray"}, {"op": "bw", "method": "otsu"}]})
        assert gray.json()["page"]["mode"] == "bw" and gray.json()["page"]["version"] == 2
        undone = http.post(f"/v1/pages/{page['id']}/undo", json={"to_original": True})
        assert undone.status_code == 200 and undone.json()["version"] == 0
        assert http.get(f"/v1/pages/{page['id']}/image").content == original.content
        bad = http.post(f"/v1/pages/{page['id']}/edit", json={"edits": [{"op": "explode"}]})
        assert_problem(bad, 422, "invalid_setting")
        nothing = http.post(f"/v1/pages/{page['id']}/undo", json={})
        assert_problem(nothing, 422, "invalid_setting")
        assert_problem(http.post("/v1/pages/nope/edit", json={"edits": [{"op": "invert"}]}),
                       404, "page_not_found")


def test_blank_and_barcodes(service: Service, tmp_path: Path) -> None:
    with service.client() as http:
        text = scan(http, service, page_image(text="Some words", qr="INVOICE-42"),
                    tmp_path / "a.ppm")
        empty = scan(http, service, page_image(), tmp_path / "b.ppm")
        assert http.get(f"/v1/pages/{text['id']}/blank").json()["blank"] is False
        answer = http.get(f"/v1/pages/{empty['id']}/blank").json()
        assert answer["blank"] is True and answer["score"] < answer["threshold"]
        found = http.get(f"/v1/pages/{text['id']}/barcodes",
                         params={"formats": "QRCode"}).json()
        assert [b["text"] for b in found] == ["INVOICE-42"]
        # the QR was pasted at (400, 600), 232 * 10 / 8 = 290 px wide
        assert all(395 <= p["x"] <= 700 and 595 <= p["y"] <= 900 for p in found[0]["position"])
        outside = http.get(f"/v1/pages/{text['id']}/barcodes",
                           params={"region": "0,0,300,300"}).json()
        assert outside == []
        bad = http.get(f"/v1/pages/{text['id']}/barcodes", params={"formats": "Nope"})
        assert_problem(bad, 422, "invalid_setting")
        per_doc = http.get(f"/v1/documents/{text['document_id']}/barcodes").json()
        assert [b["text"] for b in per_doc[text["id"]]] == ["INVOICE-42"]


def test_split_on_barcode_separators(service: Service, tmp_path: Path) -> None:
    with service.client() as http:
        first = scan(http, service, page_image(text="First"), tmp_path / "1.ppm")
        doc = first["document_id"]
        scan(http, service, page_image(qr="SEPARATOR"), tmp_path / "2.ppm", doc)
        third = scan(http, service, page_image(text="Second"), tmp_path / "3.ppm", doc)
        fourth = scan(http, service, page_image(text="Second too"), tmp_path / "4.ppm", doc)
        made = http.post(f"/v1/documents/{doc}/split", json={
            "rule": {"kind": "barcode", "value": "SEPARATOR"}, "name_prefix": "Batch"})
        assert made.status_code == 200, made.text
        docs = made.json()
        assert [d["name"] for d in docs] == ["Batch 1", "Batch 2"]
        assert [d["page_count"] for d in docs] == [1, 2]
        second_pages = http.get(f"/v1/documents/{docs[1]['id']}/pages").json()
        assert [p["id"] for p in second_pages] == [third["id"], fourth["id"]]
        assert http.get(f"/v1/documents/{doc}").status_code == 404
        assert http.get(f"/v1/pages/{first['id']}").json()["document_id"] == docs[0]["id"]


def run_job(http: httpx.Client, service: Service, body: dict[str, Any]) -> list[dict[str, Any]]:
    job = http.post("/v1/jobs", json=body)
    assert job.status_code == 201, job.text
    events = job_events(service.url, job.json()["id"], headers=service.auth)
    assert events[-1]["job"]["state"] == "completed", events[-1]
    return events


def test_scan_time_processing(service: Service, tmp_path: Path) -> None:
    blank, coded, skewed = tmp_path / "blank.ppm", tmp_path / "coded.ppm", tmp_path / "skew.ppm"
    page_image().save(blank)
    page_image(text="Barcode page", qr="BATCH-7").save(coded)
    page_image(text="Straighten this page please").rotate(
        3.2, resample=Image.Resampling.BICUBIC, fillcolor="white").save(skewed)
    base = {"device": "sane:pnm:0", "resolution": 300}
    with service.client() as http:
        events = run_job(http, service, {**base, "pages": 2, "raw_options": {
            "filename": str(blank)}, "processing": {"drop_blank": True}})
        dropped = [e for e in events if e["type"] == "page_dropped"]
        assert len(dropped) == 2 and all(e["dropped"] == "blank" for e in dropped)
        assert events[-1]["job"]["pages_stored"] == 0
        document = events[-1]["job"]["document_id"]
        assert http.get(f"/v1/documents/{document}/pages").json() == []

        events = run_job(http, service, {**base, "raw_options": {"filename": str(coded)},
                                         "processing": {"drop_blank": True, "barcodes": True,
                                                        "barcode_formats": ["QRCode"]}})
        [stored] = [e for e in events if e["type"] == "page"]
        assert [b["text"] for b in stored["found"]["barcodes"]] == ["BATCH-7"]
        page = http.get(f"/v1/pages/{stored['page']['id']}").json()
        assert [b["text"] for b in page["metadata"]["barcodes"]] == ["BATCH-7"]

        events = run_job(http, service, {**base, "raw_options": {"filename": str(skewed)},
                                         "processing": {"deskew": True}})
        [stored] = [e for e in events if e["type"] == "page"]
        assert abs(abs(stored["found"]["skew_angle"]) - 3.2) < 0.3
        assert stored["page"]["version"] == 1  # the scan itself stays as version 0

        bad = http.post("/v1/jobs", json={**base, "processing": {
            "barcodes": True, "barcode_formats": ["Nope"]}})
        assert_problem(bad, 422, "invalid_setting")


def test_ocr_task_makes_a_searchable_pdf(service: Service, tmp_path: Path) -> None:
    with service.client() as http:
        assert "eng" in http.get("/v1/ocr/languages").json()
        page = scan(http, service, page_image(text="Quarterly invoice"), tmp_path / "o.ppm")
        doc = page["document_id"]
        started = http.post(f"/v1/documents/{doc}/ocr", json={"lang": "eng", "output": "pdfa"})
        assert started.status_code == 202, started.text
        task = started.json()
        url = "ws" + service.url.removeprefix("http") + f"/v1/tasks/{task['id']}/events"
        with connect(url, additional_headers=service.auth) as ws:
            events = [json.loads(message) for message in ws]
        assert events[-1]["task"]["state"] == "completed", events[-1]
        assert any(e["type"] == "progress" for e in events)
        assert "Quarterly" in events[-1]["task"]["result"]["pages"][0]["text"]
        pdf = http.get(f"/v1/tasks/{task['id']}/file")
        assert pdf.headers["content-type"] == "application/pdf"
        out = tmp_path / "ocr.pdf"
        out.write_bytes(pdf.content)
        text = pypdfium2.PdfDocument(str(out))[0].get_textpage().get_text_range()
        assert "Quarterly" in text and "invoice" in text
        assert b"pdfaid" in pdf.content and b"GTS_PDFA1" in pdf.content
        bad = http.post(f"/v1/documents/{doc}/ocr", json={"lang": "klingon"})
        assert_problem(bad, 422, "invalid_setting")


def test_export_options(service: Service, tmp_path: Path) -> None:
    with service.client() as http:
        page = scan(http, service, page_image(text="Export me"), tmp_path / "e.ppm")
        doc = page["document_id"]
        pdf = http.get(f"/v1/documents/{doc}/export", params={
            "format": "pdf", "pdf_a": "true", "title": "Quarterly", "author": "Ada",
            "keywords": "tax,2026"})
        assert pdf.status_code == 200, pdf.text
        path = tmp_path / "out.pdf"
        path.write_bytes(pdf.content)
        with pikepdf.open(path) as opened:
            assert str(opened.docinfo["/Title"]) == "Quarterly"
            assert str(opened.docinfo["/Author"]) == "Ada"
            with opened.open_metadata() as meta:
                assert meta.pdfa_status == "2B"
            assert opened.Root.OutputIntents[0].S == "/GTS_PDFA1"
        original = http.get(f"/v1/pages/{page['id']}/image").content
        jpeg = http.get(f"/v1/documents/{doc}/export", params={"format": "jpeg"})
        assert jpeg.content == original  # no edit: the stored JPEG as it is
        webp = http.get(f"/v1/documents/{doc}/export", params={"format": "webp",
                                                               "webp_lossless": "true"})
        assert webp.headers["content-type"] == "image/webp"
        with Image.open(io.BytesIO(webp.content)) as image:
            assert image.format == "WEBP" and image.size == (WIDTH, HEIGHT)
        http.post(f"/v1/pages/{page['id']}/edit",
                  json={"edits": [{"op": "bw", "method": "otsu"}]})
        tiff = http.get(f"/v1/documents/{doc}/export", params={"format": "tiff",
                                                               "tiff_compression": "g4"})
        with Image.open(io.BytesIO(tiff.content)) as image:
            assert image.info["compression"] == "group4" and image.mode == "1"
        bad = http.get(f"/v1/documents/{doc}/export", params={"format": "gif"})
        assert_problem(bad, 422, "invalid_request")
