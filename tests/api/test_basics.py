"""Service basics over real sockets: version, health, devices, schema, docs, bad input."""

from __future__ import annotations

import httpx

from scanlet import __version__
from tests.conftest import Service
from tests.helpers import assert_problem


def test_serve_prints_its_url(service: Service) -> None:
    assert f"listening on {service.url}" in service.log.read_text()


def test_version_health_and_schema(service: Service) -> None:
    with service.client() as http:
        version = http.get("/v1/version").json()
        assert version == {"name": "scanlet", "version": __version__}
        details = http.get("/v1/admin/version").json()
        assert details["build"].startswith(__version__)
        assert details["platform"]["system"]
        health = http.get("/v1/health").json()
        assert health["status"] == "ok" and health["demo"] is True
        schema = http.get("/v1/openapi.json").json()
        assert "/v1/jobs" in schema["paths"] and "/v1/devices" in schema["paths"]
        docs = http.get("/v1/docs")
        assert docs.status_code == 200 and "/v1/pages/{page_id}/image" in docs.text


def test_devices_lists_test_and_pnm(service: Service) -> None:
    with service.client() as http:
        devices = http.get("/v1/devices").json()
        ids = {d["id"] for d in devices}
        assert {"sane:test:0", "sane:pnm:0"} <= ids
        one = http.get("/v1/devices/sane:test:0").json()
        assert one["driver"] == "sane" and one["name"] == "test:0"
        caps = http.get("/v1/devices/sane:test:0/capabilities").json()
        sources = {s["source"]: s for s in caps["sources"]}
        assert set(sources) == {"flatbed", "feeder"}
        assert "A4" in sources["feeder"]["paper_sizes"]
        assert set(sources["flatbed"]["color_modes"]) == {"color", "gray", "bw"}
        assert any(o["name"] in ("read-return-value", "read_return_value")
                   for o in caps["raw_options"])


def test_bad_input_gets_problem_json(service: Service) -> None:
    with service.client() as http:
        assert_problem(http.get("/v1/devices/sane:nope:9"), 404, "device_not_found")
        assert_problem(http.post("/v1/jobs", json={"device": "sane:nope:9"}), 404,
                       "device_not_found")
        body = assert_problem(
            http.post("/v1/jobs", json={"device": "sane:test:0", "resolution": 5000}),
            422, "invalid_setting")
        assert body["field"] == "resolution" and body["allowed"]
        body = assert_problem(
            http.post("/v1/jobs", json={"device": "sane:test:0", "source": "tray"}),
            422, "invalid_request")
        assert body["field"] == "source"
        body = assert_problem(
            http.post("/v1/jobs", json={"device": "sane:test:0", "source": "duplex"}),
            422, "unsupported_source")
        assert body["field"] == "source" and "feeder" in body["allowed"]
        assert_problem(
            http.post("/v1/jobs", content=b"{not json", headers={"content-type":
                                                                  "application/json"}),
            400, "malformed_json")
        assert_problem(http.get("/v1/pages/nope"), 404, "page_not_found")
        assert_problem(http.get("/v1/pages/nope/image"), 404, "page_not_found")
        assert_problem(http.get("/v1/jobs/nope"), 404, "job_not_found")
        assert_problem(http.get("/v1/documents/nope"), 404, "document_not_found")
        assert_problem(http.get("/v1/no-such-route"), 404, "not_found")
        assert_problem(http.delete("/v1/version"), 405, "method_not_allowed")
        assert_problem(http.get("/v1/pages/x/image", params={"width": -1}), 422,
                       "invalid_request")
        empty = http.post("/v1/documents", json={"name": "empty"}).json()
        assert_problem(http.get(f"/v1/documents/{empty['id']}/export"), 422, "invalid_setting")
        assert_problem(http.get(f"/v1/documents/{empty['id']}/export",
                                params={"pages": "nope"}), 404, "page_not_found")
        assert_problem(http.get(f"/v1/documents/{empty['id']}/export",
                                params={"format": "docx"}), 422, "invalid_request")


def test_service_is_loopback_only(service: Service) -> None:
    assert service.url.startswith("http://127.0.0.1:")
    port = int(service.url.rsplit(":", 1)[1])
    import psutil

    listening = [c for c in psutil.Process(service.process.pid).net_connections("inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and all(c.laddr.ip == "127.0.0.1" and c.laddr.port == port
                             for c in listening)
    assert httpx.get(service.url + "/v1/health").status_code == 200
