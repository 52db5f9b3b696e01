"""Another OS user's program cannot pose as Scanlet's own page (Linux peer-uid check).

Runs a client as ``nobody`` with ``setpriv`` (needs root and Linux); the same request from
this user is the control.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import httpx
import pytest

from tests.conftest import Service
from tests.helpers import consent_form
from tests.security.test_access_http import FOREIGN

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("setpriv")
    or not os.path.exists("/usr/bin/python3"),
    reason="needs Linux, root and setpriv to run a client as another user")

CLIENT = """
import json, sys, urllib.request, urllib.error
url, method, headers, body = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
request = urllib.request.Request(url, method=method, headers=headers,
                                 data=body.encode() if body else None)
try:
    with urllib.request.urlopen(request, timeout=10) as answer:
        print(answer.status, answer.read().decode())
except urllib.error.HTTPError as error:
    print(error.code, error.read().decode())
"""


def as_user(uid: int | None, url: str, method: str = "GET", headers: dict[str, str] | None = None,
            body: str = "") -> tuple[int, str]:
    """Send a request from a process of ``uid`` (None: this user); status and body."""
    prefix = [] if uid is None else ["setpriv", f"--reuid={uid}", f"--regid={uid}",
                                     "--clear-groups"]
    done = subprocess.run([*prefix, "/usr/bin/python3", "-c", CLIENT, url, method,
                           json.dumps(headers or {}), body],
                          capture_output=True, text=True, timeout=30, cwd="/")
    assert done.returncode == 0, done.stderr
    status, _, text = done.stdout.partition(" ")
    return int(status), text


def test_other_users_cannot_pose_as_own_pages(service: Service) -> None:
    own = {"Origin": service.url, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
    status, body = as_user(None, service.url + "/v1/devices", headers=own)
    assert status == 200 and "sane:test:0" in body
    status, body = as_user(65534, service.url + "/v1/devices", headers=own)
    assert status == 401 and "sane:test:0" not in body
    status, body = as_user(65534, service.url + "/v1/devices",
                           headers={"Sec-Fetch-Site": "same-origin"})
    assert status == 401


def test_other_users_cannot_approve_pairing(service: Service) -> None:
    ask = httpx.post(service.url + "/v1/pair", json={"scopes": ["scan"]},
                     headers={"Origin": FOREIGN}).json()
    page = httpx.get(service.url + f"/pair/{ask['request_id']}").text
    nonce = consent_form(page)
    form = f"nonce={nonce}&decision=allow"
    headers = {"Origin": service.url, "Content-Type": "application/x-www-form-urlencoded"}
    status, _ = as_user(65534, service.url + f"/pair/{ask['request_id']}/decision", "POST",
                        headers, form)
    assert status == 403
    still = httpx.post(service.url + f"/v1/pair/{ask['request_id']}/token",
                       json={"secret": ask["secret"]}, headers={"Origin": FOREIGN})
    assert still.status_code == 202
    status, _ = as_user(None, service.url + f"/pair/{ask['request_id']}/decision", "POST",
                        headers, form)
    assert status == 200
