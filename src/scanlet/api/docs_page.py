"""A self-contained API reference page rendered from the OpenAPI schema.

Swagger UI and ReDoc load their scripts from the internet; this page works offline.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["service"])


def _params(op: dict[str, Any]) -> str:
    rows = []
    for p in op.get("parameters", []):
        schema = p.get("schema", {})
        kind = schema.get("type") or "/".join(
            str(s.get("type") or s.get("const") or s.get("enum"))
            for s in schema.get("anyOf", []))
        rows.append(f"<li><code>{escape(p['name'])}</code> ({escape(p['in'])}, "
                    f"{escape(str(kind))}){' required' if p.get('required') else ''}"
                    f" {escape(p.get('description', ''))}</li>")
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    if body:
        ref = body.get("schema", {}).get("$ref", "")
        rows.append(f"<li>JSON body: <code>{escape(ref.rsplit('/', 1)[-1])}</code></li>")
    return f"<ul>{''.join(rows)}</ul>" if rows else ""


def render(schema: dict[str, Any]) -> str:
    """HTML listing every path and method with its summary and parameters."""
    sections = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            sections.append(
                f"<section><h3><span class=m>{escape(method.upper())}</span> "
                f"<code>{escape(path)}</code></h3><p>{escape(op.get('summary', ''))}</p>"
                f"{_params(op)}</section>")
    info = schema.get("info", {})
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(info.get('title', 'API'))}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "section{border-top:1px solid #ddd;padding:.3rem 0}.m{color:#06c}h3{margin:.4rem 0}"
        "</style></head><body>"
        f"<h1>{escape(info.get('title', 'API'))} {escape(info.get('version', ''))}</h1>"
        "<p>Machine-readable schema: <a href=/v1/openapi.json>/v1/openapi.json</a>. "
        "Errors are RFC 9457 <code>application/problem+json</code> with a stable "
        "<code>code</code>. Job events: WebSocket <code>/v1/jobs/{job_id}/events</code>.</p>"
        f"{''.join(sections)}</body></html>"
    )


@router.get("/v1/docs", include_in_schema=False)
def docs(request: Request) -> HTMLResponse:
    return HTMLResponse(render(request.app.openapi()))
