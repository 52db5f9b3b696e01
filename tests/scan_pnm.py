"""Put a generated page through the real SANE ``pnm`` backend (``scanimage``), as a scanner
would deliver it, for the imaging, barcode and OCR tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from PIL import Image

from scanlet.devices.sane_config import prepare_demo_config


def scan_image(image: Image.Image, workdir: Path, *, gray: bool = False,
               dpi: int = 300) -> Image.Image:
    """``image`` saved as PNM, read back by ``scanimage -d pnm:0`` (RGB, or L with ``gray``).

    The pnm backend delivers the file's pixels as they are; ``dpi`` (75-300) is what it reports.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / ("page.pgm" if gray else "page.ppm")
    image.convert("L" if gray else "RGB").save(source)
    config = prepare_demo_config(workdir / "sane", include_system=False)
    out = workdir / "scanned.png"
    env = {**os.environ, "SANE_CONFIG_DIR": str(config)}
    done = subprocess.run(
        ["scanimage", "-d", "pnm:0", "--filename", str(source), "--format=png",
         "--resolution", str(dpi), "-o", str(out)],
        env=env, capture_output=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"scanimage failed: {done.stderr.decode(errors='replace')}")
    scanned = Image.open(out)
    scanned.load()
    return scanned
