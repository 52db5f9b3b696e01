"""Lossless quarter turns, flips and mirrors of JPEG bytes with ``jpegtran`` (libjpeg-turbo).

A JPEG's pixels are DCT blocks; turning or mirroring the blocks themselves changes no
coefficient, so the page loses nothing, whereas decoding, turning and re-encoding adds a
generation of loss every time. ``jpegtran`` (Debian: ``libjpeg-turbo-progs``) does exactly
that. It can only move whole blocks (MCUs, 8 or 16 pixels): when an edge that would have to
move is a partial block, ``-perfect`` makes it fail instead of leaving that edge
untransformed, and :func:`transform_jpeg_or_reencode` then decodes, transforms and re-encodes
with the source's own quantisation tables and chroma subsampling (same quality level, one
generation of loss) and says so (``lossless`` False). ``-trim`` is never used: it drops the
edge pixels.

The eight transforms (the dihedral group of the square) are 2x2 integer matrices
(:data:`Transform`) acting on ``(x, y)`` with y pointing down, so any sequence of quarter
turns, flips and mirrors collapses into one matrix and one ``jpegtran`` run
(:func:`compose`). Quarter turns are **counter-clockwise** like everywhere in
scanlet.imaging (jpegtran's ``-rotate`` counts clockwise; the mapping is done here).

``jpegtran`` runs with an argument list, the bytes on stdin/stdout, a timeout and
``-maxscans`` (libjpeg-turbo's guard against progressive-scan denial of service); the header
is checked by :func:`scanlet.codecs.decode.open_image` (format, pixel cap) before it runs. It is
started with :func:`scanlet.childproc.die_with_parent`, so on Linux it is killed if the service
dies (tied to the starting thread: ``subprocess.run`` waits for it in that thread).
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess

from PIL import Image, JpegImagePlugin

from scanlet.childproc import die_with_parent
from scanlet.codecs.decode import ImageDecodeError, open_image, pixels_held

logger = logging.getLogger(__name__)

#: ``(a, b, c, d)``: the matrix ``[[a, b], [c, d]]`` mapping centred ``(x, y)`` (y down).
Transform = tuple[int, int, int, int]

IDENTITY: Transform = (1, 0, 0, 1)
MIRROR: Transform = (-1, 0, 0, 1)  # left <-> right
FLIP: Transform = (1, 0, 0, -1)  # top <-> bottom
ROTATE_CCW_90: Transform = (0, 1, -1, 0)
ROTATE_180: Transform = (-1, 0, 0, -1)
ROTATE_CW_90: Transform = (0, -1, 1, 0)
TRANSPOSE: Transform = (0, 1, 1, 0)
TRANSVERSE: Transform = (0, -1, -1, 0)

_JPEGTRAN_ARGS: dict[Transform, list[str]] = {
    ROTATE_CW_90: ["-rotate", "90"],
    ROTATE_180: ["-rotate", "180"],
    ROTATE_CCW_90: ["-rotate", "270"],
    MIRROR: ["-flip", "horizontal"],
    FLIP: ["-flip", "vertical"],
    TRANSPOSE: ["-transpose"],
    TRANSVERSE: ["-transverse"],
}
_PIL_TRANSPOSE: dict[Transform, Image.Transpose] = {
    ROTATE_CW_90: Image.Transpose.ROTATE_270,
    ROTATE_180: Image.Transpose.ROTATE_180,
    ROTATE_CCW_90: Image.Transpose.ROTATE_90,
    MIRROR: Image.Transpose.FLIP_LEFT_RIGHT,
    FLIP: Image.Transpose.FLIP_TOP_BOTTOM,
    TRANSPOSE: Image.Transpose.TRANSPOSE,
    TRANSVERSE: Image.Transpose.TRANSVERSE,
}
DEFAULT_TIMEOUT = 60.0
_MAX_SCANS = "1000"


class NotPerfect(Exception):
    """jpegtran cannot do this transform without touching partial edge blocks."""


class JpegtranUnavailable(Exception):
    """The ``jpegtran`` program is not installed."""


def rotation(quarter_turns: int) -> Transform:
    """Counter-clockwise quarter turns (any integer) as a transform."""
    return (IDENTITY, ROTATE_CCW_90, ROTATE_180, ROTATE_CW_90)[quarter_turns % 4]


def compose(*steps: Transform) -> Transform:
    """The single transform equal to applying ``steps`` in order (first step first)."""
    a, b, c, d = IDENTITY
    for e, f, g, h in steps:
        # new = step @ current
        a, b, c, d = e * a + f * c, e * b + f * d, g * a + h * c, g * b + h * d
    return (a, b, c, d)


def pil_transpose(image: Image.Image, transform: Transform) -> Image.Image:
    """Apply ``transform`` to a decoded image (exact)."""
    if transform == IDENTITY:
        return image.copy()
    return image.transpose(_PIL_TRANSPOSE[transform])


def jpegtran_available() -> bool:
    return shutil.which("jpegtran") is not None


def transform_jpeg(data: bytes, transform: Transform, *,
                   timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """``data`` transformed without re-encoding (``jpegtran -perfect``).

    Raises NotPerfect when the image's size does not allow it, JpegtranUnavailable when
    ``jpegtran`` is missing, ImageDecodeError for bytes that are not an acceptable JPEG.
    Markers other than an ICC profile (EXIF, comments) are not copied.
    """
    # Format and pixel-count checks before jpegtran sees it; jpegtran holds the page's DCT
    # coefficients (2 bytes a sample), so it holds the decoding budget as a decode would.
    header = open_image(data, "jpeg")
    header.close()
    if transform == IDENTITY:
        return data
    binary = shutil.which("jpegtran")
    if binary is None:
        raise JpegtranUnavailable("jpegtran is not installed (Debian: libjpeg-turbo-progs)")
    args = [binary, "-perfect", "-copy", "icc", "-maxscans", _MAX_SCANS,
            *_JPEGTRAN_ARGS[transform]]
    try:
        with pixels_held(header, "view"):
            done = subprocess.run(args, input=data, capture_output=True, timeout=timeout,
                                  check=False, preexec_fn=die_with_parent())
    except subprocess.TimeoutExpired as exc:
        raise ImageDecodeError(f"jpegtran took more than {timeout:g} s") from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        if "not perfect" in message:
            raise NotPerfect(message)
        raise ImageDecodeError(f"jpegtran failed: {message[-300:]}")
    return done.stdout


def reencode_transformed(data: bytes, transform: Transform) -> bytes:
    """Decode, transform, and re-encode with the source's quantisation tables and chroma
    subsampling (the same quality level as the original)."""
    with open_image(data, "jpeg") as source:
        qtables = getattr(source, "quantization", None)
        sampling = JpegImagePlugin.get_sampling(source)
        with pixels_held(source):
            source.load()
            out = pil_transpose(source, transform)
            source.close()  # close(): ``with`` only closes the file; frees the pixels
            try:
                return _encoded(out, qtables, sampling)
            finally:
                out.close()


def _encoded(out: Image.Image, qtables: object, sampling: int) -> bytes:
    """``out`` as a JPEG with the source's ``qtables`` and chroma ``sampling``."""
    options: dict[str, object] = {"optimize": True}
    if qtables:
        options["qtables"] = qtables
    else:
        options["quality"] = 90
    if sampling != -1 and out.mode == "RGB":
        options["subsampling"] = sampling
    buffer = io.BytesIO()
    out.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def transform_jpeg_or_reencode(data: bytes, transform: Transform, *,
                               timeout: float = DEFAULT_TIMEOUT) -> tuple[bytes, bool]:
    """``(jpeg_bytes, lossless)``: :func:`transform_jpeg` when possible, otherwise (size not a
    multiple of the block size, or no ``jpegtran``) :func:`reencode_transformed`."""
    try:
        return transform_jpeg(data, transform, timeout=timeout), True
    except NotPerfect:
        logger.info("jpegtran cannot turn this JPEG losslessly (partial edge blocks); "
                    "re-encoding with its own quantisation tables")
    except JpegtranUnavailable:
        logger.warning("jpegtran is not installed (libjpeg-turbo-progs): JPEG turns are "
                       "re-encoded instead of lossless")
    return reencode_transformed(data, transform), False
