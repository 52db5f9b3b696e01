"""The request dependency both HTTP APIs share: the :class:`Runtime` an app serves.

The app factory (``scanlet.app_factory``) stores the runtime in the state of the native app
and of each compatibility sub-application, so ``request.app`` finds it whichever app the
request reached.
"""

from __future__ import annotations

from fastapi import Request

from scanlet.core.runtime import Runtime


def runtime(request: Request) -> Runtime:
    """The Runtime this app was built around."""
    rt: Runtime = request.app.state.runtime
    return rt
