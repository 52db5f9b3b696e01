"""The compatibility APIs as ASGI sub-applications of their own, with their own error handlers.

``/api`` (the reference's v19 API) and ``/DWTAPI`` (its legacy API) are two small FastAPI apps
that the app factory (``scanlet.app_factory``) mounts into the native app: every error a
compatibility route raises leaves in the reference's body (``compat/errors.py``) without the
native API knowing of it, and the native app's access middleware still sees every request
first. Their routes' paths are relative to the mount point. Both apps share one state (the
runtime, the job engine and the document passwords), so a job made through ``/DWTAPI`` is the
same job under ``/api``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from scanlet.compat import (
    errors,
    routes_devices,
    routes_legacy,
    routes_process,
    routes_server,
    routes_storage,
)
from scanlet.compat.jobs import DwtJobs
from scanlet.core.runtime import Runtime

#: Where the sub-applications are mounted (``errors.COMPAT_PREFIXES`` without the slash).
V19_PATH = "/api"
LEGACY_PATH = "/DWTAPI"


@dataclass
class CompatApi:
    """The routes to add to the native app (the mounted sub-applications, and the bare mount
    paths) and the job engine they share (closed with the app)."""

    jobs: DwtJobs
    mounts: list[BaseRoute]

    async def close(self) -> None:
        await self.jobs.close()


def _sub_app(state: State, routers: tuple[APIRouter, ...]) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state = state
    errors.install(app)
    for router in routers:
        app.include_router(router)
    return app


async def _bare_path(request: Request) -> Response:
    """``/api`` or ``/DWTAPI`` alone (no mount matches it): the reference's 404, as for any
    unknown path below them, instead of a redirect to the path with a slash."""
    return errors.dwt_plain(404, errors.BAD_PARAMETER, "Not Found")


def create_compat(runtime: Runtime) -> CompatApi:
    """The compatibility APIs around ``runtime``, ready to mount."""
    jobs = DwtJobs(runtime)
    state = State({"runtime": runtime, "dwt_jobs": jobs})
    v19 = _sub_app(state, (routes_server.router, routes_storage.router, routes_process.router,
                           routes_devices.router))
    legacy = _sub_app(state, (routes_legacy.router,))
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return CompatApi(jobs, [
        Mount(V19_PATH, app=v19), Mount(LEGACY_PATH, app=legacy),
        *(Route(path, _bare_path, methods=methods, include_in_schema=False)
          for path in (V19_PATH, LEGACY_PATH))])
