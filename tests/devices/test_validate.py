"""Unit tests of the pure settings validation (no device involved)."""

from __future__ import annotations

from typing import Any

import pytest

from scanlet.devices.paper import fits, paper_size, sizes_that_fit
from scanlet.devices.validate import option_key, validate_settings
from scanlet.errors import InvalidSetting, UnsupportedSource
from scanlet.models import (
    Capabilities,
    ColorMode,
    NumericRange,
    RawOption,
    ResolutionRange,
    ScanSettings,
    Source,
    SourceCaps,
)

pytestmark = pytest.mark.timeout(10)

FLATBED = SourceCaps(
    source=Source.FLATBED, native_name="Flatbed",
    color_modes={ColorMode.COLOR: [8], ColorMode.GRAY: [8, 16], ColorMode.BW: [1]},
    resolution_range=ResolutionRange(min=50, max=1200, step=50),
    max_width_mm=215.9, max_height_mm=297.0, paper_sizes=["A4", "A5", "Letter"],
    brightness=NumericRange(min=-100, max=100, step=1),
)
FEEDER = SourceCaps(
    source=Source.FEEDER, native_name="ADF Front", color_modes={ColorMode.GRAY: [8]},
    resolutions=[150, 300, 600], max_width_mm=216.0, max_height_mm=356.0,
    paper_sizes=["A4", "Letter", "Legal"],
)
CAPS = Capabilities(device_id="sane:x:0", sources=[FLATBED, FEEDER], raw_options=[
    RawOption(name="read-return-value", type="string", constraint=["Default"]),
    RawOption(name="bool-soft-detect", type="bool", settable=False),
    RawOption(name="print-options", type="button"),
])


def _settings(**fields: Any) -> ScanSettings:
    return ScanSettings.model_validate({"device": "sane:x:0", **fields})


def _invalid(**fields: Any) -> InvalidSetting:
    with pytest.raises(InvalidSetting) as info:
        validate_settings(_settings(**fields), CAPS)
    assert info.value.message and info.value.code in ("invalid_setting", "unsupported_source")
    return info.value


def test_valid_settings_return_the_source_caps() -> None:
    assert validate_settings(_settings(paper_size="letter", resolution=300), CAPS) is FLATBED
    assert validate_settings(_settings(source="feeder", mode="gray", resolution=600,
                                       paper_size="Legal", pages="all"), CAPS) is FEEDER
    area = {"left": 10, "top": 10, "width": 200, "height": 280}
    assert validate_settings(_settings(area=area, brightness=-20,
                                       raw_options={"read_return_value": "Default"}), CAPS)


def test_unsupported_source_lists_the_sources() -> None:
    error = _invalid(source="duplex")
    assert isinstance(error, UnsupportedSource)
    assert error.detail == {"field": "source", "allowed": ["flatbed", "feeder"]}


def test_mode_and_bit_depth() -> None:
    assert _invalid(source="feeder", mode="color", resolution=300).detail == {
        "field": "mode", "allowed": ["gray"]}
    assert _invalid(mode="color", bit_depth=16).detail == {"field": "bit_depth",
                                                           "allowed": [8]}
    assert _invalid(mode="bw", bit_depth=8).detail["allowed"] == [1]
    assert _invalid(mode="gray", bit_depth=16, compression="jpeg").detail["field"] == \
        "compression"
    validate_settings(_settings(mode="gray", bit_depth=16), CAPS)


@pytest.mark.parametrize("resolution", [25, 1250, 75])
def test_resolution_outside_range_or_step(resolution: int) -> None:
    assert _invalid(resolution=resolution).detail == {
        "field": "resolution", "allowed": {"min": 50, "max": 1200, "step": 50}}


def test_resolution_not_in_list() -> None:
    assert _invalid(source="feeder", mode="gray", resolution=200).detail == {
        "field": "resolution", "allowed": [150, 300, 600]}


def test_area_and_paper_size() -> None:
    too_wide = {"left": 20, "top": 0, "width": 200, "height": 100}
    assert _invalid(area=too_wide).detail == {
        "field": "area", "allowed": {"max_width_mm": 215.9, "max_height_mm": 297.0}}
    assert _invalid(paper_size="Legal").detail == {"field": "paper_size",
                                                   "allowed": ["A4", "A5", "Letter"]}
    unknown = _invalid(paper_size="Postcard")
    assert unknown.detail["field"] == "paper_size" and "A4" in unknown.detail["allowed"]
    # an explicit area wins over the paper size
    validate_settings(_settings(paper_size="A3", area={"width": 100, "height": 100}), CAPS)


def test_brightness_contrast_and_pages() -> None:
    assert _invalid(brightness=150).detail == {"field": "brightness",
                                               "allowed": {"min": -100.0, "max": 100.0}}
    assert _invalid(contrast=10).detail == {"field": "contrast", "allowed": None}
    assert _invalid(pages=0).detail["field"] == "pages"


def test_raw_options_must_exist_and_be_settable() -> None:
    unknown = _invalid(raw_options={"no-such": 1})
    assert unknown.detail == {"field": "raw_options", "allowed": ["read-return-value"]}
    assert _invalid(raw_options={"bool_soft_detect": True}).detail["field"] == "raw_options"
    assert _invalid(raw_options={"print-options": True}).detail["field"] == "raw_options"
    assert option_key(" br_x ") == "br-x"


def test_paper_table() -> None:
    assert paper_size("a4") == (210.0, 297.0)
    assert paper_size("tabloid") == (279.4, 431.8)
    assert paper_size("A9") is None
    assert fits(215.9, 279.4, 215.0, 297.0)  # within the 1 mm tolerance
    assert not fits(297.0, 420.0, 215.9, 297.0)
    assert sizes_that_fit(216.0, 297.0) == ["A4", "A5", "A6", "B5", "Letter", "Executive"]
