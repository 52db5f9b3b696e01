"""Shared request dependencies: the runtime the app serves."""

from __future__ import annotations

from fastapi import Request

from scanlet.service.runtime import Runtime


def runtime(request: Request) -> Runtime:
    """The Runtime this app was built around."""
    rt: Runtime = request.app.state.runtime
    return rt
