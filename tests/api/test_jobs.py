"""Scan jobs end to end over real sockets, with the SANE test backend in a real worker."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import Service
from tests.helpers import assert_problem, check_pdf, job_events

FEEDER_JOB = {"device": "sane:test:0", "source": "feeder", "mode": "color", "resolution": 300,
              "paper_size": "A4", "pages": "all", "raw_options": {"test_picture": "Color pattern"}}


def _run(service: Service, body: dict[str, object]) -> tuple[dict[str, object], list[dict]]:
    with service.client() as http:
        response = http.post("/v1/jobs", json=body)
        assert response.status_code == 201, response.text
        job = response.json()
    events = job_events(service.url, job["id"], headers=service.auth)
    return job, events


def test_feeder_job_streams_pages_and_exports_pdf(service: Service, tmp_path: Path) -> None:
    job, events = _run(service, FEEDER_JOB)
    pages = [e for e in events if e["type"] == "page"]
    assert [e["pages_stored"] for e in pages] == list(range(1, 11))
    states = [e["job"]["state"] for e in events if e["type"] == "job"]
    assert states[0] in ("pending", "running") and states[-1] == "completed"
    with service.client() as http:
        status = http.get(f"/v1/jobs/{job['id']}").json()
        assert status["state"] == "completed" and status["pages_stored"] == 10
        listed = http.get(f"/v1/documents/{job['document_id']}/pages").json()
        assert [p["id"] for p in listed] == [e["page"]["id"] for e in pages]
        info = listed[0]
        assert (info["width"], info["height"], info["dpi"]) == (2480, 3507, 300)
        assert info["source"] == "feeder" and info["mode"] == "color"

        original = http.get(f"/v1/pages/{info['id']}/image")
        assert original.headers["content-type"] == "image/jpeg"
        with Image.open(io.BytesIO(original.content)) as im:
            assert im.size == (2480, 3507)
        thumb = http.get(f"/v1/pages/{info['id']}/image",
                         params={"width": 200, "height": 200, "format": "png"})
        assert thumb.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(thumb.content)) as im:
            assert max(im.size) == 200 and im.size[0] < im.size[1]
        etag = thumb.headers["etag"]
        again = http.get(f"/v1/pages/{info['id']}/image",
                         params={"width": 200, "height": 200, "format": "png"},
                         headers={"If-None-Match": etag})
        assert again.status_code == 304

        pdf = http.get(f"/v1/documents/{job['document_id']}/export", params={"format": "pdf"})
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        out = tmp_path / "out.pdf"
        out.write_bytes(pdf.content)
        check_pdf(out, pages=10)

        tiff = http.get(f"/v1/documents/{job['document_id']}/export",
                        params={"format": "tiff", "pages": f"{listed[0]['id']},{listed[1]['id']}"})
        with Image.open(io.BytesIO(tiff.content)) as im:
            assert im.n_frames == 2
            assert tuple(round(v) for v in im.info["dpi"]) == (300, 300)


def test_flatbed_gray_and_bw(service: Service) -> None:
    for mode, depth, fmt in (("gray", 8, "jpeg"), ("bw", 1, "png")):
        _job, events = _run(service, {"device": "sane:test:0", "source": "flatbed", "mode": mode,
                                     "resolution": 100, "paper_size": "A5",
                                     "raw_options": {"test_picture": "Grid"}})
        pages = [e["page"] for e in events if e["type"] == "page"]
        assert len(pages) == 1, events
        page = pages[0]
        assert page["bit_depth"] == depth and page["format"] == fmt and page["mode"] == mode
        # A5 at 100 dpi is 582.7 x 826.8 px; SANE backends truncate or round
        assert abs(page["width"] - 583) <= 1 and abs(page["height"] - 827) <= 1


@pytest.mark.parametrize(("status", "code"), [
    ("SANE_STATUS_JAMMED", "paper_jam"),
    ("SANE_STATUS_COVER_OPEN", "cover_open"),
    ("SANE_STATUS_DEVICE_BUSY", "device_busy"),
    ("SANE_STATUS_IO_ERROR", "device_io_error"),
    ("SANE_STATUS_NO_DOCS", "feeder_empty"),
])
def test_device_statuses_become_typed_job_errors(service: Service, status: str,
                                                 code: str) -> None:
    _job, events = _run(service, {"device": "sane:test:0", "source": "feeder", "resolution": 50,
                                 "raw_options": {"read_return_value": status}})
    final = events[-1]["job"]
    assert final["state"] == "failed"
    assert final["error"]["code"] == code
    assert final["pages_stored"] == 0


def test_pages_can_be_reordered_tagged_and_deleted(service: Service) -> None:
    job, _ = _run(service, {**FEEDER_JOB, "resolution": 50, "pages": 4})
    doc = job["document_id"]
    with service.client() as http:
        ids = [p["id"] for p in http.get(f"/v1/documents/{doc}/pages").json()]
        assert len(ids) == 4
        moved = http.post(f"/v1/documents/{doc}/pages/move",
                          json={"page_ids": [ids[3]], "to_index": 0}).json()
        assert [p["id"] for p in moved] == [ids[3], ids[0], ids[1], ids[2]]
        assert [p["index"] for p in moved] == [0, 1, 2, 3]
        order = [ids[0], ids[1], ids[2], ids[3]]
        assert [p["id"] for p in http.put(f"/v1/documents/{doc}/pages/order",
                                          json={"page_ids": order}).json()] == order
        assert_problem(http.put(f"/v1/documents/{doc}/pages/order",
                                json={"page_ids": order[:2]}), 422, "invalid_setting")
        tagged = http.patch(f"/v1/pages/{ids[1]}",
                            json={"tags": ["invoice"], "metadata": {"n": 1}}).json()
        assert tagged["tags"] == ["invoice"] and tagged["metadata"] == {"n": 1}
        other = http.post("/v1/documents", json={"name": "other"}).json()["id"]
        assert_problem(http.post(f"/v1/documents/{other}/pages/delete",
                                 json={"page_ids": [ids[0]]}), 404, "page_not_found")
        assert_problem(http.get(f"/v1/documents/{other}/export", params={"pages": ids[0]}),
                       404, "page_not_found")
        assert http.get(f"/v1/pages/{ids[0]}").status_code == 200
        assert http.post(f"/v1/documents/{doc}/pages/delete",
                         json={"page_ids": [ids[0], ids[2]]}).json() == {"deleted": 2}
        remaining = [p["id"] for p in http.get(f"/v1/documents/{doc}/pages").json()]
        assert remaining == [ids[1], ids[3]]
        assert http.delete(f"/v1/pages/{ids[1]}").status_code == 204
        assert_problem(http.get(f"/v1/pages/{ids[1]}"), 404, "page_not_found")
        assert http.delete(f"/v1/documents/{doc}/pages").json() == {"deleted": 1}
        assert http.get(f"/v1/documents/{doc}").json()["page_count"] == 0


def test_cancel_running_job_keeps_stored_pages(service: Service) -> None:
    slow = {**FEEDER_JOB, "resolution": 75,
            "raw_options": {"read_delay": True, "read_delay_duration": 20000}}
    with service.client() as http:
        job = http.post("/v1/jobs", json=slow).json()
        import json as _json

        from websockets.sync.client import connect

        url = "ws" + service.url.removeprefix("http") + f"/v1/jobs/{job['id']}/events"
        with connect(url, additional_headers=service.auth) as ws:
            while True:
                event = _json.loads(ws.recv(timeout=60))
                if event["type"] == "page":
                    break
            cancelled = http.post(f"/v1/jobs/{job['id']}/cancel")
            assert cancelled.status_code == 200
            final = None
            while final is None:
                event = _json.loads(ws.recv(timeout=60))
                if event["type"] == "job" and event["job"]["state"] not in ("pending",
                                                                            "running"):
                    final = event["job"]
        assert final["state"] == "cancelled"
        assert 1 <= final["pages_stored"] < 10
        pages = http.get(f"/v1/documents/{job['document_id']}/pages").json()
        assert len(pages) == final["pages_stored"]
        assert_problem(http.post(f"/v1/jobs/{job['id']}/cancel"), 409, "job_state")


def test_second_job_on_busy_device_is_refused(service: Service) -> None:
    slow = {**FEEDER_JOB, "resolution": 75,
            "raw_options": {"read_delay": True, "read_delay_duration": 20000}}
    with service.client() as http:
        first = http.post("/v1/jobs", json=slow).json()
        body = assert_problem(http.post("/v1/jobs", json=slow), 409, "device_busy")
        assert body["job"] == first["id"]
        http.post(f"/v1/jobs/{first['id']}/cancel")
    final = job_events(service.url, first["id"], headers=service.auth)[-1]["job"]
    assert final["state"] in ("cancelled", "completed")


def test_progress_within_a_page_is_published(service: Service) -> None:
    _job, events = _run(service, {"device": "sane:test:0", "source": "flatbed",
                                  "resolution": 150, "paper_size": "A4",
                                  "raw_options": {"read_delay": True,
                                                  "read_delay_duration": 20000}})
    kinds = [e["type"] for e in events]
    progress = [e for e in events if e["type"] == "progress"]
    assert progress, kinds
    assert all(0 < e["fraction"] <= 1 and e["page_index"] == 0 for e in progress)
    assert kinds.index("progress") < kinds.index("page")
    assert events[-1]["job"]["state"] == "completed"


def test_concurrent_jobs_on_one_device_one_wins(service: Service) -> None:
    from concurrent.futures import ThreadPoolExecutor

    slow = {**FEEDER_JOB, "resolution": 75,
            "raw_options": {"read_delay": True, "read_delay_duration": 20000}}

    def post(_: int) -> tuple[int, dict[str, object]]:
        with service.client() as http:
            response = http.post("/v1/jobs", json=slow)
            return response.status_code, response.json()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(post, range(4)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201, 409, 409, 409], results
    assert all(body["code"] == "device_busy" for status, body in results if status == 409)
    created = next(body for status, body in results if status == 201)
    with service.client() as http:
        http.post(f"/v1/jobs/{created['id']}/cancel")
    events = job_events(service.url, str(created["id"]), headers=service.auth)
    assert events[-1]["job"]["state"] == "cancelled"
