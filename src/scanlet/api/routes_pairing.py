"""Pairing endpoints and the consent page the user approves on.

``POST /v1/pair`` and ``POST /v1/pair/{id}/token`` are called by a web page from its own
origin. ``GET /pair/{id}`` is the consent page, opened by that page in a new window on a user
gesture; it is served by Scanlet on its own origin, cannot be framed, and its form posts the
decision back with a nonce only that page knows. Its Allow button is enabled by
``/web/js/consent.js`` only ``[security] consent_delay_ms`` after the page became visible and
focused, and the service refuses an Allow that comes sooner after it served the page.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.errors import ConsentTooSoon, InvalidSetting, PairingError
from scanlet.security.access import WEB_SCOPES
from scanlet.security.origins import parse_origin
from scanlet.security.pairing import PairRequest

router = APIRouter(tags=["pairing"])
Rt = Annotated[Runtime, Depends(runtime)]

SCOPE_TEXT = {
    "scan": "use your scanners and see the pages they scan",
    "camera": "use your cameras",
    "upload": "send scanned documents to web servers",
    "files": "read files you choose",
}


class PairBody(BaseModel):
    scopes: list[Literal["scan", "camera", "upload", "files"]] = Field(
        default=["scan"], min_length=1, max_length=len(WEB_SCOPES))
    app_name: str = Field(default="", max_length=80)


class CollectBody(BaseModel):
    secret: str = Field(min_length=8, max_length=100)


class PairAnswer(BaseModel):
    status: Literal["pending", "approved"]
    origin: str
    scopes: list[str]
    request_id: str | None = None
    secret: str | None = Field(default=None, description="Poll secret for /v1/pair/{id}/token")
    code: str | None = Field(default=None, description="Show it; the consent page shows it too")
    consent_url: str | None = None
    expires_in: float | None = Field(
        default=None, description="Seconds the request lives at most (once its consent page "
        "was opened)")
    open_within: float | None = Field(
        default=None, description="Seconds to open the consent page; unopened, the request "
        "lapses then")
    token: str | None = Field(default=None, description="Send as Authorization: Bearer")
    token_expires_at: float | None = None


def _page_origin(request: Request) -> str:
    raw = request.headers.getlist("origin")
    origin = parse_origin(raw[0]) if len(raw) == 1 else None
    principal = request.scope.get("state", {}).get("principal")
    if origin is None or (principal is not None and principal.kind == "self"):
        raise InvalidSetting("pairing is for web pages: call it from the page's own origin "
                             "(native clients use API keys)", field="origin")
    return origin


def _answer(request: PairRequest, token: str | None) -> PairAnswer:
    assert request.grant is not None
    return PairAnswer(status="approved", origin=request.origin, scopes=sorted(request.scopes),
                      token=token, token_expires_at=request.grant.expires)


@router.post("/v1/pair", summary="Ask the user to pair this web origin",
             responses={202: {"model": PairAnswer}})
def pair(body: PairBody, request: Request, rt: Rt) -> Any:
    origin = _page_origin(request)
    outcome = rt.pairing.request(origin, list(body.scopes), body.app_name)
    pending = outcome.request
    if outcome.token is not None:
        return _answer(pending, outcome.token)
    scheme = request.scope.get("scheme", "http")
    consent = f"{scheme}://{request.headers['host']}/pair/{pending.id}"
    answer = PairAnswer(status="pending", origin=origin, scopes=sorted(pending.scopes),
                        request_id=pending.id, secret=outcome.secret, code=pending.code,
                        consent_url=consent,
                        expires_in=round(rt.pairing.lifetime(pending), 1),
                        open_within=round(pending.expires - rt.pairing.now(), 1))
    return JSONResponse(answer.model_dump(exclude_none=True), status_code=202)


@router.post("/v1/pair/{request_id}/token",
             summary="Collect the token once the user allowed (202 while pending)",
             responses={202: {"model": PairAnswer}})
def collect(request_id: str, body: CollectBody, request: Request, rt: Rt) -> Any:
    origin = _page_origin(request)
    pending, token = rt.pairing.collect(request_id, origin, body.secret)
    if token is None:
        answer = PairAnswer(status="pending", origin=origin, scopes=sorted(pending.scopes),
                            request_id=pending.id)
        return JSONResponse(answer.model_dump(exclude_none=True), status_code=202)
    return _answer(pending, token)


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;"
    "color:#111}h1{font-size:1.3rem}.origin{font:600 1.15rem ui-monospace,monospace;"
    "background:#f3f3f3;padding:.5rem;word-break:break-all}.code{font:700 2rem ui-monospace,"
    "monospace;letter-spacing:.2rem}button{font-size:1rem;padding:.5rem 1.2rem;margin-right:"
    ".8rem}button:focus{outline:3px solid #06c}button:disabled{opacity:.5}"
    ".note{color:#555;font-size:.9rem}"
)


def _html(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
        f"content='width=device-width'><title>{escape(title)}</title><style>{_STYLE}</style>"
        f"</head><body>{body}</body></html>", status_code=status)


@router.get("/pair/{request_id}", include_in_schema=False)
def consent_page(request_id: str, request: Request, rt: Rt) -> HTMLResponse:
    # Opened as a page: a navigation (Sec-Fetch-Dest: document), or a client that sends no
    # Fetch Metadata. A script's no-cors fetch or an <img> does not keep the request alive.
    dest = request.headers.get("sec-fetch-dest")
    try:
        pending = rt.pairing.serve(request_id, as_page=dest in (None, "document"))
    except PairingError:
        return _html("Scanlet: no such request", "<h1>This pairing request is gone</h1><p>"
                     "It expired or was already answered. Ask the site to pair again.</p>", 404)
    if pending.status != "pending":
        return _html("Scanlet: already answered", "<h1>Already answered</h1>")
    scopes = "".join(f"<li><b>{escape(s)}</b>: {escape(SCOPE_TEXT[s])}</li>"
                     for s in sorted(pending.scopes))
    name = (f"<p class=note>It calls itself “{escape(pending.app_name)}” (the site chose "
            "this name; trust the address above).</p>") if pending.app_name else ""
    return _html("Scanlet: allow this site?", f"""
<h1>Allow this web site to use Scanlet on this computer?</h1>
<p class=origin id=origin>{escape(pending.origin)}</p>{name}
<p>It asks to:</p><ul id=scopes>{scopes}</ul>
<p>Check that the site shows this same code:</p><p class=code id=code>{escape(pending.code)}</p>
<form method=post action="/pair/{escape(pending.id)}/decision" id=consent
 data-delay-ms="{round(rt.pairing.limits.consent_delay * 1000)}">
<input type=hidden name=nonce value="{escape(pending.nonce)}">
<button type=submit name=decision value=deny id=deny autofocus>Deny</button>
<button type=submit name=decision value=allow id=allow disabled>Allow</button>
</form>
<p class=note id=wait role=status>Allow becomes available a moment after this window is in
front, so that a click meant for another page cannot land on it.</p>
<noscript><p class=note>Allow needs JavaScript on this page.</p></noscript>
<script type=module src="/web/js/consent.js"></script>
<p class=note>Only allow sites you trust. You can revoke access at any time with
<code>scanlet sites revoke {escape(pending.origin)}</code>.</p>""")


@router.post("/pair/{request_id}/decision", include_in_schema=False)
async def consent_decision(request_id: str, request: Request, rt: Rt) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=4)
    nonce = (form.get("nonce") or [""])[0]
    decision = (form.get("decision") or [""])[0]
    if decision not in ("allow", "deny"):
        return _html("Scanlet", "<h1>Choose Allow or Deny</h1>", 400)
    try:
        decided = rt.pairing.decide(request_id, nonce, decision == "allow")
    except ConsentTooSoon as exc:
        response = _html("Scanlet: too quick", "<h1 id=result>Too quick</h1><p>Allow was "
                         "clicked right as this page appeared, so it did not count: a click "
                         "meant for another page may have landed on it. Nothing was allowed."
                         f"</p><p><a id=again href='/pair/{escape(request_id)}'>Back to the "
                         "request</a>: check the site and the code, then decide.</p>"
                         f"<p class=note>{escape(exc.code)}</p>", exc.http_status)
        response.headers["Retry-After"] = str(max(1, -(-exc.detail["delay_ms"] // 1000)))
        return response
    except PairingError:
        return _html("Scanlet: no such request", "<h1>This pairing request is gone</h1>", 404)
    if decided.status == "approved":
        return _html("Scanlet: allowed", f"<h1 id=result>Allowed</h1><p>"
                     f"{escape(decided.origin)} can now use Scanlet. You can close this "
                     "window.</p>")
    return _html("Scanlet: denied", f"<h1 id=result>Denied</h1><p>{escape(decided.origin)} "
                 "was not given access. You can close this window.</p>")
