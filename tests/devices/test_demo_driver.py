"""The demo driver through its Driver methods: devices, capabilities, sources, page limits,
resolution/mode/area, faults, cancel, refused settings, determinism and close."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from PIL import Image

from scanlet.devices import registry
from scanlet.devices.demo.caps import DEVICE_ID
from scanlet.devices.demo.driver import DemoDriver
from scanlet.devices.demo.stack import DEFAULT_STACK
from scanlet.devices.registry import load_driver
from scanlet.devices.validate import validate_settings
from scanlet.errors import (
    CoverOpen,
    DeviceNotFound,
    DoubleFeed,
    DriverError,
    FeederEmpty,
    InvalidSetting,
    PaperJam,
    ScanCancelled,
    UnsupportedSource,
)
from scanlet.models import ColorMode, Compression, ScanSettings, Source
from tests.devices.sinks import CollectingSink, run_scan


@pytest.fixture
def driver() -> DemoDriver:
    made = load_driver("demo")
    assert isinstance(made, DemoDriver)
    return made


def pixels(image: Image.Image) -> bytes:
    return image.tobytes()


def scan(driver: DemoDriver, **settings: Any) -> CollectingSink:
    return run_scan(driver, **{"device": DEVICE_ID, "resolution": 75, **settings})


def single(driver: DemoDriver, name: str, **settings: Any) -> bytes:
    """Pixels of the flatbed scan of the one sheet ``name``."""
    sink = scan(driver, source="flatbed", raw_options={"stack": name}, **settings)
    return pixels(sink.images()[0])


# -- devices and capabilities ------------------------------------------------------------------


def test_one_device_with_a_stable_id_routed_to_the_demo_driver(driver: DemoDriver) -> None:
    (device,) = driver.list_devices()
    assert device.id == "demo:scanner" and device.driver == "demo" == driver.name
    assert device.label == "Scanlet Demo Scanner"
    assert DemoDriver().list_devices() == [device]
    assert registry.driver_of(device.id).name == "demo"
    assert registry.info("demo").isolated is False


def test_capabilities_offer_three_sources_and_the_demo_options(driver: DemoDriver) -> None:
    caps = driver.capabilities(DEVICE_ID)
    assert caps.device_id == DEVICE_ID
    assert [s.source for s in caps.sources] == [Source.FLATBED, Source.FEEDER, Source.DUPLEX]
    for source in caps.sources:
        assert source.color_modes == {ColorMode.COLOR: [8], ColorMode.GRAY: [8, 16],
                                      ColorMode.BW: [1]}
        assert 150 in source.resolutions and 300 in source.resolutions
        assert {"A4", "Letter"} <= set(source.paper_sizes)
    assert {o.name for o in caps.raw_options} == {"fault", "fault-page", "stack",
                                                  "page-delay-ms"}
    with pytest.raises(DeviceNotFound):
        driver.capabilities("demo:nothing")


def test_the_demo_pages_first_scan_is_accepted(driver: DemoDriver) -> None:
    """What web/js/demo.js sends with nothing chosen: the first device, its first source and
    mode, the resolution nearest 150 and one page."""
    caps = driver.capabilities(driver.list_devices()[0].id)
    first = caps.sources[0]
    resolution = min(first.resolutions, key=lambda r: abs(r - 150))
    settings: dict[str, Any] = dict(device=caps.device_id, source=first.source.value,
                                    mode=next(iter(first.color_modes)).value,
                                    resolution=resolution, pages=1)
    validate_settings(ScanSettings.model_validate(settings), caps)
    sink = run_scan(driver, **settings)
    assert len(sink.pages) == 1 and sink.pages[0].format == "png"


# -- geometry and modes ------------------------------------------------------------------------


@pytest.mark.parametrize(("settings", "size"), [
    ({"resolution": 150}, (1240, 1754)),  # A4 by default
    ({"resolution": 100, "paper_size": "Letter"}, (850, 1100)),
    ({"resolution": 300, "area": {"left": 10, "top": 20, "width": 50, "height": 80}},
     (591, 945)),
    ({"resolution": 75, "paper_size": "A5"}, (437, 620)),
])
def test_resolution_and_area_give_the_pixel_size(driver: DemoDriver, settings: dict[str, Any],
                                                 size: tuple[int, int]) -> None:
    sink = scan(driver, **{"source": "feeder", "pages": 1, **settings})
    page = sink.pages[0]
    assert (page.width, page.height) == size
    assert page.dpi == settings["resolution"]
    assert sink.images()[0].info["dpi"] == pytest.approx((page.dpi, page.dpi), abs=0.05)


def test_an_area_is_the_same_part_of_the_page(driver: DemoDriver) -> None:
    whole = scan(driver, source="flatbed", mode="gray", resolution=100).images()[0]
    # 25.4 mm = 100 pixels at 100 dpi: the window starts on a whole pixel.
    part = scan(driver, source="flatbed", mode="gray", resolution=100,
                area={"left": 25.4, "top": 50.8, "width": 101.6, "height": 76.2}).images()[0]
    assert part.size == (400, 300)
    assert pixels(part) == pixels(whole.crop((100, 200, 500, 500)))
    assert len(np.unique(np.asarray(part))) > 2  # text, not paper only


@pytest.mark.parametrize(("mode", "depth", "layout", "pil_mode"), [
    ("color", None, "rgb8", "RGB"), ("gray", None, "gray8", "L"),
    ("gray", 16, "gray16", "I;16"), ("bw", None, "bw1", "1"),
])
def test_modes_give_their_layouts(driver: DemoDriver, mode: str, depth: int | None,
                                  layout: str, pil_mode: str) -> None:
    sink = scan(driver, source="flatbed", mode=mode, bit_depth=depth)
    raw, image = sink.raw[0], sink.images()[0]
    assert raw.layout == layout and raw.mode == ColorMode(mode)
    assert image.mode == pil_mode
    if mode == "bw":
        ink = ~np.asarray(image)
        grey = np.asarray(scan(driver, source="flatbed", mode="gray").images()[0])
        assert np.array_equal(ink, grey < 128)  # 1 = black in the frame, black in the PNG
        assert 0 < ink.mean() < 0.2


def test_16_bit_grey_is_the_8_bit_grey_widened(driver: DemoDriver) -> None:
    eight = np.asarray(scan(driver, source="flatbed", mode="gray").images()[0], dtype=np.uint32)
    sixteen = np.asarray(scan(driver, source="flatbed", mode="gray", bit_depth=16,
                              compression="lossless").images()[0], dtype=np.uint32)
    assert sixteen.shape == eight.shape
    assert np.array_equal(sixteen, eight * 257)


def test_colour_pages_are_jpeg_with_auto_compression(driver: DemoDriver) -> None:
    sink = run_scan(driver, CollectingSink(compression=Compression.AUTO), device=DEVICE_ID,
                    source="flatbed", resolution=75)
    assert sink.pages[0].format == "jpeg"


def test_brightness_and_contrast_change_the_pixels(driver: DemoDriver) -> None:
    def mean(**settings: Any) -> float:
        image = scan(driver, source="flatbed", mode="gray", raw_options={"stack": "photo"},
                     **settings).images()[0]
        return float(np.asarray(image).mean())

    plain = mean()
    assert mean(brightness=-50) < plain - 20
    dark = np.asarray(scan(driver, source="flatbed", mode="gray", contrast=60,
                           raw_options={"stack": "photo"}).images()[0])
    assert dark.std() > np.asarray(scan(driver, source="flatbed", mode="gray",
                                        raw_options={"stack": "photo"}).images()[0]).std()


# -- sources and page limits -------------------------------------------------------------------


def test_the_flatbed_gives_the_letter_once_or_as_often_as_asked(driver: DemoDriver) -> None:
    assert len(scan(driver, source="flatbed").pages) == 1
    assert len(scan(driver, source="flatbed", pages="all").pages) == 1
    three = scan(driver, source="flatbed", pages=3)
    assert len({pixels(i) for i in three.images()}) == 1
    assert pixels(three.images()[0]) == single(driver, "letter")


def test_the_feeder_gives_the_stack_in_order_until_empty(driver: DemoDriver) -> None:
    sink = scan(driver, source="feeder", mode="gray")
    assert [pixels(i) for i in sink.images()] == [single(driver, name, mode="gray")
                                                  for name in DEFAULT_STACK]
    assert {r.source for r in sink.raw} == {Source.FEEDER}
    assert sink.waits == len(DEFAULT_STACK)  # room asked for before every page


def test_the_duplex_feeder_gives_front_then_back(driver: DemoDriver) -> None:
    sink = scan(driver, source="duplex", mode="gray", raw_options={"stack": "letter,two-sided"})
    letter, letter_back, front, back = (pixels(i) for i in sink.images())
    assert letter == single(driver, "letter", mode="gray")
    assert front == single(driver, "two-sided", mode="gray")
    assert len(set(letter_back)) == 1  # a blank back: white paper
    assert back != front and len(set(back)) > 2
    assert {r.source for r in sink.raw} == {Source.DUPLEX}


@pytest.mark.parametrize(("source", "pages", "count"), [
    ("feeder", 3, 3), ("duplex", 3, 3), ("feeder", 100, len(DEFAULT_STACK)),
    ("duplex", "all", 2 * len(DEFAULT_STACK)),
])
def test_the_page_limit_is_honoured(driver: DemoDriver, source: str, pages: int | str,
                                    count: int) -> None:
    assert len(scan(driver, source=source, pages=pages).pages) == count


def test_progress_is_reported_while_each_page_is_read(driver: DemoDriver) -> None:
    reports: list[tuple[int, int, int]] = []
    run_scan(driver, device=DEVICE_ID, source="feeder", resolution=75, pages=2,
             progress=lambda *a: reports.append(a))
    for index in (0, 1):
        lines = [(done, total) for i, done, total in reports if i == index]
        assert len(lines) > 1
        assert [d for d, _ in lines] == sorted(d for d, _ in lines)
        assert lines[-1] == (877, 877)


def test_the_same_settings_give_the_same_pixels(driver: DemoDriver) -> None:
    settings: dict[str, Any] = {"source": "duplex", "mode": "color", "resolution": 100}
    first = scan(driver, **settings)
    again = run_scan(DemoDriver(), device=DEVICE_ID, **settings)
    assert [bytes(r.data) for r in first.raw] == [bytes(r.data) for r in again.raw]


# -- faults ------------------------------------------------------------------------------------


def fault(driver: DemoDriver, kind: str, page: int | None = None, source: str = "feeder",
          progress: Any = None) -> tuple[BaseException, CollectingSink]:
    sink = CollectingSink()
    options: dict[str, Any] = {"fault": kind}
    if page is not None:
        options["fault_page"] = page
    with pytest.raises(Exception) as caught:
        run_scan(driver, sink, progress=progress, device=DEVICE_ID, source=source,
                 resolution=75, raw_options=options)
    return caught.value, sink


def test_a_paper_jam_stops_mid_page_after_handing_over_the_pages_before(
        driver: DemoDriver) -> None:
    reports: list[tuple[int, int, int]] = []
    error, sink = fault(driver, "jam", 3, progress=lambda *a: reports.append(a))
    assert isinstance(error, PaperJam) and error.code == "paper_jam"
    assert error.detail["page"] == 3 and error.detail["device"] == DEVICE_ID
    assert len(sink.pages) == 2
    jammed = [done for i, done, total in reports if i == 2]
    assert jammed and max(jammed) < 877  # the third page was being read when it jammed


def test_a_double_feed_and_an_open_cover(driver: DemoDriver) -> None:
    error, sink = fault(driver, "double-feed", 2, source="duplex")
    assert isinstance(error, DoubleFeed) and error.code == "double_feed"
    assert len(sink.pages) == 1
    error, sink = fault(driver, "cover-open")
    assert isinstance(error, CoverOpen) and error.code == "cover_open"
    assert sink.pages == [] and error.detail["page"] == 1
    error, sink = fault(driver, "cover-open", source="flatbed")
    assert isinstance(error, CoverOpen)


def test_an_empty_feeder_fails_before_the_first_page(driver: DemoDriver) -> None:
    for source in ("feeder", "duplex"):
        error, sink = fault(driver, "feeder-empty", source=source)
        assert isinstance(error, FeederEmpty) and error.code == "feeder_empty"
        assert sink.pages == [] and sink.waits == 0


def test_a_fault_after_the_last_page_never_happens(driver: DemoDriver) -> None:
    sink = scan(driver, source="feeder", pages=2, raw_options={"fault": "jam", "fault-page": 3})
    assert len(sink.pages) == 2


# -- cancel ------------------------------------------------------------------------------------


def test_cancel_between_pages(driver: DemoDriver) -> None:
    cancelled = threading.Event()

    def after(sink: CollectingSink) -> None:
        if len(sink.pages) == 2:
            cancelled.set()

    sink = CollectingSink(on_frame=after)
    with pytest.raises(ScanCancelled) as caught:
        run_scan(driver, sink, cancelled, device=DEVICE_ID, source="feeder", resolution=75)
    assert len(sink.pages) == 2 and caught.value.detail["pages"] == 2


def test_cancel_mid_page(driver: DemoDriver) -> None:
    cancelled = threading.Event()
    reports: list[tuple[int, int, int]] = []

    def progress(index: int, done: int, total: int) -> None:
        reports.append((index, done, total))
        if index == 1:
            cancelled.set()

    sink = CollectingSink()
    with pytest.raises(ScanCancelled):
        run_scan(driver, sink, cancelled, progress, device=DEVICE_ID, source="feeder",
                 resolution=75)
    assert len(sink.pages) == 1
    assert [r for r in reports if r[0] == 1] == [(1, 55, 877)]  # one band, then stopped


def test_driver_cancel_from_another_thread_stops_a_slow_page(driver: DemoDriver) -> None:
    started = threading.Event()
    outcome: list[BaseException] = []

    def work() -> None:
        try:
            run_scan(driver, progress=lambda *a: started.set(), device=DEVICE_ID,
                     source="feeder", resolution=75, raw_options={"page_delay_ms": 10000})
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    assert started.wait(60)
    driver.cancel()
    thread.join(60)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ScanCancelled)


# -- refused settings and close ----------------------------------------------------------------


@pytest.mark.parametrize(("settings", "field"), [
    ({"resolution": 123}, "resolution"),
    ({"mode": "gray", "bit_depth": 16, "compression": "jpeg"}, "compression"),
    ({"mode": "color", "bit_depth": 16}, "bit_depth"),
    ({"area": {"left": 100, "top": 0, "width": 150, "height": 100}}, "area"),
    ({"paper_size": "A3"}, "paper_size"),
    ({"brightness": 300}, "brightness"),
    ({"raw_options": {"colour": "red"}}, "raw_options"),
    ({"raw_options": {"fault": "fire"}}, "raw_options"),
    ({"raw_options": {"fault": "jam", "fault_page": 0}}, "raw_options"),
    ({"raw_options": {"fault_page": "two"}}, "raw_options"),
    ({"raw_options": {"stack": "letter,novel"}}, "raw_options"),
    ({"raw_options": {"page_delay_ms": 60000}}, "raw_options"),
    ({"source": "flatbed", "raw_options": {"fault": "jam"}}, "raw_options"),
    ({"source": "flatbed", "raw_options": {"fault": "feeder-empty"}}, "raw_options"),
])
def test_settings_the_device_cannot_honour_are_refused_before_scanning(
        driver: DemoDriver, settings: dict[str, Any], field: str) -> None:
    sink = CollectingSink()
    with pytest.raises(InvalidSetting) as caught:
        run_scan(driver, sink, **{"device": DEVICE_ID, "source": "feeder", **settings})
    assert caught.value.detail["field"] == field
    assert sink.waits == 0 and sink.pages == []


def test_an_unknown_device_or_source_is_refused(driver: DemoDriver) -> None:
    with pytest.raises(DeviceNotFound):
        run_scan(driver, device="demo:other")
    caps = driver.capabilities(DEVICE_ID)
    caps.sources = caps.sources[:1]
    with pytest.raises(UnsupportedSource):
        validate_settings(ScanSettings(device=DEVICE_ID, source=Source.FEEDER), caps)


def test_close_makes_the_driver_unusable(driver: DemoDriver) -> None:
    driver.close()
    driver.close()
    with pytest.raises(DriverError):
        driver.list_devices()
    with pytest.raises(DriverError):
        run_scan(driver, device=DEVICE_ID)
