"""The PDF worker's limits hold: memory, CPU time, wall-clock time, page count."""

from __future__ import annotations

import logging

import psutil
import pytest

from scanlet.buffer import PageStore
from scanlet.importing import DecodeLimits, PdfLimits, import_file, pdf
from scanlet.importing.errors import ImportFailed, ImportTooLarge
from tests.importing.makers import GREY_CONTENT, busy_pdf, flate_bomb_pdf, vector_pdf

A4 = (595.0, 842.0)


def _no_worker_left() -> bool:
    return not [child for child in psutil.Process().children(recursive=True)
                if "scanlet.importing.pdf_worker" in " ".join(child.cmdline())]


def _clean(store: PageStore, document: str) -> bool:
    scratch = list(store.temp_dir.iterdir()) if store.temp_dir.exists() else []
    return store.list_pages(document) == [] and scratch == [] and _no_worker_left()


def test_worker_runs_under_the_requested_limits(store: PageStore, document: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="scanlet.importing.pdf")
    limits = PdfLimits(memory_bytes=1536 * 2**20, cpu_seconds=77)
    import_file(store, document, vector_pdf([(144, 144, GREY_CONTENT)]), pdf_limits=limits)
    [ready] = [r for r in caplog.records if r.getMessage().startswith("PDF worker ready")]
    assert "'memory_bytes': 1610612736" in ready.getMessage()
    assert "'cpu_seconds': 77" in ready.getMessage()


def test_default_memory_limit_follows_the_pixel_cap() -> None:
    assert PdfLimits().memory_for(1_000_000) < PdfLimits().memory_for(90_000_000)
    assert PdfLimits(memory_bytes=123).memory_for(90_000_000) == 123


def test_memory_limit_refuses_with_413(store: PageStore, document: str) -> None:
    """A4 at 600 dpi is 35 Mpx (within the pixel cap) but needs >100 MB for the bitmap: with
    the decoded-bytes cap raised out of the way, the address-space limit is what refuses it."""
    with pytest.raises(ImportTooLarge) as caught:
        import_file(store, document, vector_pdf([(*A4, GREY_CONTENT)]), dpi=600,
                    pdf_limits=PdfLimits(memory_bytes=150 * 2**20),
                    decode=DecodeLimits(max_decoded_bytes=2**31, budget_bytes=2**32))
    assert caught.value.detail["limit"] == "memory"
    assert _clean(store, document)


def test_cpu_limit_ends_a_page_that_renders_too_long(store: PageStore, document: str) -> None:
    with pytest.raises(ImportTooLarge) as caught:
        import_file(store, document, busy_pdf(), pdf_limits=PdfLimits(cpu_seconds=1))
    assert caught.value.detail["limit"] == "cpu"
    assert _clean(store, document)


def test_wall_clock_timeout_kills_the_worker(store: PageStore, document: str) -> None:
    with pytest.raises(ImportTooLarge) as caught:
        import_file(store, document, busy_pdf(), pdf_limits=PdfLimits(page_timeout=0.5))
    assert caught.value.detail["limit"] == "time"
    assert _clean(store, document)


def test_page_count_cap(store: PageStore, document: str) -> None:
    data = vector_pdf([(72, 72, GREY_CONTENT)] * 3)
    with pytest.raises(ImportTooLarge) as caught:
        import_file(store, document, data, pdf_limits=PdfLimits(max_pages=2))
    assert caught.value.detail == {"limit": "pages", "maximum": 2}
    assert _clean(store, document)
    assert len(import_file(store, document, data, pdf_limits=PdfLimits(max_pages=3))) == 3


def test_a_worker_that_cannot_start_is_an_internal_error(
        store: PageStore, document: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf, "WORKER_MODULE", "scanlet.importing.no_such_worker")
    with pytest.raises(ImportFailed) as caught:
        import_file(store, document, vector_pdf([(72, 72, GREY_CONTENT)]))
    assert (caught.value.code, caught.value.http_status) == ("import_failed", 500)
    assert _clean(store, document)


def test_flate_bomb_in_an_image_is_contained(store: PageStore, document: str) -> None:
    """qpdf cannot inflate 150 MB under a 120 MB limit; the worker falls back to pdfium, which
    decodes only the declared 100 x 100 pixels, or refuses with 413 - never more memory."""
    data = flate_bomb_pdf(150)
    try:
        pages = import_file(store, document, data, dpi=72,
                            pdf_limits=PdfLimits(memory_bytes=120 * 2**20))
    except ImportTooLarge as exc:
        assert exc.detail["limit"] == "memory"
        pages = []
    assert [(p.width, p.height) for p in pages] in ([], [(72, 72)])
    assert [p.id for p in store.list_pages(document)] == [p.id for p in pages]
    assert _no_worker_left()
