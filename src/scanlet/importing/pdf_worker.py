"""The import worker process: ``python -m scanlet.importing.pdf_worker --input FILE --out-dir DIR``.

Every byte of an untrusted file is decoded here, never in the service: qpdf (through pikepdf)
opens and decrypts a PDF, and pdfium (through pypdfium2: C++ with a long CVE record, not
thread-safe) rasterises pages; Pillow decodes image files (``--format jpeg|png|tiff|bmp|webp``,
images.py) and this process also makes each page's preview, so the service only reads the
headers of the pages it stores. One process handles one file and then exits. Before it reads
the file it limits itself with ``setrlimit``: RLIMIT_AS (memory: an allocation beyond it
fails, a decompression bomb gets MemoryError, never the machine's memory) and RLIMIT_CPU
(SIGXCPU ends a page that never finishes); the service adds a wall-clock timeout and kills
it. It dies with the service (Linux ``PR_SET_PDEATHSIG``, and stdin closing).

Protocol (JSON lines; ``pdf.py`` is the other side):

- stdin, first line: ``{"password": str | null}`` (not in argv, which ``ps`` shows); after
  that one ``ack`` line per page the service has stored. The worker stays at most
  :data:`WINDOW` pages ahead, so the scratch folder holds a few pages, never the document.
- stdout (a private copy of fd 1; fd 1 itself points at stderr so C libraries' prints cannot
  corrupt the protocol): ``{"ev": "ready", "pages": n, "limits": {...}}``, then per page
  ``{"ev": "page", "index", "file", "format", "dpi", "how"}``, then ``{"ev": "done"}``; or
  ``{"ev": "error", "error": {code, message, detail}}`` at any point, then exit status 1.
- stderr: log records as JSON lines, re-logged by the service.

Memory (budget.py): before a page's pixels are decoded its decoded bytes are checked against
``--max-decoded-bytes`` (413 ``decoded_bytes``), and before a PDF page's content streams are
parsed or drawn their inflated size is measured against ``--max-content-bytes`` (413
``content_bytes``: a small file whose streams inflate to gigabytes is refused, not parsed);
RLIMIT_AS stays the backstop for whatever those estimates miss.

Per page: a page that only paints one image covering the page is extracted without loss
(``how: "extracted"``): a baseline JPEG (DCTDecode, grey or RGB) as its exact bytes, other
images (Flate, CCITT G3/G4, LZW, RunLength; grey, RGB or indexed) decoded and written as PNG.
Everything else is rasterised with pdfium at the requested dpi (``how: "rendered"``) and
written as JPEG quality 90: colour stays RGB, a page whose render has no colour becomes grey.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import math
import os
import sys
import warnings
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

from scanlet.childproc import (
    arm_in_child,
    claim_stdout,
    dumps_line,
    read_hello,
    setup_child_logging,
)
from scanlet.errors import ScanletError
from scanlet.importing.budget import RENDER_BYTES_PER_PIXEL
from scanlet.importing.errors import (
    ImportInvalid,
    ImportTooLarge,
    PdfPasswordRequired,
)

if TYPE_CHECKING:
    import pikepdf
    import pypdfium2
    from PIL import Image

log = logging.getLogger(__name__)

#: Pages the worker may write ahead of the service's acknowledgements.
WINDOW = 2
#: JPEG quality of rasterised pages: text edges stay clean, an A4 page at 200 dpi is ~0.5 MB.
RENDER_QUALITY = 90
#: Content (inflated bytes) beyond which a page is rendered without looking for a single image.
_MAX_SINGLE_IMAGE_CONTENT = 1 << 20
#: Rows of a bilevel or 16-bit page turned into 8-bit grey at a time for its preview.
_PREVIEW_BAND_ROWS = 256
_16BIT_GREY = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_TOLERANCE_PT = 1.0  # how far an image edge may be from the page edge and still "cover" it
_DEVICE_SPACES = frozenset({"/DeviceGray", "/DeviceRGB", "/CalGray", "/CalRGB"})
_DECODED_FILTERS = frozenset({"/FlateDecode", "/LZWDecode", "/RunLengthDecode",
                              "/CCITTFaxDecode"})
#: Content operators that change state but paint nothing (graphics, text and colour state,
#: marked content, text objects and positioning).
_NON_PAINTING = frozenset({
    "q", "Q", "cm", "w", "J", "j", "M", "d", "ri", "i",
    "BT", "ET", "Tc", "Tw", "Tz", "TL", "Tf", "Tr", "Ts", "Td", "TD", "Tm", "T*",
    "BMC", "BDC", "EMC", "MP", "DP",
    "CS", "cs", "SC", "SCN", "sc", "scn", "G", "g", "RG", "rg", "K", "k",
})
#: Operators that show text (painting unless the render mode is 3, invisible).
_SHOW_TEXT = frozenset({"Tj", "TJ", "'", '"'})
#: ExtGState keys that cannot change how an opaque image is painted.
_HARMLESS_STATE_KEYS = frozenset({
    "/Type", "/LW", "/LC", "/LJ", "/ML", "/D", "/RI", "/FL", "/SM", "/SA", "/Font",
    "/OP", "/op", "/OPM", "/AIS", "/TK", "/HT",
})
#: Annotations that never paint on the page.
_INVISIBLE_ANNOTS = frozenset({"/Link", "/Popup"})

Stored = Literal["jpeg", "png"]


@dataclass(frozen=True)
class PageResult:
    """One encoded page, ready to be written and announced."""

    data: bytes
    format: Stored
    dpi: float | None
    how: Literal["extracted", "rendered", "decoded"]
    #: The page's preview JPEG, made from the pixels in hand (None: small enough for none).
    preview: bytes | None = None


# -- process set-up -----------------------------------------------------------------------------

def set_limits(memory_bytes: int, cpu_seconds: int) -> dict[str, int]:
    """Limit this process's address space and CPU time (0 = leave as is) and forbid core
    dumps; returns the soft limits read back (-1 = unlimited), which the worker reports to
    the service (logged, and visible to tests)."""
    try:
        import resource
    except ImportError:  # not on Windows: the wall-clock timeout is the only bound there
        log.warning("no resource limits on this platform")
        return {}
    for which, soft, hard_extra in ((resource.RLIMIT_AS, memory_bytes, 0),
                                    (resource.RLIMIT_CPU, cpu_seconds, 5)):
        if soft <= 0:
            continue
        # CPU: the soft limit sends SIGXCPU (it ends the process, and names the cause); a
        # hard limit equal to it would send SIGKILL first, which reads like the OOM killer.
        _old_soft, old_hard = resource.getrlimit(which)
        hard = soft + hard_extra
        if old_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, old_hard), min(hard, old_hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot set resource limit %d to %d: %s", which, soft, exc)
    with contextlib.suppress(ValueError, OSError):  # no core file of a decrypted document
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return {"memory_bytes": resource.getrlimit(resource.RLIMIT_AS)[0],
            "cpu_seconds": resource.getrlimit(resource.RLIMIT_CPU)[0]}


class Channel:
    """Events out (stdout), acknowledgements in (stdin), with the ahead-window."""

    def __init__(self, out: IO[bytes], inp: IO[bytes]) -> None:
        self._out = out
        self._in = inp
        self._unacked = 0

    def send(self, message: dict[str, Any]) -> None:
        self._out.write(dumps_line(message))

    def read_hello(self) -> dict[str, Any]:
        """The service's first line (the handshake); exits if the service went away."""
        hello = read_hello(self._in)
        if hello is None:
            raise SystemExit(0)
        return hello

    def page_sent(self) -> None:
        """Count a page; block for an ``ack`` while :data:`WINDOW` pages are unacknowledged."""
        self._unacked += 1
        while self._unacked >= WINDOW:
            if not self._in.readline(64):
                raise SystemExit(0)
            self._unacked -= 1


# -- deciding and extracting ---------------------------------------------------------------------

def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float | Decimal) else float(str(value))


def _visible_box(page: pikepdf.Page) -> tuple[float, float, float, float]:
    """The crop box clipped to the media box (x0, y0, x1, y1), normalised."""
    media = [_num(v) for v in page.mediabox]
    crop = [_num(v) for v in page.cropbox]
    mx0, mx1 = sorted((media[0], media[2]))
    my0, my1 = sorted((media[1], media[3]))
    cx0, cx1 = sorted((crop[0], crop[2]))
    cy0, cy1 = sorted((crop[1], crop[3]))
    return max(mx0, cx0), max(my0, cy0), min(mx1, cx1), min(my1, cy1)


def _filters(image: pikepdf.Stream) -> list[str]:
    import pikepdf

    raw = image.get("/Filter")
    if raw is None:
        return []
    if isinstance(raw, pikepdf.Array):
        return [str(f) for f in raw]
    return [str(raw)]


def _colour_components(space: Any, *, indexed_ok: bool) -> int | None:
    """1 or 3 for the grey/RGB colour spaces we may extract from (an indexed one counts as
    3 when its base is grey or RGB); None for CMYK, Lab, Separation, DeviceN and the like."""
    import pikepdf

    if isinstance(space, pikepdf.Name):
        name = str(space)
        if name in _DEVICE_SPACES:
            return 3 if "RGB" in name else 1
        return None
    if isinstance(space, pikepdf.Array) and len(space) >= 2:
        family = str(space[0])
        if family in ("/CalGray", "/CalRGB"):
            return 3 if family == "/CalRGB" else 1
        if family == "/ICCBased" and isinstance(space[1], pikepdf.Stream):
            components = int(space[1].get("/N", 0))
            return components if components in (1, 3) else None
        if family == "/Indexed" and indexed_ok and len(space) == 4:
            return 3 if _colour_components(space[1], indexed_ok=False) else None
    return None


class _PaintScan:
    """Walks content streams (a page's, then forms' it draws) and records what paints.

    Paints nothing: graphics-state and marked-content operators, harmless ``gs``, text in
    render mode 3 (invisible: the OCR layer of a searchable scan). Anything else that paints
    (vectors, shading, inline images, visible text, a second image) ends the scan.
    """

    _MAX_DEPTH = 4

    def __init__(self) -> None:
        self.image: pikepdf.Stream | None = None
        self.placed: pikepdf.Matrix | None = None
        self.clip: list[tuple[pikepdf.Matrix, tuple[float, float, float, float]]] = []

    def walk(self, content: Any, resources: Any, ctm: pikepdf.Matrix, depth: int = 0) -> bool:
        """False as soon as something other than the one image paints."""
        import pikepdf

        if depth > self._MAX_DEPTH:
            return False
        xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        states = resources.get("/ExtGState") if isinstance(resources, pikepdf.Dictionary) else None
        text_mode = 0
        stack: list[tuple[pikepdf.Matrix, int]] = []
        for instruction in pikepdf.parse_content_stream(content):
            op, operands = str(instruction.operator), instruction.operands
            if op == "q":
                stack.append((ctm, text_mode))
            elif op == "Q":
                ctm, text_mode = stack.pop() if stack else (ctm, text_mode)
            elif op == "cm" and len(operands) == 6:
                ctm = pikepdf.Matrix(*(_num(v) for v in operands)) @ ctm
            elif op == "Tr" and len(operands) == 1:
                text_mode = int(operands[0])
            elif op in _SHOW_TEXT:
                if text_mode != 3:
                    return False
            elif op == "gs":
                if not _harmless_state(states, operands):
                    return False
            elif op == "Do":
                if not self._draw(xobjects, operands, ctm, depth):
                    return False
            elif op not in _NON_PAINTING:
                return False
        return True

    def _draw(self, xobjects: Any, operands: Any, ctm: pikepdf.Matrix, depth: int) -> bool:
        import pikepdf

        target = xobjects.get(str(operands[0])) if isinstance(
            xobjects, pikepdf.Dictionary) and len(operands) == 1 else None
        if not isinstance(target, pikepdf.Stream):
            return False
        subtype = str(target.get("/Subtype"))
        if subtype == "/Image":
            if self.image is not None:
                return False
            self.image, self.placed = target, ctm
            return True
        if subtype != "/Form" or "/Group" in target or "/SMask" in target:
            return False  # transparency groups may change how the image looks
        matrix = target.get("/Matrix")
        form_ctm = (pikepdf.Matrix(*(_num(v) for v in matrix)) if isinstance(
            matrix, pikepdf.Array) and len(matrix) == 6 else pikepdf.Matrix()) @ ctm
        bbox = target.get("/BBox")
        if isinstance(bbox, pikepdf.Array) and len(bbox) == 4:
            x0, y0, x1, y1 = (_num(v) for v in bbox)
            self.clip.append((form_ctm, (x0, y0, x1, y1)))
        return self.walk(target, target.get("/Resources"), form_ctm, depth + 1)


def _harmless_state(states: Any, operands: Any) -> bool:
    """A ``gs`` whose graphics state cannot change how an image looks (opaque, normal blend,
    no soft mask, no transfer function)."""
    import pikepdf

    state = states.get(str(operands[0])) if isinstance(
        states, pikepdf.Dictionary) and len(operands) == 1 else None
    if not isinstance(state, pikepdf.Dictionary):
        return False
    for key, value in state.items():
        if key in ("/CA", "/ca"):
            if _num(value) != 1:
                return False
        elif key == "/BM":
            if str(value) not in ("/Normal", "/Compatible"):
                return False
        elif key == "/SMask":
            if str(value) != "/None":
                return False
        elif key not in _HARMLESS_STATE_KEYS:
            return False
    return True


def _covers(matrix: pikepdf.Matrix, rect: tuple[float, float, float, float],
            box: tuple[float, float, float, float]) -> bool:
    """Whether ``rect`` mapped by ``matrix`` contains ``box`` (all of the visible page)."""
    corners = [matrix.transform((x, y)) for x in (rect[0], rect[2]) for y in (rect[1], rect[3])]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return (min(xs) <= box[0] + _TOLERANCE_PT and min(ys) <= box[1] + _TOLERANCE_PT
            and max(xs) >= box[2] - _TOLERANCE_PT and max(ys) >= box[3] - _TOLERANCE_PT)


def single_image(page: pikepdf.Page) -> tuple[pikepdf.Stream, tuple[float, ...]] | None:
    """The one image this page paints and its placement (x0, y0, x1, y1) when the page's
    content is exactly "paint this image", upright and covering the visible page (invisible
    OCR text allowed); else None (text, vectors, a second image, visible annotations...)."""
    import pikepdf

    annots = page.obj.get("/Annots")
    if isinstance(annots, pikepdf.Array) and any(
        not isinstance(a, pikepdf.Dictionary) or str(a.get("/Subtype")) not in _INVISIBLE_ANNOTS
        for a in annots
    ):
        return None
    if "/Group" in page.obj:  # a page transparency group may blend the image
        return None
    scan = _PaintScan()
    if not scan.walk(page.obj, page.obj.get("/Resources"), pikepdf.Matrix()):
        return None
    if scan.image is None or scan.placed is None:
        return None
    placed = scan.placed
    if abs(placed.b) > 1e-6 or abs(placed.c) > 1e-6 or placed.a <= 0 or placed.d <= 0:
        return None  # rotated, skewed or mirrored inside the page: let pdfium draw it
    rect = (placed.e, placed.f, placed.e + placed.a, placed.f + placed.d)
    box = _visible_box(page)
    if any(abs(r - b) > _TOLERANCE_PT for r, b in zip(rect, box, strict=True)):
        return None
    if not all(_covers(matrix, bbox, box) for matrix, bbox in scan.clip):
        return None  # a form's bounding box clips the image
    return scan.image, rect


def _snap(dpi: float) -> float:
    nearest = round(dpi)
    return float(nearest) if abs(dpi - nearest) < 0.01 else round(dpi, 3)


def _check_decoded(width: int, height: int, max_decoded: int, index: int) -> None:
    """413 when a PDF page of ``width`` x ``height`` pixels would need more decoded bytes
    than allowed (budget.RENDER_BYTES_PER_PIXEL, for rendered and extracted pages alike)."""
    needed = width * height * RENDER_BYTES_PER_PIXEL
    if max_decoded and needed > max_decoded:
        raise ImportTooLarge(
            f"page {index + 1} would be {width}x{height} pixels, {needed} bytes decoded, more "
            f"than the {max_decoded} allowed: import it at a lower dpi (or raise [limits] "
            "max_decoded_mb)", limit="decoded_bytes", maximum=max_decoded,
            needed=needed, page=index)


def _inflated_size(stream: pikepdf.Stream, limit: int) -> int:
    """The decoded length of a content stream, stopping once it passes ``limit``.

    A Flate stream is inflated piecewise (nothing kept): a 1 MB stream of zeros that inflates
    to 1 GiB costs 1 GiB of CPU work, never of memory. Other filters are decoded by qpdf under
    RLIMIT_AS (rare for content streams; a bomb there is a MemoryError, 413 ``memory``).
    """
    import zlib

    filters = _filters(stream)
    if not filters:
        return len(stream.read_raw_bytes())
    if filters != ["/FlateDecode"]:
        return len(stream.read_bytes())
    inflater = zlib.decompressobj()
    raw = stream.read_raw_bytes()
    total = 0
    step = 1 << 20
    for start in range(0, len(raw), step):
        chunk = inflater.decompress(raw[start:start + step], step)
        total += len(chunk)
        while inflater.unconsumed_tail and total <= limit:
            chunk = inflater.decompress(inflater.unconsumed_tail, step)
            total += len(chunk)
        if total > limit:
            return total
    return total + len(inflater.flush())


def check_content(page: pikepdf.Page, max_content: int, index: int) -> int:
    """The inflated size of the page's content streams and those of the forms it uses; 413
    when more than ``max_content`` bytes in all (measured before anything parses or draws
    them; 0 = no cap)."""
    import pikepdf

    if max_content <= 0:
        max_content = sys.maxsize
    total = 0
    seen: set[tuple[int, int]] = set()
    pending: list[Any] = [page.obj.get("/Contents"), page.obj.get("/Resources")]
    while pending:
        item = pending.pop()
        if isinstance(item, pikepdf.Array):
            pending.extend(item)
            continue
        if isinstance(item, pikepdf.Stream):
            if item.objgen != (0, 0):
                if item.objgen in seen:
                    continue
                seen.add(item.objgen)
            if item.get("/Subtype") == pikepdf.Name.Image:
                continue  # image data is checked by its pixels, not here
            total += _inflated_size(item, max_content - total)
            pending.append(item.get("/Resources"))
        elif isinstance(item, pikepdf.Dictionary):  # resources: only forms are content
            xobjects = item.get("/XObject")
            if isinstance(xobjects, pikepdf.Dictionary):
                pending.extend(xobjects.values())
        if total > max_content:
            raise ImportTooLarge(
                f"page {index + 1}'s content inflates to more than the {max_content} bytes "
                "allowed", limit="content_bytes", maximum=max_content, page=index)
    return total


def extract(page: pikepdf.Page, max_pixels: int, index: int,
            max_decoded: int = 0) -> PageResult | None:
    """The page's single image without loss, or None when it must be rasterised.

    ImportTooLarge when the image has more pixels or decoded bytes than allowed (refused,
    not rendered).
    """
    found = single_image(page)
    if found is None:
        return None
    image, (x0, y0, x1, y1) = found
    width, height = int(image.get("/Width", 0)), int(image.get("/Height", 0))
    if width <= 0 or height <= 0:
        return None
    if width * height > max_pixels:
        raise ImportTooLarge(f"page {index + 1} holds a {width}x{height} pixel image, more "
                             f"than the {max_pixels} allowed", limit="pixels",
                             maximum=max_pixels, page=index)
    _check_decoded(width, height, max_decoded, index)
    if (bool(image.get("/ImageMask", False)) or "/SMask" in image or "/Mask" in image
            or "/Decode" in image or int(image.get("/SMaskInData", 0))):
        return None
    dpi_x, dpi_y = width * 72 / (x1 - x0), height * 72 / (y1 - y0)
    if abs(dpi_x - dpi_y) > 0.01 * dpi_x:
        return None  # stretched: pdfium resamples it to square pixels
    rotation = int(page.obj.get("/Rotate", 0)) % 360
    if rotation % 90:
        return None
    filters = _filters(image)
    bits = int(image.get("/BitsPerComponent", 8))
    if filters == ["/DCTDecode"] and bits == 8 and _colour_components(
            image.get("/ColorSpace"), indexed_ok=False):
        params = image.get("/DecodeParms")
        if params is not None and "/ColorTransform" in params:
            return None
        data = image.read_raw_bytes()
        picture = _open_jpeg(data, (width, height))
        if picture is None:
            return None
        if rotation == 0:
            return PageResult(data, "jpeg", _snap(dpi_x), "extracted", _preview(picture))
    elif set(filters) <= _DECODED_FILTERS and _colour_components(
            image.get("/ColorSpace"), indexed_ok=True):
        import pikepdf

        picture = pikepdf.PdfImage(image).as_pil_image()
    else:
        return None
    encoded, preview = _png_of(picture, rotation, dpi_x)
    return PageResult(encoded, "png", _snap(dpi_x), "extracted", preview)


def _open_jpeg(data: bytes, size: tuple[int, int]) -> Image.Image | None:
    """The JPEG, decoded, if it is a grey or RGB JPEG of the declared size; else None."""
    from PIL import Image

    try:
        picture = Image.open(io.BytesIO(data), formats=["JPEG"])
        if picture.size != size or picture.mode not in ("L", "RGB"):
            return None
        picture.load()
    except (OSError, SyntaxError, ValueError) as exc:
        log.info("embedded JPEG not usable as is (%s); rasterising the page", exc)
        return None
    return picture


def _preview(picture: Image.Image) -> bytes | None:
    """The page's preview (codecs.render.preview_of_image), made band by band for bilevel
    and 16-bit pages: their 8-bit copy at full size would take 1 or 4 more bytes a pixel than
    the decoded-bytes cap counts. Box-reducing bands of whole blocks gives the same pixels."""
    from PIL import Image

    from scanlet.codecs.render import preview_factor, preview_jpeg, preview_of_image, to_8bit

    if picture.mode != "1" and not picture.mode.startswith("I"):
        return preview_of_image(picture)
    factor = preview_factor(*picture.size)
    if factor == 1:
        return None
    width, height = picture.size
    small = Image.new("L", (-(-width // factor), -(-height // factor)))
    band = factor * max(1, _PREVIEW_BAND_ROWS // factor)
    for top in range(0, height, band):
        part = picture.crop((0, top, width, min(height, top + band)))
        if part.mode == "1":
            part = part.convert("L")
        elif part.mode in _16BIT_GREY:  # the high bytes: to_8bit's v >> 8, without numpy
            part = Image.frombytes("L", part.size, part.tobytes("raw", "I;16B")[0::2])
        else:
            part = to_8bit(part)
        small.paste(part.reduce(factor), (0, top // factor))
    return preview_jpeg(small)


def _png_of(picture: Image.Image, rotation: int, dpi: float) -> tuple[bytes, bytes | None]:
    from PIL import Image

    from scanlet.importing.images import encode_png, to_storable

    storable = to_storable(picture)
    if rotation:  # /Rotate turns the page clockwise; PIL rotates counter-clockwise
        storable = storable.transpose({90: Image.Transpose.ROTATE_270,
                                       180: Image.Transpose.ROTATE_180,
                                       270: Image.Transpose.ROTATE_90}[rotation])
    return encode_png(storable, dpi), _preview(storable)


# -- rendering --------------------------------------------------------------------------------

def render(document: pypdfium2.PdfDocument, index: int, dpi: float,
           max_pixels: int, max_decoded: int = 0) -> PageResult:
    """Rasterise page ``index`` at ``dpi``; 413 before rendering if it would be too big."""
    from PIL import ImageChops

    page = document[index]
    try:
        scale = dpi / 72
        width_pt, height_pt = page.get_size()
        width, height = math.ceil(width_pt * scale), math.ceil(height_pt * scale)
        if width < 1 or height < 1:
            raise ImportInvalid(f"page {index + 1} has no area", field="data", page=index)
        if width * height > max_pixels:
            raise ImportTooLarge(
                f"page {index + 1} would be {width}x{height} pixels at {dpi:g} dpi, more than "
                f"the {max_pixels} allowed: import it at a lower dpi", limit="pixels",
                maximum=max_pixels, page=index)
        _check_decoded(width, height, max_decoded, index)
        bitmap = page.render(scale=scale, may_draw_forms=True, rev_byteorder=True,
                             fill_color=(255, 255, 255, 255))
        picture = bitmap.to_pil().convert("RGB")
        bitmap.close()
    finally:
        page.close()
    red, green, blue = picture.split()
    if (ImageChops.difference(red, green).getbbox() is None
            and ImageChops.difference(green, blue).getbbox() is None):
        picture = red  # no colour anywhere: a grey JPEG is a third of the size
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=RENDER_QUALITY, dpi=(dpi, dpi))
    return PageResult(out.getvalue(), "jpeg", float(dpi), "rendered", _preview(picture))


# -- the run ----------------------------------------------------------------------------------

def _open_pdf(path: Path, password: str | None) -> pikepdf.Pdf:
    import pikepdf

    try:
        return pikepdf.open(path, password=password or "")
    except pikepdf.PasswordError as exc:
        given = bool(password)
        raise PdfPasswordRequired(
            "the PDF password is wrong" if given else
            "the PDF is encrypted: send its password to import it",
            field="password", password_given=given) from exc
    except (pikepdf.PdfError, ValueError, OSError) as exc:
        raise ImportInvalid(f"not a readable PDF: {exc}", field="data") from exc


def _open_renderer(path: Path, password: str | None, pages: int) -> pypdfium2.PdfDocument:
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(path, password=password or None)
    except pypdfium2.PdfiumError as exc:
        raise ImportInvalid(f"the PDF cannot be rendered: {exc}", field="data") from exc
    document.init_forms()
    if len(document) != pages:
        raise ImportInvalid(f"the PDF is damaged: its page tree reads as {pages} or "
                            f"{len(document)} pages", field="data")
    return document


def _write_file(out_dir: Path, name: str, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(out_dir / name, flags, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def send_page(channel: Channel, out_dir: Path, index: int, result: PageResult) -> None:
    """Write a page (and its preview) to the scratch folder, announce it, keep the window."""
    name = f"page-{index:05d}.{'jpg' if result.format == 'jpeg' else 'png'}"
    _write_file(out_dir, name, result.data)
    preview = None
    if result.preview is not None:
        preview = f"page-{index:05d}.preview.jpg"
        _write_file(out_dir, preview, result.preview)
    channel.send({"ev": "page", "index": index, "file": name, "preview": preview,
                  "format": result.format, "dpi": result.dpi, "how": result.how})
    channel.page_sent()


def run(args: argparse.Namespace, password: str | None, channel: Channel,
        limits: dict[str, int]) -> None:
    """Open the PDF, announce its pages, then extract or render each in order."""
    import pikepdf
    from PIL import Image

    source = Path(args.input)
    renderer: pypdfium2.PdfDocument | None = None
    with _open_pdf(source, password) as pdf:
        try:
            pages = len(pdf.pages)
        except pikepdf.PdfError as exc:
            raise ImportInvalid(f"the PDF's page tree is damaged: {exc}", field="data") from exc
        if pages == 0:
            raise ImportInvalid("the PDF has no pages", field="data")
        if pages > args.max_pages:
            raise ImportTooLarge(f"the PDF has {pages} pages, more than the {args.max_pages} "
                                 "allowed", limit="pages", maximum=args.max_pages)
        channel.send({"ev": "ready", "pages": pages, "limits": limits})
        try:
            for index, page in enumerate(pdf.pages):
                result = None
                content = check_content(page, args.max_content_bytes, index)
                try:
                    # A page that is one image has a few hundred bytes of content; parsing a
                    # big stream into operators only to find more than that costs memory.
                    if content <= _MAX_SINGLE_IMAGE_CONTENT:
                        result = extract(page, args.max_pixels, index, args.max_decoded_bytes)
                except (ImportTooLarge, MemoryError, Image.DecompressionBombError):
                    raise
                except Exception as exc:  # a hostile page may break the extractor anywhere
                    log.info("page %d: extraction failed (%s); rasterising", index + 1, exc)
                if result is None:
                    if renderer is None:
                        renderer = _open_renderer(source, password, pages)
                    result = render(renderer, index, args.dpi, args.max_pixels,
                                    args.max_decoded_bytes)
                send_page(channel, Path(args.out_dir), index, result)
                del result
        finally:
            if renderer is not None:
                renderer.close()


def run_image(args: argparse.Namespace, channel: Channel, limits: dict[str, int]) -> None:
    """Decode an image file's frames (images.py), each checked before it is decoded, and
    hand over each page with its preview; a page kept byte for byte is decoded here in full
    to prove it complete."""
    from scanlet.codecs.decode import ImageDecodeError, decode
    from scanlet.importing.detect import FileFormat
    from scanlet.importing.images import StoredFormat, import_image

    out_dir = Path(args.out_dir)
    sent = 0

    def announce(total: int) -> None:
        channel.send({"ev": "ready", "pages": total, "limits": limits})

    def add(data: bytes, stored: StoredFormat, dpi: float | None,
            pixels: Image.Image | None = None, /) -> None:
        nonlocal sent
        if pixels is not None:
            preview = _preview(pixels)
        else:
            try:
                with decode(data, stored) as image:
                    preview = _preview(image)
            except ImageDecodeError as exc:
                raise ImportInvalid(f"the image is truncated or damaged: {exc}",
                                    field="data") from exc
        send_page(channel, out_dir, sent, PageResult(data, stored, dpi, "decoded", preview))
        sent += 1

    import_image(Path(args.input), cast("FileFormat", args.format), add, max_pixels=args.max_pixels,
                 max_frames=args.max_frames, max_decoded=args.max_decoded_bytes or None,
                 on_total=announce)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scanlet.importing.pdf_worker")
    parser.add_argument("--input", required=True, help="the PDF file")
    parser.add_argument("--out-dir", required=True, help="private folder for page files")
    parser.add_argument("--dpi", type=float, required=True)
    parser.add_argument("--max-pages", type=int, required=True)
    parser.add_argument("--max-pixels", type=int, required=True)
    parser.add_argument("--format", default="pdf",
                        choices=["pdf", "jpeg", "png", "tiff", "bmp", "webp"])
    parser.add_argument("--max-frames", type=int, default=1000)
    parser.add_argument("--max-decoded-bytes", type=int, default=0, help="0: no cap")
    parser.add_argument("--max-content-bytes", type=int, default=0, help="0: no cap")
    parser.add_argument("--memory-bytes", type=int, default=0)
    parser.add_argument("--cpu-seconds", type=int, default=0)
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument("--log-level", default="INFO")
    return parser


def _preload(fmt: str) -> None:
    """Import every library (and Pillow plugin) a page may need *before* the limits: loading
    a shared library under a tight RLIMIT_AS fails as ImportError, which would blame the file
    for what is a setting."""
    import zlib  # noqa: F401

    from PIL import Image, ImageChops, JpegImagePlugin, PngImagePlugin, TiffImagePlugin  # noqa: F401

    import scanlet.codecs.render  # previews

    if fmt == "pdf":
        import pikepdf  # noqa: F401
        import pypdfium2  # noqa: F401
    else:
        from PIL import BmpImagePlugin, WebPImagePlugin  # noqa: F401

        import scanlet.importing.images  # noqa: F401
    Image.init()


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit status 0 after ``done``, 1 after ``error``."""
    args = _parser().parse_args(argv)
    setup_child_logging(args.log_level)
    channel = Channel(claim_stdout(), sys.stdin.buffer)
    arm_in_child(args.parent_pid)
    _preload(args.format)
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = args.max_pixels
    warnings.simplefilter("error", Image.DecompressionBombWarning)  # one thread: safe
    limits = set_limits(args.memory_bytes, args.cpu_seconds)  # before touching the file
    error: ScanletError
    try:
        password = channel.read_hello().get("password")
        if args.format == "pdf":
            run(args, password if isinstance(password, str) else None, channel, limits)
        else:
            run_image(args, channel, limits)
        channel.send({"ev": "done"})
        return 0
    except ScanletError as exc:
        error = exc
    except MemoryError:
        error = ImportTooLarge("the file needs more memory than an import may use",
                               limit="memory", maximum=args.memory_bytes)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        error = ImportTooLarge(f"an image in the file is too large: {exc}", limit="pixels",
                               maximum=args.max_pixels)
    except Exception as exc:  # the file broke a parser: the client's file, not our state
        log.exception("import of a %s file failed", args.format)
        error = ImportInvalid(f"the file could not be processed: {exc}", field="data")
    with contextlib.suppress(OSError):
        channel.send({"ev": "error", "error": error.to_dict()})
    return 1


if __name__ == "__main__":
    sys.exit(main())
