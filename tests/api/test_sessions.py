"""Client sessions: a device's scan worker lives as long as the session that opened it.

A real service (worker_idle_timeout = 30 s, tests/conftest.py) and real scan workers; the
session is the /v1/session WebSocket of a real client.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import httpx
import psutil
from websockets.sync.client import ClientConnection, connect

from tests.conftest import Service
from tests.helpers import assert_problem, job_events

ONE_PAGE = {"device": "sane:test:0", "source": "flatbed", "mode": "gray", "resolution": 75,
            "pages": 1}


@contextmanager
def client_session(service: Service,
                   headers: dict[str, str] | None = None) -> Iterator[tuple[str, ClientConnection]]:
    url = "ws" + service.url.removeprefix("http") + "/v1/session"
    with connect(url, open_timeout=10, close_timeout=5,
                 additional_headers=headers or service.auth) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "session" and hello["id"].startswith("ses_")
        assert hello["worker_idle_timeout"] == 30
        yield hello["id"], ws


def workers(http: httpx.Client) -> int:
    return int(http.get("/v1/health").json()["workers"])


def scan(http: httpx.Client, service: Service, **extra: object) -> None:
    job = http.post("/v1/jobs", json={**ONE_PAGE, **extra})
    assert job.status_code == 201, job.text
    events = job_events(service.url, job.json()["id"], headers=service.auth)
    assert events[-1]["job"]["state"] == "completed", events[-1]


def worker_processes(service: Service) -> set[psutil.Process]:
    """The service's live scan workers (a listing worker stops right after its listing)."""
    found = set()
    for child in psutil.Process(service.process.pid).children():
        with suppress(psutil.NoSuchProcess):  # ZombieProcess too: it just exited
            if child.status() != psutil.STATUS_ZOMBIE \
                    and "scanlet.devices.worker" in " ".join(child.cmdline()):
                found.add(child)
    return found


def wait_for_workers(http: httpx.Client, count: int, within: float) -> float:
    """Seconds until the service has ``count`` device workers (fails after ``within``)."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        if workers(http) == count:
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"still {workers(http)} workers after {within} s, expected {count}")


def test_closing_the_session_stops_its_worker(service: Service) -> None:
    with service.client() as http:
        with client_session(service) as (session, ws):
            scan(http, service, session=session)
            assert workers(http) == 1
            ws.send(json.dumps({"type": "ping"}))
            assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}
            time.sleep(1.0)
            assert workers(http) == 1  # the open session keeps it
        # Well within the 30 s idle timeout: the session's end stops it.
        assert wait_for_workers(http, 0, within=10) < 10


def test_without_a_session_the_idle_timeout_rules(service: Service) -> None:
    with service.client() as http:
        scan(http, service)
        with client_session(service):
            pass  # another client's session opens and ends
        time.sleep(1.5)
        assert workers(http) == 1


def test_a_device_held_by_two_sessions_stays_until_both_end(service: Service) -> None:
    with service.client() as http:
        with client_session(service) as (first, _):
            with client_session(service) as (second, _):
                scan(http, service, session=first)
                caps = http.get("/v1/devices/sane:test:0/capabilities",
                                params={"session": second})
                assert caps.status_code == 200
            time.sleep(1.0)
            assert workers(http) == 1
        wait_for_workers(http, 0, within=10)


def test_sessions_belong_to_their_client(service: Service) -> None:
    made = subprocess.run([sys.executable, "-m", "scanlet", "keys", "create", "other-app",
                           "--home", str(service.home)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    other = {"Authorization": f"Bearer {made.stdout.strip()}"}
    with service.client() as http, client_session(service) as (mine, _):
        theirs = http.post("/v1/jobs", json={**ONE_PAGE, "session": mine}, headers=other)
        assert assert_problem(theirs, 422, "invalid_setting")["field"] == "session"
        unknown = http.post("/v1/jobs", json={**ONE_PAGE, "session": "ses_nope"})
        assert assert_problem(unknown, 422, "invalid_setting")["field"] == "session"
        caps = http.get("/v1/devices/sane:test:0/capabilities", params={"session": "ses_x"})
        assert assert_problem(caps, 422, "invalid_setting")["field"] == "session"
        assert http.get("/v1/jobs").json() == []  # refused before any job started
        # A job of the session's own client works, and its id is not published with it.
        scan(http, service, session=mine)
        assert all("session" not in job["settings"] for job in http.get("/v1/jobs").json())


def test_a_wedged_worker_is_killed_after_the_polite_stop(service: Service) -> None:
    with service.client() as http:
        assert http.get("/v1/devices").status_code == 200  # the listing worker starts
        listing = worker_processes(service)
        with client_session(service) as (session, _):
            scan(http, service, session=session)
            (worker,) = worker_processes(service) - listing
            worker.suspend()  # SIGSTOP: it can no longer answer the shutdown request
        wait_for_workers(http, 0, within=15)
        worker.wait(timeout=15)  # reaped: killed after the grace, not left stopped
        assert not psutil.pid_exists(worker.pid) or \
            psutil.Process(worker.pid).status() == psutil.STATUS_ZOMBIE
