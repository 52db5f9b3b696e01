"""The ASGI application: native API under /v1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from scanlet import __version__
from scanlet.api import (
    access_log,
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
from scanlet.compat import routes_devices as compat_devices
from scanlet.compat import routes_legacy as compat_legacy
from scanlet.compat import routes_process as compat_process
from scanlet.compat import routes_server as compat_server
from scanlet.compat import routes_storage as compat_storage
from scanlet.compat.jobs import DwtJobs
from scanlet.security.middleware import AccessControl
from scanlet.security.policy import AccessPolicy
from scanlet.service.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    """Build the app around a runtime; the app starts and closes it with its lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await app.state.dwt_jobs.close()
            await runtime.close()

    app = FastAPI(
        title="Scanlet", version=__version__, lifespan=lifespan,
        openapi_url="/v1/openapi.json", docs_url=None, redoc_url=None,
        description="Local scanning service: devices, scan jobs, page buffer, exports.",
    )
    app.state.runtime = runtime
    app.state.dwt_jobs = DwtJobs(runtime)  # the compatibility API's scan jobs
    problems.install(app)
    for module in (routes_system, routes_pairing, routes_devices, routes_jobs, routes_buffer,
                   routes_import, routes_processing, routes_ocr, routes_tasks, routes_sessions,
                   routes_upload, docs_page, routes_admin, routes_access):
        app.include_router(module.router)
    app.include_router(routes_web.router)
    for compat in (compat_server, compat_storage, compat_process, compat_devices,
                   compat_legacy):
        app.include_router(compat.router)
    settings = runtime.settings
    app.add_middleware(AccessControl, policy=AccessPolicy(settings, runtime.access),
                       max_body_bytes=settings.max_body_kb * 1024,
                       max_file_bytes=settings.max_import_mb * 2**20,
                       scans_per_minute=settings.scans_per_minute)
    if settings.log_requests:  # added last: outside the access control, sees its refusals
        app.add_middleware(access_log.AccessLog)
    return app
