"""The decoding budget pages decoded in the service hold (codecs/pixel_budget.py) on a real
DecodeGate, with real threads: waits, 429 after the wait, 413 past the service's share, no
deadlock for a thread that nests holds, the cap on waiting threads, nothing held without an
installed budget (the CLI, workers)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from scanlet.codecs import pixel_budget
from scanlet.codecs.decode import decoded
from scanlet.errors import DecodeBusy, DecodeTooLarge
from scanlet.importing.budget import MB, DecodeGate, DecodeLimits
from tests.importing.hostile import zero_png


@pytest.fixture
def gate() -> Iterator[DecodeGate]:
    """A 768 MB budget (512 MB for the service) with a short wait, installed for the test."""
    gate = DecodeGate(DecodeLimits(budget_bytes=768 * MB, wait_seconds=0.3))
    pixel_budget.install(gate)
    yield gate
    pixel_budget.install(None)


def test_a_decode_holds_its_estimate_while_the_pixels_live(gate: DecodeGate) -> None:
    data = zero_png(2000, 1000)  # 2 Mpx RGB
    with decoded(data, "png") as image:
        held, running = gate.in_use()
        assert held == pixel_budget.work_bytes(2000, 1000, "RGB") == pixel_budget.held()
        assert running == 0  # no import worker slot
        assert image.getpixel((0, 0)) == (0, 0, 0)
    assert gate.in_use() == (0, 0) and pixel_budget.held() == 0


def test_a_full_budget_is_429_after_the_wait_and_room_is_taken(gate: DecodeGate) -> None:
    with gate.reserve(400 * MB):  # an import worker
        with pytest.raises(DecodeBusy) as caught, pixel_budget.holding(113 * MB):
            pass
        assert caught.value.http_status == 429 and caught.value.code == "decode_busy"
        assert caught.value.detail["retry_after"] >= 1
        with pixel_budget.holding(112 * MB):  # 512 MB in all: just fits the service's share
            assert gate.in_use() == (512 * MB, 1)


def test_a_hold_waits_for_room() -> None:
    patient = DecodeGate(DecodeLimits(budget_bytes=768 * MB, wait_seconds=60))
    pixel_budget.install(patient)
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with pixel_budget.holding(400 * MB):
            holding.set()
            release.wait(60)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert holding.wait(60)
        threading.Timer(0.2, release.set).start()
        with pixel_budget.holding(400 * MB):  # waits until the other thread lets go
            assert release.is_set() and patient.in_use()[0] == 400 * MB
    finally:
        release.set()
        thread.join()
        pixel_budget.install(None)


def test_work_past_the_service_share_is_413_at_once(gate: DecodeGate) -> None:
    with pytest.raises(DecodeTooLarge) as caught, pixel_budget.holding(513 * MB):
        pass
    assert caught.value.http_status == 413 and caught.value.code == "decode_too_large"
    assert caught.value.detail == {"needed": 513 * MB, "maximum": 512 * MB}
    # A 16-bit page just within the import caps: too large to analyse, fine to view.
    assert pixel_budget.work_bytes(11500, 11500, "I;16") > 512 * MB
    assert pixel_budget.work_bytes(11500, 11500, "I;16", "view") <= 512 * MB


def test_a_thread_that_holds_budget_nests_without_waiting(gate: DecodeGate) -> None:
    with pixel_budget.holding(400 * MB), pixel_budget.holding(400 * MB):
        # Past the share: another thread's hold would wait, this one does not deadlock.
        assert gate.in_use()[0] == 800 * MB
        outcome: list[BaseException] = []

        def other() -> None:
            try:
                with pixel_budget.holding(1 * MB):
                    pass
            except DecodeBusy as exc:
                outcome.append(exc)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert len(outcome) == 1
    assert gate.in_use() == (0, 0)


def test_at_most_max_waiting_threads_wait() -> None:
    slow = DecodeGate(DecodeLimits(budget_bytes=768 * MB, wait_seconds=5))
    pixel_budget.install(slow)
    started = threading.Barrier(pixel_budget.MAX_WAITING + 1)
    errors: list[BaseException] = []

    def waiter() -> None:
        started.wait()
        try:
            with pixel_budget.holding(100 * MB):
                pass
        except DecodeBusy as exc:
            errors.append(exc)

    with slow.reserve(700 * MB):
        threads = [threading.Thread(target=waiter) for _ in range(pixel_budget.MAX_WAITING)]
        for thread in threads:
            thread.start()
        started.wait()
        deadline = time.monotonic() + 60  # a guard only
        while pixel_budget.waiting() < pixel_budget.MAX_WAITING:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with pytest.raises(DecodeBusy) as caught, pixel_budget.holding(100 * MB):
            pass
        assert "wait" in caught.value.message
    for thread in threads:
        thread.join()
    pixel_budget.install(None)
    assert errors == []  # the eight that waited all got room


def test_nothing_is_held_without_an_installed_budget() -> None:
    assert pixel_budget.installed() is None
    with pixel_budget.holding(10**12):  # far past any budget: the CLI and workers decode
        assert pixel_budget.held() == 0
