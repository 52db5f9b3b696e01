"""The service's own pages and the JavaScript SDK.

``/``, ``/admin`` and ``/demo`` are static HTML documents; their ES modules, style sheet and
strings come from ``/web/...``; the SDK's modules from ``/sdk/...``. Nothing here needs a token
(``policy.classify`` makes these paths "page" routes; the Host check still applies), and
nothing here touches the runtime: the pages talk to the API like any client.

``/sdk/*`` may be loaded by any web page as a module script (CORS mode, no credentials), so it
answers with ``Access-Control-Allow-Origin: *`` and ``Cross-Origin-Resource-Policy:
cross-origin``. Files are revalidated on every use (``Cache-Control: no-cache`` with an
``ETag``), so a service update is picked up at once.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from scanlet import web
from scanlet.errors import NotFound

router = APIRouter(include_in_schema=False)
_METHODS = ["GET", "HEAD"]
_SDK_HEADERS = {"Access-Control-Allow-Origin": "*",
                "Cross-Origin-Resource-Policy": "cross-origin"}
_ASSET_HEADERS = {"Cross-Origin-Resource-Policy": "same-origin"}


def _file_response(request: Request, path: Path, extra: dict[str, str]) -> Response:
    asset = web.load(path)
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache", **extra}
    if web.etag_matches(request.headers.get("if-none-match"), asset.etag):
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else asset.body
    headers["Content-Length"] = str(len(asset.body))
    return Response(body, media_type=asset.media_type, headers=headers)


def _page(request: Request) -> Response:
    path = web.page_file(request.url.path)
    if path is None or not path.is_file():  # pragma: no cover - the package ships them
        raise NotFound("no such page")
    body = path.read_bytes()
    return Response(b"" if request.method == "HEAD" else body,
                    media_type="text/html; charset=utf-8",
                    headers={"Content-Length": str(len(body))})


@router.api_route("/", methods=_METHODS)
def welcome(request: Request) -> Response:
    """The welcome and status page."""
    return _page(request)


@router.api_route("/admin", methods=_METHODS)
def admin(request: Request) -> Response:
    """Paired sites, API keys, log level, listeners, certificate."""
    return _page(request)


@router.api_route("/demo", methods=_METHODS)
def demo(request: Request) -> Response:
    """Scan, view, edit, export and upload with the SDK and the viewer."""
    return _page(request)


@router.api_route("/sdk/{file_path:path}", methods=_METHODS)
def sdk(file_path: str, request: Request) -> Response:
    """A file of the JavaScript SDK (``sdk-js/src``)."""
    root = web.sdk_dir()
    path = web.resolve(root, file_path) if root is not None else None
    if path is None:
        raise NotFound("no such SDK file")
    return _file_response(request, path, _SDK_HEADERS)


@router.api_route("/web/{file_path:path}", methods=_METHODS)
def asset(file_path: str, request: Request) -> Response:
    """A script, style sheet or string table of the service's own pages."""
    path = web.resolve(web.WEB_DIR, file_path, web.ASSET_FOLDERS)
    if path is None:
        raise NotFound("no such file")
    return _file_response(request, path, _ASSET_HEADERS)
