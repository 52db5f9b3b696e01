"""Fuzz every operation of the published OpenAPI schema, with and without an API key.

What this proves, against a real ``scanlet serve --demo`` process on loopback:

* no generated request (schema-valid or not: boundary values, wrong types, missing fields,
  random body bytes, unexpected methods, create/read/update/delete sequences) gets a 5xx, and
  none goes unanswered: every request has a timeout, so a hang is an error and fails the run,
  and each whole run has a bound too;
* the answers that the schema does describe match it (JSON bodies, headers), and data that
  violates the schema is refused with a 4xx;
* without a key no request to a protected route succeeds (no 2xx or 3xx, in any phase, with
  any method) and each protected operation answers 401; with the key the fuzzer reaches real
  logic: real scans on the SANE test backend, real pages and exports
  (devices, documents, pages and jobs seeded before the run are mixed into the generated ids);
* afterwards the service is still alive and healthy, every scan job it started has finished,
  and its log holds no traceback.

The fuzzer is the ``st run`` CLI (schemathesis 4.x) in a subprocess: its warnings stay out of
this process (pytest turns warnings into errors), and it writes its events to an NDJSON report
in ``tmp_path``, which the test reads to show that real operations were exercised. Nothing is
written into the repository: the run's working directory, Hypothesis storage and report all
live in ``tmp_path``, the example database is off and so is schemathesis's crash cache.

Import bodies are drawn from the degenerate page images of tests/degenerate.py as well as
random bytes (``st_hooks.py``), and a pass of imports into one real document shows that a
good part of them were really imported. What those pages meet afterwards is the job of
tests/api/test_degenerate_images.py: every processing, edit, rendition and export route on
each of them (the fuzzer varies the requests; that test varies the pixels).

Not checked here, as known gaps rather than crashes: the statuses the schema does not list
(400, 401, 403, 404, 409, 415, 429), the problem+json content type of errors (the schema says
application/json), constraints the service enforces but the schema does not state (so
``positive_data_acceptance`` would fail).
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Service, make_home, start_service
from tests.degenerate import FILES
from tests.security.conftest import write_config
from tests.security.st_hooks import BODIES_ENV

#: Per operation and phase; a whole run stays well under the subprocess bound below.
MAX_EXAMPLES = 60
HEAVY = r"/(ocr|edit|split|barcodes|blank|import)$"
HEAVY_EXAMPLES = 6
IMPORT = r"/import$"
#: A pass of imports into one real document, so the degenerate bodies really are imported.
IMPORT_EXAMPLES = 30
MIN_DEGENERATE_IMPORTS = 5
SEED = 20240611
REQUEST_TIMEOUT = 20.0  # seconds per request: a hang is a network error, which fails the run
RUN_TIMEOUT = 150.0  # seconds for one whole ``st run`` (about 25 s normally)
CHECKS = ",".join((
    "not_a_server_error",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
))
#: With a key, a method a route lacks must get 405 with Allow; without one, 401 comes first.
KEY_CHECKS = CHECKS + ",unsupported_method"
#: What the access rules let through without a key (policy.classify).
PUBLIC_PATHS = {"/v1/version", "/v1/health"}
PUBLIC_OPERATIONS = {"POST /v1/pair", "POST /v1/pair/{request_id}/token"}
FOREIGN = "http://127.0.0.1:5555"
#: Loaded by ``st run``: import bodies include the degenerate images of tests/degenerate.py.
HOOKS = Path(__file__).with_name("st_hooks.py")
DEVICES = ["sane:test:0", "sane:test:1", "sane:pnm:0"]
TERMINAL = {"completed", "failed", "cancelled", "interrupted"}


@dataclass
class Seeded:
    """Objects that exist before the run, so the fuzzer reaches more than 404."""

    documents: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)


@dataclass
class Report:
    """What the fuzzer sent and got, read from its NDJSON events."""

    #: The operations it ran ("GET /v1/pages/{page_id}").
    operations: set[str] = field(default_factory=set)
    #: Answers by request sent, as "METHOD /path/{template}" (any phase, any method).
    statuses: dict[str, Counter[int | None]] = field(
        default_factory=lambda: defaultdict(Counter))
    #: The exact requests that got a 5xx or no answer, as sent (with the real ids).
    broken: list[str] = field(default_factory=list)
    #: Bodies (base64, as the report holds them) of the imports that were answered 201.
    imported: set[str] = field(default_factory=set)

    def count(self, request: str, low: int, high: int) -> int:
        return sum(n for status, n in self.statuses.get(request, Counter()).items()
                   if status is not None and low <= status < high)

    def merge(self, other: Report) -> None:
        self.operations |= other.operations
        self.imported |= other.imported
        for request, counter in other.statuses.items():
            self.statuses[request].update(counter)


@pytest.fixture
def fuzz_service(tmp_path: Path) -> Iterator[Service]:
    """A service without the scan rate limit (the fuzzer would mostly hit 429 otherwise)."""
    home = make_home(tmp_path / "home")
    write_config(home, "[limits]\nscans_per_minute = 0")
    svc = start_service(home)
    yield svc
    svc.kill(signal.SIGTERM)


def wait_jobs(http: httpx.Client, job_ids: list[str], timeout: float = 60) -> list[dict[str, Any]]:
    """The jobs, once all of them are in a terminal state; fails if one is still busy."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = [http.get(f"/v1/jobs/{job_id}").json() for job_id in job_ids]
        busy = [job for job in jobs if job["state"] not in TERMINAL]
        if not busy:
            return jobs
        assert time.monotonic() < deadline, f"scan jobs still busy after {timeout}s: {busy}"
        time.sleep(0.2)


def seed(service: Service) -> Seeded:
    """Scan a few small pages (JPEG and PNG, flatbed and feeder) into two documents."""
    seeded = Seeded()
    with service.client() as http:
        first = http.post("/v1/jobs", json={"device": "sane:test:0", "resolution": 75})
        assert first.status_code == 201, first.text
        wait_jobs(http, [first.json()["id"]])
        bodies: list[dict[str, Any]] = [
            {"device": "sane:test:0", "resolution": 75, "mode": "bw",
             "document_id": first.json()["document_id"]},
            {"device": "sane:test:1", "source": "feeder", "mode": "gray", "resolution": 75,
             "pages": 3},
        ]
        jobs = [first.json()]
        for body in bodies:
            response = http.post("/v1/jobs", json=body)
            assert response.status_code == 201, response.text
            jobs.append(response.json())
        for job in wait_jobs(http, [job["id"] for job in jobs]):
            assert job["state"] == "completed", job
            seeded.jobs.append(job["id"])
            if job["document_id"] not in seeded.documents:
                seeded.documents.append(job["document_id"])
        for document_id in seeded.documents:
            pages = http.get(f"/v1/documents/{document_id}/pages")
            assert pages.status_code == 200, pages.text
            seeded.pages += [page["id"] for page in pages.json()]
    assert len(seeded.documents) == 2 and len(seeded.pages) == 5, seeded
    return seeded


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


def write_st_config(path: Path, seeded: Seeded, import_into: str | None = None) -> Path:
    """schemathesis.toml: no caches, and real ids mixed into half of the generated ones;
    with ``import_into``, the import route always imports into that document."""
    dictionaries = {"device": DEVICES, "document": seeded.documents, "page": seeded.pages,
                    "job": seeded.jobs}
    bindings = {"path.device_id": "device", "body.device": "device",
                "path.document_id": "document", "body.document_id": "document",
                "path.page_id": "page", "body.page_ids[*]": "page", "query.pages": "page",
                "path.job_id": "job"}
    # Invalid data may also be refused for its size (413 past [limits] max_body_kb).
    refusals = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
    lines = ["[cache]", "enabled = false", "", "[generation]", 'database = "none"', "",
             "[checks.negative_data_rejection]", f"expected-statuses = {refusals}", ""]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {toml_list(values)}", ""]
    lines.append("[parameters]")
    lines += [f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}'
              for key, name in bindings.items()]
    # Pairing needs a web origin; without one every request is a plain 422.
    lines += ["", "[[operations]]", 'include-path-regex = "^/v1/pair"',
              f'headers = {{ Origin = "{FOREIGN}" }}', ""]
    if import_into is not None:
        lines += ["[[operations]]", f'include-path-regex = "{IMPORT}"',
                  f'parameters = {{ "path.document_id" = "{import_into}" }}', ""]
    path.write_text("\n".join(lines))
    return path


def read_report(path: Path) -> tuple[Report, int]:
    """The report, and how many operations the CLI selected."""
    report = Report()
    selected = 0
    with open(path) as fh:
        for line in fh:
            event = json.loads(line)
            if "LoadingFinished" in event:
                selected = event["LoadingFinished"]["statistic"]["operations"]["selected"]
            finished = event.get("ScenarioFinished")
            if finished is None:
                continue
            recorder = finished["recorder"]
            if finished["phase"] != "stateful":
                report.operations.add(recorder["label"])
            for case_id, interaction in recorder.get("interactions", {}).items():
                case = recorder["cases"][case_id]["value"]
                response = interaction.get("response")
                status = response["status_code"] if response else None
                report.statuses[f"{case['method']} {case['path']}"][status] += 1
                body = interaction["request"].get("body")
                if status == 201 and re.search(IMPORT, case["path"]) and isinstance(body, dict):
                    report.imported.add(body.get("$base64", ""))
                if status is None or status >= 500:
                    request = interaction["request"]
                    body = json.dumps(request.get("body"))[:500]
                    report.broken.append(f"{request['method']} {request['uri']} body={body} "
                                         f"-> {status or 'no answer'}")
    return report, selected


def schema_operations(service: Service) -> set[str]:
    """Every operation the live schema publishes, as "METHOD /path"."""
    schema = httpx.get(f"{service.url}/v1/openapi.json", timeout=10).json()
    return {f"{method.upper()} {path}" for path, item in schema["paths"].items()
            for method in item if method in ("get", "put", "post", "delete", "patch")}


def failures_of(result: subprocess.CompletedProcess[str]) -> str:
    """The CLI's failure and error sections (with curl reproductions) and its summary."""
    text = result.stdout
    starts = [i for i in (text.find(" FAILURES "), text.find(" ERRORS ")) if i >= 0]
    head = text[max(0, min(starts) - 100):][:15000] if starts else ""
    return f"{head}\n[...]\n{text[-3000:]}\n{result.stderr[-3000:]}"


def run_fuzzer(service: Service, workdir: Path, config: Path, with_key: bool,
               *extra: str, max_examples: int = MAX_EXAMPLES) -> Report:
    """``st run`` against the live schema; fails on any failed check or error."""
    workdir.mkdir()
    ndjson = workdir / "events.ndjson"
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
        "run", f"{service.url}/v1/openapi.json",
        "--checks", KEY_CHECKS if with_key else CHECKS,
        "--max-examples", str(max_examples), "--seed", str(SEED), "--workers", "1",
        "--request-timeout", str(REQUEST_TIMEOUT), "--request-retries", "0",
        "--generation-database", "none",
        "--report", "ndjson", "--report-ndjson-path", str(ndjson),
        "--report-dir", str(workdir / "reports"),
        *extra,
    ]
    if with_key:
        command += ["--header", f"Authorization: {service.auth['Authorization']}"]
    env = {**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(workdir / "hypothesis"),
           "NO_COLOR": "1", "COLUMNS": "120", "SCHEMATHESIS_HOOKS": str(HOOKS),
           BODIES_ENV: str(write_bodies(workdir / "bodies"))}
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True,
                            timeout=RUN_TIMEOUT, check=False)
    assert service.key not in result.stdout + result.stderr  # the CLI masks it
    assert ndjson.exists(), failures_of(result)
    report, selected = read_report(ndjson)
    # The CLI prints each failure with a curl line; the report adds every broken request.
    assert result.returncode == 0, "\n".join([failures_of(result), *report.broken[:20]])
    assert not report.broken, report.broken[:20]
    assert selected > 0 and len(report.operations) == selected, (selected, report.operations)
    return report


def write_bodies(folder: Path) -> Path:
    """The degenerate page images (tests/degenerate.py) as files for st_hooks.py, which
    makes the fuzzer send them as import bodies besides random bytes."""
    folder.mkdir()
    for name, make in FILES.items():
        data, media = make()
        (folder / f"{name}.{media.replace('/', '+')}").write_bytes(data)
    return folder


def assert_service_survived(service: Service, seeded: Seeded) -> None:
    """Still up and healthy, every scan finished, nothing unexpected in the log."""
    assert service.process.poll() is None, service.log.read_text()[-5000:]
    with service.client() as http:
        assert http.get("/v1/health", timeout=5).status_code == 200
        listed = http.get("/v1/jobs")
        assert listed.status_code == 200, listed.text
        job_ids = [job["id"] for job in listed.json()]
        assert set(seeded.jobs) <= set(job_ids)
        wait_jobs(http, job_ids)
    log = service.log.read_text()
    assert "Traceback" not in log, log[max(0, log.index("Traceback") - 2000):][:8000]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("with_key", [True, False], ids=["with-key", "without-key"])
def test_fuzz_openapi(fuzz_service: Service, tmp_path: Path, with_key: bool) -> None:
    seeded = seed(fuzz_service)
    config = write_st_config(tmp_path / "schemathesis.toml", seeded)
    report = Report()
    if with_key:
        # First without the operations that delete, so the seeded pages live through the
        # whole pass (in the full pass DELETE /v1/pages, which has no parameters, runs early).
        report.merge(run_fuzzer(fuzz_service, tmp_path / "keep", config, with_key,
                                "--exclude-method", "DELETE",
                                "--exclude-path-regex", f"(/pages/delete$)|{HEAVY}"))
    report.merge(run_fuzzer(fuzz_service, tmp_path / "full", config, with_key,
                            "--exclude-path-regex", HEAVY))
    if with_key:
        # Imports into a real document: st_hooks.py draws the bodies from the degenerate page
        # images of tests/degenerate.py (and random bytes); a good part of them must really
        # be imported (201), not only refused. Before the heavy pass, which splits documents.
        with fuzz_service.client() as http:
            target = http.post("/v1/documents", json={"name": "fuzz imports"}).json()["id"]
        imports = run_fuzzer(fuzz_service, tmp_path / "imports",
                             write_st_config(tmp_path / "imports.toml", seeded, target),
                             with_key, "--include-path-regex", IMPORT,
                             max_examples=IMPORT_EXAMPLES)
        degenerate = {base64.b64encode(make()[0]).decode() for make in FILES.values()}
        assert len(imports.imported & degenerate) >= MIN_DEGENERATE_IMPORTS, (
            len(imports.imported & degenerate), imports.statuses)
        report.merge(imports)
    # Processing operations (OCR, edits, barcodes, splitting, imports) cost up to seconds
    # of CPU each, so they get a pass of their own with fewer examples; last, because a
    # split removes the document it splits.
    report.merge(run_fuzzer(fuzz_service, tmp_path / "heavy", config, with_key,
                            "--include-path-regex", HEAVY, max_examples=HEAVY_EXAMPLES))

    # Not vacuous: every operation of the schema was run and got answers.
    assert report.operations == schema_operations(fuzz_service)
    for operation in report.operations:
        assert report.count(operation, 100, 600) > 0, (operation, report.statuses[operation])
    answered = sum(report.count(request, 100, 600) for request in report.statuses)
    heavy = sum(1 for operation in report.operations if re.search(HEAVY, operation))
    assert answered >= (len(report.operations) - heavy) * MAX_EXAMPLES \
        + heavy * HEAVY_EXAMPLES, report.statuses
    for operation in ("GET /v1/version", "GET /v1/health"):
        assert report.count(operation, 200, 300) > 0, report.statuses[operation]

    if with_key:
        # The key works and the fuzzer got past validation into real scans and renditions.
        for operation in ("GET /v1/devices", "GET /v1/devices/{device_id}/capabilities",
                          "GET /v1/documents/{document_id}", "GET /v1/pages/{page_id}",
                          "GET /v1/pages/{page_id}/image",
                          "GET /v1/documents/{document_id}/export", "POST /v1/documents",
                          "PATCH /v1/documents/{document_id}", "PATCH /v1/pages/{page_id}"):
            assert report.count(operation, 200, 300) > 0, (operation, report.statuses[operation])
        assert report.count("POST /v1/jobs", 201, 202) > 0, report.statuses["POST /v1/jobs"]
    else:
        # Default deny: without a key no request to a protected route succeeds (any phase,
        # any method), and every protected operation was seen refusing with 401.
        for request in report.statuses:
            if request.split(" ", 1)[1] in PUBLIC_PATHS or request in PUBLIC_OPERATIONS:
                continue
            assert report.count(request, 200, 400) == 0, (request, report.statuses[request])
            if request in report.operations:
                assert report.count(request, 401, 402) > 0, (request, report.statuses[request])
        assert report.count("POST /v1/pair", 202, 203) > 0, report.statuses["POST /v1/pair"]

    assert_service_survived(fuzz_service, seeded)
