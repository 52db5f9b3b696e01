"""Version 1.0.0 of the reference's open-source client (``twain-wia-sane-scanner``, the
``/DWTAPI`` generation), unmodified, against a real service: list, scan, read documents until
410, delete. 1.0.0 cannot share a virtualenv with 2.0.3, so scripts/install puts it in
``.venv/dwt-client-1.0.0`` and the client runs in a subprocess with that folder first on its
PYTHONPATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.conftest import Service

CLIENT_DIR = Path(__file__).resolve().parents[2] / ".venv" / "dwt-client-1.0.0"

SCRIPT = """
import json, sys
import dynamsoftservice
from dynamsoftservice import ScannerController, ScannerType

host, key, folder = sys.argv[1:4]
controller = ScannerController()
every = controller.getDevices(host)
sane = controller.getDevices(host, ScannerType.SANESCANNER)
twain = controller.getDevices(host, ScannerType.TWAINSCANNER)
device = next(d for d in sane if "test:0" in d["name"])
job = controller.scanDocument(host, {"license": key, "device": device["device"], "config": {
    "IfShowUI": False, "PixelType": 2, "Resolution": 75, "IfFeederEnabled": True,
    "IfDuplexEnabled": False, "XferCount": 3}})
files = controller.getImageFiles(host, job, folder)
controller.deleteJob(host, job)
streams = controller.getImageStreams(host, job)  # deleted: 410 at once
print(json.dumps({"version": dynamsoftservice.__version__, "module": dynamsoftservice.__file__,
                  "every": len(every), "sane": len(sane), "twain": len(twain), "job": job,
                  "files": files, "after_delete": len(streams)}))
"""


def test_client_1_0_0_lists_scans_reads_until_410_and_deletes(service: Service,
                                                              tmp_path: Path) -> None:
    assert (CLIENT_DIR / "dynamsoftservice" / "__init__.py").is_file(), \
        "run scripts/install (it puts twain-wia-sane-scanner 1.0.0 there)"
    env = {**os.environ, "PYTHONPATH": str(CLIENT_DIR)}
    out = tmp_path / "images"
    out.mkdir()
    ran = subprocess.run([sys.executable, "-c", SCRIPT, service.url, service.key, str(out)],
                         capture_output=True, text=True, timeout=60, env=env, check=False)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result["version"] == "1.0.0"
    assert Path(result["module"]).is_relative_to(CLIENT_DIR)
    assert result["sane"] == result["every"] >= 2 and result["twain"] == 0
    assert len(result["job"]) == 36  # a UUID, as plain text
    assert len(result["files"]) == 3 and result["after_delete"] == 0
    for name in result["files"]:
        assert name.endswith(".jpg")
        with Image.open(out / name) as image:
            assert image.format == "JPEG" and image.size == (620, 876)
