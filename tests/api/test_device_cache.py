"""GET /v1/devices answers from the last listing; refresh=true, unknown ids and the
``devices_changed`` session event, on a real service with the SANE test backend.

The demo SANE config lives in ``<home>/sane``; each listing runs in a fresh listing worker,
which reads the ``test`` backend's ``number_of_devices`` anew. Listings are counted by
``device_listings`` in /v1/admin/status, so "served from the cache" needs no timing.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.api.test_sessions import client_session
from tests.conftest import Service
from tests.devices.test_listing_cache import offer_test_devices
from tests.helpers import assert_problem, job_events

pytestmark = pytest.mark.timeout(180)

ONE_PAGE = {"source": "flatbed", "mode": "gray", "resolution": 75, "pages": 1}


def listings(http: httpx.Client) -> int:
    return int(http.get("/v1/admin/status").json()["device_listings"])


def listed_test_ids(http: httpx.Client, **params: str) -> set[str]:
    response = http.get("/v1/devices", params=params)
    assert response.status_code == 200, response.text
    return {d["id"] for d in response.json() if d["id"].startswith("sane:test:")}




def test_devices_come_from_the_cache_until_refresh(service: Service) -> None:
    config = service.home / "sane"
    with service.client() as http, client_session(service) as (_, ws):
        assert listed_test_ids(http) == {"sane:test:0", "sane:test:1"}  # waits for the first one
        assert listings(http) == 1
        drivers = http.get("/v1/admin/status").json()["device_drivers"]
        assert list(drivers) == ["demo", "sane"]  # --demo: the demo driver first
        sane_ids = [d["id"] for d in http.get("/v1/devices").json()
                    if d["id"].startswith("sane:")]
        assert drivers["sane"] == {"state": "ok", "devices": len(sane_ids), "reason": None}
        assert drivers["demo"]["state"] in ("ok", "unavailable")
        offer_test_devices(config, 3)
        assert listed_test_ids(http) == {"sane:test:0", "sane:test:1"}
        assert listings(http) == 1  # answered from the cache, no listing asked for

        assert "sane:test:2" in listed_test_ids(http, refresh="true")
        assert listings(http) == 2
        assert json.loads(ws.recv(timeout=30)) == {
            "type": "devices_changed", "added": ["sane:test:2"], "removed": []}
        offer_test_devices(config, 2)
        assert listed_test_ids(http, refresh="true") == {"sane:test:0", "sane:test:1"}
        assert json.loads(ws.recv(timeout=30)) == {
            "type": "devices_changed", "added": [], "removed": ["sane:test:2"]}


def test_a_job_for_an_unlisted_id_lists_once_more(service: Service) -> None:
    with service.client() as http:
        listed_test_ids(http)
        offer_test_devices(service.home / "sane", 3)
        job = http.post("/v1/jobs", json={**ONE_PAGE, "device": "sane:test:2"})
        assert job.status_code == 201, job.text
        assert listings(http) == 2
        events = job_events(service.url, job.json()["id"], headers=service.auth)
        assert events[-1]["job"]["state"] == "completed", events[-1]

        missing = http.post("/v1/jobs", json={**ONE_PAGE, "device": "sane:test:8"})
        assert_problem(missing, 404, "device_not_found")
        assert listings(http) == 3
