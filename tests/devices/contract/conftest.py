"""Fixtures of the driver contract suite: one ``adapter`` per registered driver, and a
``driver`` made through the registry by name (closed after the test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scanlet.devices.driver import Driver
from scanlet.devices.registry import DRIVERS, load_driver
from tests.devices.contract.adapters import ADAPTERS, Adapter


@pytest.fixture(params=list(ADAPTERS))
def adapter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
            tmp_path_factory: pytest.TempPathFactory) -> Adapter:
    chosen = ADAPTERS[request.param]
    if chosen.pending:
        pytest.skip(chosen.pending)
    reason = DRIVERS[chosen.name].unavailable()
    if reason is not None:
        pytest.skip(f"{chosen.name}: {reason}")
    if chosen.prepare is not None:
        chosen.prepare(monkeypatch, tmp_path_factory)
    return chosen


@pytest.fixture
def driver(adapter: Adapter) -> Iterator[Driver]:
    made = load_driver(adapter.name, **adapter.options)
    try:
        yield made
    finally:
        made.close()

