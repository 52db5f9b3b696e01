"""``scanlet convert IN... -o OUT``: files in, files out, with the same processing as scans.

Runs entirely in-process on a throw-away buffer in a private temporary folder (no service, no
user data touched): import every input (JPEG, PNG, TIFF, BMP, WebP, PDF), optionally drop
blank pages and straighten, then write the output (optionally split, OCRed, PDF/A).
With ``--ocr`` it reads the user's config (``$SCANLET_HOME`` or the default home) for one key,
``[ocr] tesseract``, so it runs the same tesseract as the service.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from scanlet.errors import InvalidSetting, ScanletError
from scanlet.models import PageProcessing

if TYPE_CHECKING:  # the heavy imaging/OCR stack loads only when a command needs it
    from scanlet.barcodes.separation import SeparationRule
    from scanlet.cli.outputs import OutputPlan

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

SplitOpt = Annotated[str | None, typer.Option(
    "--split-on", help="Split into documents on separator pages: barcode, patch or blank")]
SplitValueOpt = Annotated[str | None, typer.Option(
    "--split-value", help="With --split-on barcode: only barcodes with exactly this text")]
# The output options `scan` and `convert` share.
OcrOpt = Annotated[bool, typer.Option("--ocr", help="Add a text layer (PDF output)")]
LangOpt = Annotated[str, typer.Option(help="OCR languages, e.g. eng+deu")]
PdfaOpt = Annotated[bool, typer.Option("--pdfa", help="Write PDF/A-2b")]
DeskewOpt = Annotated[bool, typer.Option("--deskew", help="Straighten pages")]
DropBlankOpt = Annotated[bool, typer.Option("--drop-blank", help="Leave out blank pages")]
KeepSeparatorsOpt = Annotated[bool, typer.Option(help="Keep separator pages")]


def split_rule(kind: str | None, value: str | None, keep: bool) -> SeparationRule | None:
    """The separation rule the CLI options describe."""
    from scanlet.barcodes.separation import SeparationRule

    if kind is None:
        if value is not None:
            raise InvalidSetting("--split-value needs --split-on barcode", field="split_value")
        return None
    if kind not in ("barcode", "patch", "blank"):
        raise InvalidSetting(f"--split-on {kind!r}: use barcode, patch or blank",
                             field="split_on", allowed=["barcode", "patch", "blank"])
    return SeparationRule.model_validate({"kind": kind, "keep_separators": keep,
                                          **({"value": value} if value else {})})


def convert(
    inputs: Annotated[list[Path], typer.Argument(help="Files to read, in order")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file: .pdf, .tif, "
                                         ".jpg, .png, .bmp or .webp")],
    ocr: OcrOpt = False,
    lang: LangOpt = "eng",
    pdfa: PdfaOpt = False,
    deskew: DeskewOpt = False,
    drop_blank: DropBlankOpt = False,
    split_on: SplitOpt = None,
    split_value: SplitValueOpt = None,
    keep_separators: KeepSeparatorsOpt = False,
    dpi: Annotated[float | None, typer.Option(help="Rasterising dpi for PDF inputs")] = None,
    password: Annotated[str | None, typer.Option(help="Password of encrypted PDF inputs")]
    = None,
) -> None:
    """Convert image and PDF files, with OCR, PDF/A, deskew, blank removal and splitting."""
    from scanlet.cli.outputs import OutputPlan

    try:
        rule = split_rule(split_on, split_value, keep_separators)
        plan = OutputPlan(output, ocr_lang=lang if ocr else None, pdf_a=pdfa, split=rule)
        plan.check()
        for path in inputs:
            if not path.is_file():
                raise InvalidSetting(f"{path} is not a file", field="inputs")
        written = _run(inputs, plan, PageProcessing(deskew=deskew, drop_blank=drop_blank),
                       dpi, password)
    except ScanletError as exc:
        err.print(f"[red]error[/red] {escape(f'[{exc.code}]: {exc.message}')}")
        raise typer.Exit(exc.exit_code) from exc
    for path in written:
        out.print(f"wrote {path}")


def _run(inputs: list[Path], plan: OutputPlan, processing: PageProcessing,
         dpi: float | None, password: str | None) -> list[Path]:
    from scanlet import postprocess
    from scanlet.buffer.store import PageStore
    from scanlet.cli.outputs import write_outputs
    from scanlet.config import Home, load_settings, resolve_home
    from scanlet.importing import import_file
    from scanlet.ocr.pool import OcrPool

    with tempfile.TemporaryDirectory(prefix="scanlet-convert-") as tmp, \
            PageStore(Home(Path(tmp) / "home").create(), secrets.token_bytes(32),
                      fsync=False) as store, \
            Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                     MofNCompleteColumn(), console=err, transient=True) as progress:
        document = store.create_document("convert")
        reading = progress.add_task("Reading", total=len(inputs))
        for path in inputs:
            import_file(store, document.id, path, dpi=dpi, password=password)
            progress.advance(reading)
        pages = store.list_pages(document.id)
        if processing.active:
            cleaning = progress.add_task("Cleaning", total=len(pages))
            for page in pages:
                postprocess.process(store, page, processing)
                progress.advance(cleaning)
            pages = store.list_pages(document.id)
        pool: list[OcrPool] = []

        def make_pool() -> OcrPool:
            if not pool:
                configured = load_settings(resolve_home()).tesseract
                pool.append(OcrPool(workdir=store.temp_dir,
                                    tesseract=str(configured) if configured else None))
            return pool[0]

        progress.add_task("Writing", total=None)
        try:
            return write_outputs(store, pages, plan, make_pool)
        finally:
            for made in pool:
                made.close()
