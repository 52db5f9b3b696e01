"""Every scanned page ends up with its preview before anyone asks for a thumbnail: made by the
scan worker from the pixels, or (when its encoders were behind the device) by the service's
low-priority backfill."""

from __future__ import annotations

import time

from tests.conftest import Service
from tests.helpers import job_events

FEEDER_A4 = {"device": "sane:test:0", "source": "feeder", "mode": "color", "resolution": 300,
             "paper_size": "A4", "pages": "all"}


def test_every_scanned_page_gets_a_preview(service: Service) -> None:
    with service.client() as http:
        job = http.post("/v1/jobs", json=FEEDER_A4)
        assert job.status_code == 201, job.text
        events = job_events(service.url, job.json()["id"], headers=service.auth)
        assert events[-1]["job"]["state"] == "completed"
        pages = {e["page"]["id"] for e in events if e["type"] == "page"}
        assert len(pages) == 10
        thumbs = service.home / "cache" / "thumbs"
        deadline = time.monotonic() + 60
        with_preview: set[str] = set()
        while time.monotonic() < deadline:
            with_preview = {p.name.split(".", 1)[0] for p in thumbs.iterdir()}
            if with_preview >= pages:
                break
            time.sleep(0.2)
        assert with_preview >= pages, sorted(pages - with_preview)
        # Only previews so far (no rendition was asked for): one file per page.
        assert len(list(thumbs.iterdir())) == len(pages)
