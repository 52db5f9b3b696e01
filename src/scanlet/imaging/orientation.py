"""Text orientation (0/90/180/270) by Tesseract's orientation and script detection (OSD).

Runs ``tesseract stdin - --psm 0 -l osd`` as a subprocess: argument list, no shell, the page
as a grey PNG on stdin, ``OMP_THREAD_LIMIT=1`` (Tesseract's OpenMP threads make it several
times slower on small machines, see shared/reference/performance-facts.md) and a timeout.
The page is reduced to at most :data:`OSD_DPI` first: OSD needs letters, not fine detail, and
a smaller page halves its time.

**Convention**: :attr:`Orientation.angle` is how far the page content is turned
*counter-clockwise* (0, 90, 180 or 270), as the deskew angle is; making it upright means
rotating by ``-angle`` (``ops.rotate(image, -angle)``). It equals the "Rotate:" value
Tesseract prints (the clockwise turn that corrects the page).

A page with too little text ("Too few characters") is not an error: the answer is angle 0 with
confidence 0, so the page is left as it is. A missing ``tesseract`` binary or OSD model is
:class:`~scanlet.errors.OcrUnavailable` (503) saying what to install, a timeout
:class:`~scanlet.errors.OcrTimeout`, any other failure :class:`~scanlet.errors.OcrError`: the
same errors as OCR, because it is the same program.

Which tesseract runs is decided as for OCR (:func:`scanlet.ocr.tesseract.find_tesseract`): an
explicit ``tesseract=``, else ``[ocr] tesseract`` (set at service start), else PATH. It is
started with :func:`scanlet.childproc.die_with_parent` (killed if the service dies); that is
tied to the starting thread, and ``subprocess.run`` waits for the process in this thread.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
from dataclasses import dataclass

from PIL import Image

from scanlet.childproc import die_with_parent
from scanlet.codecs.dpi import check_page_dpi
from scanlet.errors import InvalidSetting, OcrError, OcrTimeout, OcrUnavailable
from scanlet.imaging.ops import gray_array, rotate
from scanlet.ocr.tesseract import MAX_SIDE, find_tesseract

logger = logging.getLogger(__name__)

#: The page is reduced to this resolution before OSD.
OSD_DPI = 200.0
#: Default seconds before tesseract is stopped.
DEFAULT_TIMEOUT = 30.0
#: Orientation confidence below which :func:`rotate_upright` leaves the page alone. Clear text
#: pages score 10-25; OCRmyPDF's (more cautious) default is 14.
DEFAULT_MIN_CONFIDENCE = 2.0

_ROTATE = re.compile(rb"^Rotate:\s*(\d+)\s*$", re.MULTILINE)
_CONFIDENCE = re.compile(rb"^Orientation confidence:\s*([0-9.]+)\s*$", re.MULTILINE)
_SCRIPT = re.compile(rb"^Script:\s*(\S+)\s*$", re.MULTILINE)
_TOO_FEW = b"Too few characters"
_INSTALL_HINT = ("install Tesseract with its OSD model (Debian/Ubuntu: apt-get install "
                 "tesseract-ocr tesseract-ocr-osd)")


@dataclass(frozen=True)
class Orientation:
    """What OSD found: ``angle`` (counter-clockwise, 0/90/180/270), its ``confidence``
    (0 when nothing was detected) and the ``script`` (e.g. "Latin") if reported."""

    angle: int
    confidence: float
    script: str | None = None

    @property
    def detected(self) -> bool:
        return self.confidence > 0


def _osd_png(image: Image.Image, dpi: float) -> tuple[bytes, float]:
    """The page as OSD reads it: grey, at no more than OSD_DPI, and no side longer than
    tesseract reads (a 65500 x 1 strip is reduced, not refused with "Image too large")."""
    gray = Image.fromarray(gray_array(image))
    used = dpi
    scale = min(1.0, OSD_DPI / dpi, MAX_SIDE / max(gray.size))
    if scale < 1.0:
        gray = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))),
                           Image.Resampling.BOX)
        used = dpi * scale
    buffer = io.BytesIO()
    gray.save(buffer, format="PNG", dpi=(used, used), compress_level=1)
    return buffer.getvalue(), used


def parse_osd(output: bytes) -> Orientation:
    """Parse tesseract's OSD report; angle 0, confidence 0 when it has no "Rotate:" line."""
    rotate_match = _ROTATE.search(output)
    if rotate_match is None:
        return Orientation(0, 0.0)
    angle = int(rotate_match.group(1)) % 360
    if angle not in (0, 90, 180, 270):
        return Orientation(0, 0.0)
    confidence_match = _CONFIDENCE.search(output)
    confidence = float(confidence_match.group(1)) if confidence_match else 0.0
    script_match = _SCRIPT.search(output)
    script = script_match.group(1).decode("ascii", "replace") if script_match else None
    return Orientation(angle, confidence, script)


def detect_orientation(image: Image.Image, dpi: float = 300.0, *,
                       timeout: float = DEFAULT_TIMEOUT,
                       tesseract: str | os.PathLike[str] | None = None) -> Orientation:
    """Ask Tesseract OSD which way up the text on the page is.

    ``tesseract`` is the executable (default: ``[ocr] tesseract``, else PATH).
    """
    check_page_dpi(dpi)
    binary = find_tesseract(tesseract, hint=_INSTALL_HINT)
    png, used = _osd_png(image, dpi)
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        # run() waits for the process in this thread, which die_with_parent requires.
        done = subprocess.run(
            [binary, "stdin", "-", "--dpi", str(round(used)), "--psm", "0", "-l", "osd"],
            input=png, capture_output=True, timeout=timeout, env=env, check=False,
            preexec_fn=die_with_parent())
    except subprocess.TimeoutExpired as exc:
        raise OcrTimeout(f"tesseract orientation detection took more than {timeout:g} s",
                         timeout=timeout) from exc
    except OSError as exc:
        raise OcrUnavailable(f"tesseract could not be started ({exc}): {_INSTALL_HINT}",
                             path=binary) from exc
    both = done.stdout + b"\n" + done.stderr
    if _TOO_FEW in both:
        logger.debug("OSD: too few characters, leaving the page as it is")
        return Orientation(0, 0.0)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()[-500:]
        if "osd" in message.lower() and "traineddata" in message.lower():
            raise OcrUnavailable(f"Tesseract's OSD model is missing: {_INSTALL_HINT}")
        raise OcrError(f"tesseract orientation detection failed: {message}",
                       returncode=done.returncode)
    return parse_osd(done.stdout)


def rotate_upright(image: Image.Image, dpi: float = 300.0, *,
                   min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                   timeout: float = DEFAULT_TIMEOUT) -> tuple[Image.Image, Orientation, bool]:
    """Turn the page so its text is upright, by an exact quarter turn.

    Returns ``(image, orientation, rotated)``; the page is left as it is (a copy) when it is
    already upright or the confidence is under ``min_confidence``.
    """
    if min_confidence < 0:
        raise InvalidSetting("min_confidence must be >= 0", field="min_confidence")
    found = detect_orientation(image, dpi, timeout=timeout)
    if found.angle == 0 or found.confidence < min_confidence:
        return image.copy(), found, False
    return rotate(image, -found.angle), found, True
