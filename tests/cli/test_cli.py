"""The ``scanlet`` command, run as a real process, against a service and in-process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

from scanlet import __version__
from tests.conftest import Service
from tests.devices.test_listing_cache import offer_test_devices
from tests.helpers import check_pdf


def scanlet(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanlet", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_version() -> None:
    result = scanlet("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"scanlet {__version__}"


def test_devices_and_feeder_scan_through_running_service(service: Service,
                                                         tmp_path: Path) -> None:
    listed = scanlet("devices", "--home", str(service.home))
    assert listed.returncode == 0, listed.stderr
    assert "sane:test:0" in listed.stdout and "sane:pnm:0" in listed.stdout
    offer_test_devices(service.home / "sane", 3)
    try:
        cached = scanlet("devices", "--home", str(service.home))
        assert cached.returncode == 0 and "sane:test:2" not in cached.stdout, cached.stdout
        fresh = scanlet("devices", "--refresh", "--home", str(service.home))
        assert fresh.returncode == 0 and "sane:test:2" in fresh.stdout, fresh.stdout
    finally:
        offer_test_devices(service.home / "sane", 2)

    out = tmp_path / "out.pdf"
    result = scanlet("scan", "--home", str(service.home), "--device", "sane:test:0",
                     "--source", "feeder", "--pages", "all", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "10/10" in result.stderr  # the progress bar reached the end
    check_pdf(out, pages=10)
    with service.client() as http:  # it really went through the service
        jobs = http.get("/v1/jobs").json()
        assert len(jobs) == 1 and jobs[0]["pages_stored"] == 10


def test_in_process_scan_when_no_service_runs(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "page.png"
    result = scanlet("scan", "--home", str(home), "--demo", "--device", "sane:test:0",
                     "--mode", "gray", "--resolution", "100", "-o", str(out))
    assert result.returncode == 0, result.stderr
    with Image.open(out) as im:
        assert im.mode == "L"
        assert abs(im.size[0] - 827) <= 1 and abs(im.size[1] - 1169) <= 1
        assert round(im.info["dpi"][0]) == 100

    jpgs = tmp_path / "multi.jpg"
    result = scanlet("scan", "--home", str(home), "--demo", "--device", "sane:test:0",
                     "--source", "feeder", "--pages", "3", "--resolution", "50",
                     "-o", str(jpgs))
    assert result.returncode == 0, result.stderr
    written = sorted(tmp_path.glob("multi-*.jpg"))
    assert [p.name for p in written] == ["multi-001.jpg", "multi-002.jpg", "multi-003.jpg"]

    tiff = tmp_path / "stack.tiff"
    result = scanlet("scan", "--home", str(home), "--demo", "--device", "sane:test:0",
                     "--source", "feeder", "--pages", "2", "--mode", "bw", "--resolution",
                     "100", "-o", str(tiff))
    assert result.returncode == 0, result.stderr
    with Image.open(tiff) as im:
        assert im.n_frames == 2 and im.mode == "1"


def test_cli_errors_are_clear(home: Path, tmp_path: Path) -> None:
    bad_pages = scanlet("scan", "--home", str(home), "--demo", "--device", "sane:test:0",
                        "--pages", "zero", "-o", str(tmp_path / "x.pdf"))
    assert bad_pages.returncode == 2 and "invalid_setting" in bad_pages.stderr
    bad_ext = scanlet("scan", "--home", str(home), "--demo", "--device", "sane:test:0",
                      "-o", str(tmp_path / "x.docx"))
    assert bad_ext.returncode == 2 and ".docx" in bad_ext.stderr
    unknown = scanlet("scan", "--home", str(home), "--demo", "--device", "sane:nope:1",
                      "-o", str(tmp_path / "x.pdf"))
    assert unknown.returncode == 3 and "device_not_found" in unknown.stderr
    empty = scanlet("scan", "--home", str(home), "--demo", "--device", "sane:pnm:0",
                    "-o", str(tmp_path / "x.pdf"), "--resolution", "5000")
    assert empty.returncode == 2 and "resolution" in empty.stderr


def _pdfa_status(path: Path) -> str:
    import pikepdf

    with pikepdf.open(path) as pdf, pdf.open_metadata() as meta:
        return str(meta.pdfa_status)


def test_scan_with_processing_through_service_and_in_process(service: Service,
                                                              tmp_path: Path) -> None:
    remote = tmp_path / "remote.pdf"
    result = scanlet("scan", "--home", str(service.home), "--device", "sane:test:0",
                     "--source", "feeder", "--pages", "2", "--resolution", "100",
                     "--deskew", "--ocr", "--pdfa", "-o", str(remote),
                     timeout=300)
    assert result.returncode == 0, result.stderr
    subprocess.run(["qpdf", "--check", str(remote)], check=True, capture_output=True)
    assert _pdfa_status(remote) == "2B"
    with service.client() as http:
        [job] = http.get("/v1/jobs").json()
        assert job["settings"]["processing"]["deskew"] is True
        assert [t["kind"] for t in http.get("/v1/tasks").json()] == ["ocr-pdfa"]
    split = tmp_path / "split.pdf"
    result = scanlet("scan", "--home", str(service.home), "--device", "sane:test:0",
                     "--split-on", "nonsense", "-o", str(split))
    assert result.returncode == 2 and "barcode, patch or blank" in result.stderr


def test_in_process_scan_with_pdfa(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "local.pdf"
    result = scanlet("scan", "--home", str(home), "--demo", "--device", "sane:test:0",
                     "--resolution", "100", "--pdfa", "-o", str(out))
    assert result.returncode == 0, result.stderr
    subprocess.run(["qpdf", "--check", str(out)], check=True, capture_output=True)
    assert _pdfa_status(out) == "2B"
