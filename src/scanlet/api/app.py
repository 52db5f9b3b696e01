"""The native API's ASGI application: ``/v1``, the pages and the SDK.

It knows nothing of the compatibility API: the app factory (``scanlet.app_factory``) mounts
that as sub-applications (``mounts``), closes what they hold (``on_close``) and wraps the
whole with the access middleware.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import BaseRoute

from scanlet import __version__
from scanlet.api import (
    docs_page,
    problems,
    routes_access,
    routes_admin,
    routes_buffer,
    routes_devices,
    routes_import,
    routes_jobs,
    routes_ocr,
    routes_pairing,
    routes_processing,
    routes_sessions,
    routes_system,
    routes_tasks,
    routes_upload,
    routes_web,
)
from scanlet.core.runtime import Runtime


def create_api_app(runtime: Runtime, *, mounts: Sequence[BaseRoute] = (),
                   on_close: Sequence[Callable[[], Awaitable[None]]] = ()) -> FastAPI:
    """Build the app around a runtime; the app starts and closes it with its lifespan (after
    ``on_close``, in order). ``mounts`` come after the native routes."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            for close in on_close:
                await close()
            await runtime.close()

    app = FastAPI(
        title="Scanlet", version=__version__, lifespan=lifespan,
        openapi_url="/v1/openapi.json", docs_url=None, redoc_url=None,
        description="Local scanning service: devices, scan jobs, page buffer, exports.",
    )
    app.state.runtime = runtime
    problems.install(app)
    for module in (routes_system, routes_pairing, routes_devices, routes_jobs, routes_buffer,
                   routes_import, routes_processing, routes_ocr, routes_tasks, routes_sessions,
                   routes_upload, docs_page, routes_admin, routes_access):
        app.include_router(module.router)
    app.include_router(routes_web.router)
    app.router.routes.extend(mounts)
    return app
