"""Unit tests of the SANE naming rules, the status mapping and the demo config folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanlet.devices.sane_caps import mode_kind, source_kind
from scanlet.devices.sane_config import enabled_backends, prepare_demo_config
from scanlet.devices.sane_status import (
    SaneStatus,
    error_for_status,
    status_from_message,
    status_text,
    translate,
)
from scanlet.errors import (
    CoverOpen,
    DeviceAccessDenied,
    DeviceBusy,
    DeviceError,
    DeviceIOError,
    DeviceOutOfMemory,
    FeederEmpty,
    PaperJam,
    ScanCancelled,
    ScanletError,
)
from scanlet.models import ColorMode, Source

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize(("name", "kind"), [
    ("Flatbed", Source.FLATBED), ("FlatBed", Source.FLATBED), ("Normal", Source.FLATBED),
    ("Automatic Document Feeder", Source.FEEDER), ("ADF", Source.FEEDER),
    ("ADF Front", Source.FEEDER), ("Feeder", Source.FEEDER), ("ADF Duplex", Source.DUPLEX),
    ("Duplex", Source.DUPLEX), ("Automatic Document Feeder(left aligned,Duplex)", Source.DUPLEX),
    ("ADF Back", None), ("Transparency Adapter", None), ("Negative", None),
])
def test_source_names(name: str, kind: Source | None) -> None:
    assert source_kind(name) == kind


@pytest.mark.parametrize(("name", "kind"), [
    ("Color", (ColorMode.COLOR, 0)), ("24bit Color[Fast]", (ColorMode.COLOR, 0)),
    ("Colour", (ColorMode.COLOR, 0)), ("Gray", (ColorMode.GRAY, 0)),
    ("True Gray", (ColorMode.GRAY, 0)), ("Lineart", (ColorMode.BW, 0)),
    ("Binary", (ColorMode.BW, 0)), ("Black & White", (ColorMode.BW, 0)),
    ("Halftone", (ColorMode.BW, 2)), ("Infrared", None),
])
def test_mode_names(name: str, kind: tuple[ColorMode, int] | None) -> None:
    assert mode_kind(name) == kind


@pytest.mark.parametrize(("status", "error"), [
    (SaneStatus.NO_DOCS, FeederEmpty), (SaneStatus.JAMMED, PaperJam),
    (SaneStatus.COVER_OPEN, CoverOpen), (SaneStatus.DEVICE_BUSY, DeviceBusy),
    (SaneStatus.IO_ERROR, DeviceIOError), (SaneStatus.NO_MEM, DeviceOutOfMemory),
    (SaneStatus.ACCESS_DENIED, DeviceAccessDenied), (SaneStatus.CANCELLED, ScanCancelled),
    (SaneStatus.INVAL, DeviceError), (SaneStatus.UNSUPPORTED, DeviceError),
])
def test_every_status_maps_to_one_error(status: SaneStatus, error: type[ScanletError]) -> None:
    text = status_text(status)
    assert status_from_message(text) == status  # libsane's own text round-trips
    mapped = translate(Exception(text), device="test:0", during="read")
    assert type(mapped) is error
    assert mapped.detail["sane_status"] == f"SANE_STATUS_{status.name}"
    assert mapped.detail["device"] == "test:0"


def test_unknown_messages_are_device_errors() -> None:
    assert status_from_message("Document feeder jammed") == SaneStatus.JAMMED
    assert status_from_message("Operation was canceled") == SaneStatus.CANCELLED
    unknown = translate(Exception("SaneDev object is closed"), device="d", during="read")
    assert type(unknown) is DeviceError and unknown.detail["sane_status"] is None
    assert type(error_for_status(None, "?", device="d", during="x")) is DeviceError


def test_demo_config_without_system_backends(tmp_path: Path) -> None:
    folder = prepare_demo_config(tmp_path / "sane", include_system=False)
    assert enabled_backends(folder / "dll.conf") == ["test", "pnm"]
    lines = (folder / "test.conf").read_text().splitlines()
    assert "geometry_max 432.0" in lines
    assert sorted(p.name for p in folder.iterdir()) == ["dll.conf", "test.conf"]


def test_demo_config_with_system_backends(tmp_path: Path) -> None:
    system = tmp_path / "etc-sane.d"
    (system / "dll.d").mkdir(parents=True)
    (system / "dll.d" / "airscan").write_text("airscan\n")
    (system / "dll.conf").write_text("# comment\nnet\n#test\nepson2 # inline\ntest\ndll\n")
    (system / "test.conf").write_text("geometry_max 200.0\n")
    (system / "epson2.conf").write_text("usb\n")
    target = tmp_path / "cfg"
    target.mkdir()
    (target / "stale.conf").symlink_to(system / "gone.conf")  # left by an earlier run
    (target / "pixma.conf").write_text("# the user's own\n")
    folder = prepare_demo_config(target, include_system=True, system_dir=system)
    assert enabled_backends(folder / "dll.conf") == ["test", "pnm", "net", "epson2"]
    assert "geometry_max 432.0" in (folder / "test.conf").read_text()  # ours wins
    assert (folder / "epson2.conf").resolve() == (system / "epson2.conf").resolve()
    assert (folder / "dll.d" / "airscan").read_text() == "airscan\n"
    assert not (folder / "stale.conf").is_symlink()
    assert (folder / "pixma.conf").read_text() == "# the user's own\n"
    prepare_demo_config(target, include_system=False, system_dir=system)
    assert sorted(p.name for p in folder.iterdir()) == ["dll.conf", "pixma.conf", "test.conf"]
