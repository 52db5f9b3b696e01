"""Pure data shared by every layer: devices, capabilities, scan settings, pages, jobs.

These models cross the scan-worker process boundary (as JSON) and the HTTP API, so they hold
only plain data and do no I/O.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scanlet.disclosure import public_value


class Source(StrEnum):
    """Normalized paper source."""

    FLATBED = "flatbed"
    FEEDER = "feeder"
    DUPLEX = "duplex"


class ColorMode(StrEnum):
    """Normalized colour mode."""

    COLOR = "color"
    GRAY = "gray"
    BW = "bw"


class Compression(StrEnum):
    """How a page is kept in the buffer.

    ``auto``: JPEG for colour and grey, lossless PNG for black and white.
    """

    AUTO = "auto"
    JPEG = "jpeg"
    LOSSLESS = "lossless"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResolutionRange(_Model):
    """Continuous resolution range in dpi."""

    min: int
    max: int
    step: int = 1


class Area(_Model):
    """A rectangle on the scan bed in millimetres, from the top-left corner."""

    left: float = Field(0.0, ge=0)
    top: float = Field(0.0, ge=0)
    width: float = Field(gt=0)
    height: float = Field(gt=0)


class NumericRange(_Model):
    """A range for brightness/contrast style options (device units)."""

    min: float
    max: float
    step: float = 0


class SourceCaps(_Model):
    """What one paper source of a device can do, normalized."""

    source: Source
    native_name: str = Field(description="The driver's own name for this source")
    color_modes: dict[ColorMode, list[int]] = Field(
        description="Colour modes and the bit depths each supports"
    )
    resolutions: list[int] = Field(
        default_factory=list, description="Discrete resolutions (dpi), if the device lists them"
    )
    resolution_range: ResolutionRange | None = None
    max_width_mm: float
    max_height_mm: float
    paper_sizes: list[str] = Field(default_factory=list, description="Standard sizes that fit")
    brightness: NumericRange | None = None
    contrast: NumericRange | None = None


class RawOption(_Model):
    """A driver option as the driver describes it, for experts."""

    name: str
    title: str = ""
    description: str = ""
    type: Literal["bool", "int", "fixed", "string", "button", "group"]
    unit: str = "none"
    constraint: list[Any] | dict[str, float] | None = None
    value: Any = None
    active: bool = True
    settable: bool = True


class Capabilities(_Model):
    """Everything a device can do: normalized per source plus the raw options."""

    device_id: str
    sources: list[SourceCaps]
    raw_options: list[RawOption] = Field(default_factory=list)


class Device(_Model):
    """A scanner as listed: stable id across restarts, human names, driver."""

    id: str = Field(description="Stable id, e.g. 'sane:test:0'")
    driver: str
    name: str = Field(description="The driver's own device name")
    vendor: str = ""
    model: str = ""
    type: str = ""
    label: str = ""


class ScanSettings(_Model):
    """What a scan job asks of the device; validated against capabilities first."""

    device: str
    source: Source = Source.FLATBED
    mode: ColorMode = ColorMode.COLOR
    bit_depth: int | None = Field(None, description="Default: 8 for colour/grey, 1 for bw")
    resolution: int = Field(300, gt=0)
    area: Area | None = None
    paper_size: str | None = Field(
        None, description="e.g. 'A4', 'Letter'; ignored if area is set. Default: A4 where it "
        "fits the source, else the whole scan area",
    )
    pages: int | Literal["all"] | None = Field(
        None, description="Page count, or 'all'. Default: 1 for flatbed, 'all' for feeder"
    )
    brightness: float | None = None
    contrast: float | None = None
    compression: Compression = Compression.AUTO
    jpeg_quality: int = Field(85, ge=1, le=100)
    raw_options: dict[str, Any] = Field(
        default_factory=dict, description="Driver options by name, applied last (experts)"
    )

    def page_limit(self) -> int | None:
        """Pages to scan at most; None means until the feeder is empty."""
        if self.pages == "all":
            return None
        if self.pages is None:
            return 1 if self.source == Source.FLATBED else None
        return self.pages

    def effective_bit_depth(self) -> int:
        """The bit depth asked for, or the usual one for the mode."""
        if self.bit_depth is not None:
            return self.bit_depth
        return 1 if self.mode == ColorMode.BW else 8


class PageProcessing(_Model):
    """What to do with each page as it is stored during a scan."""

    drop_blank: bool = Field(False, description="Delete blank pages (they are not counted)")
    blank_sensitivity: float = Field(50.0, ge=0, le=100,
                                     description="Higher calls more pages blank")
    deskew: bool = Field(False, description="Straighten pages (the scan stays as version 0)")
    barcodes: bool = Field(False, description="Read barcodes into the page's metadata")
    barcode_formats: list[str] | None = Field(None, description="zxing-cpp formats; all if "
                                              "unset (several times slower)")

    @property
    def active(self) -> bool:
        return self.drop_blank or self.deskew or self.barcodes


class JobRequest(ScanSettings):
    """A scan job: the settings plus where the pages go."""

    document_id: str | None = Field(None, description="Append to this document; default new")
    processing: PageProcessing = Field(default_factory=PageProcessing)
    session: str | None = Field(
        None, exclude=True, max_length=64,
        description="The client session (from the /v1/session WebSocket) this job's device "
        "belongs to: its scan worker then stops as soon as the session ends and it is idle")

    def scan_settings(self) -> ScanSettings:
        """The device part of the request, as the driver receives it."""
        return ScanSettings.model_validate(
            self.model_dump(exclude={"document_id", "processing"}))


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self not in (JobState.PENDING, JobState.RUNNING)


class ErrorInfo(_Model):
    """A job's or task's error as clients see it: local paths reduced (scanlet.disclosure)."""

    code: str
    message: str
    detail: dict[str, Any] = Field(default_factory=dict)

    @field_validator("message", "detail")
    @classmethod
    def _no_local_paths(cls, value: Any) -> Any:
        return public_value(value)


class PageInfo(_Model):
    """A stored page."""

    id: str
    document_id: str
    index: int = Field(description="0-based position in its document")
    width: int
    height: int
    dpi: float
    bit_depth: int
    mode: ColorMode
    format: Literal["jpeg", "png"] = Field(description="How the original is stored")
    bytes: int
    source: Source | None = None
    job_id: str | None = None
    created: datetime
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    version: int = Field(default=0, description="Edits applied; 0 = as scanned or imported")


class DocumentInfo(_Model):
    id: str
    name: str = ""
    created: datetime
    page_count: int
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class JobInfo(_Model):
    id: str
    state: JobState
    settings: JobRequest
    document_id: str
    pages_stored: int
    created: datetime
    updated: datetime
    error: ErrorInfo | None = None


class ScannedPage(_Model):
    """A page the driver produced: an encoded file handed over by path, not yet in the buffer.

    The file at ``path`` is already encrypted with the cache key (see buffer.crypto) and
    fsynced; ownership passes to the receiver.
    """

    path: str
    format: Literal["jpeg", "png"]
    width: int
    height: int
    dpi: float
    bit_depth: int
    mode: ColorMode
    bytes: int
    source: Source
    sha256: str | None = Field(
        None, description="SHA-256 of the plaintext encoded image, computed by the writer; "
        "when given, the buffer trusts the declared facts instead of decrypting the file again",
    )
    preview_path: str | None = Field(
        None, description="The page's preview JPEG (codecs/render.py), encrypted like the page "
        "and handed over with it; the buffer keeps it so the first thumbnail is cheap",
    )
