"""The app factory: the one module that puts the native API and the compatibility API together.

The native app (``api/app.py``) gets the compatibility APIs (``compat/app.py``) mounted as
sub-applications with their own error handlers, and the access middleware around both, told
which error format a refusal takes on which path. Nothing else imports ``scanlet.compat``
(an import contract in pyproject.toml says so).
"""

from __future__ import annotations

from fastapi import FastAPI

from scanlet.api import access_log, problems
from scanlet.api.app import create_api_app
from scanlet.compat import errors as dwt
from scanlet.compat.app import create_compat
from scanlet.core.runtime import Runtime
from scanlet.security.middleware import AccessControl, ErrorFormat
from scanlet.security.policy import AccessPolicy

#: Refusals on the native paths: problem+json, readable by the page, with a Bearer challenge.
NATIVE_ERRORS = ErrorFormat(render=problems.problem_for)
#: Refusals on the compatibility paths: the reference's body, for programs (no CORS).
COMPAT_ERRORS = ErrorFormat(render=dwt.dwt_response, cors=False, challenge=False)


def error_format(path: str) -> ErrorFormat:
    """The format of the API that serves ``path``."""
    return COMPAT_ERRORS if dwt.is_compat_path(path) else NATIVE_ERRORS


def create_app(runtime: Runtime) -> FastAPI:
    """Build the whole service's app around a runtime; the app starts and closes it with its
    lifespan."""
    compat = create_compat(runtime)
    app = create_api_app(runtime, mounts=compat.mounts, on_close=[compat.close])
    settings = runtime.settings
    app.add_middleware(AccessControl, policy=AccessPolicy(settings, runtime.access),
                       error_format=error_format,
                       max_body_bytes=settings.max_body_kb * 1024,
                       max_file_bytes=settings.max_import_mb * 2**20,
                       scans_per_minute=settings.scans_per_minute)
    if settings.log_requests:  # added last: outside the access control, sees its refusals
        app.add_middleware(access_log.AccessLog)
    return app
