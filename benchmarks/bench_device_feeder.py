"""Benchmark: a 10-page A4 300 dpi colour feeder batch, DeviceManager vs ``scanimage``.

Run: ``.venv/bin/python benchmarks/bench_device_feeder.py [--runs 5]``.

Both sides use the SANE ``test`` backend with the "Color pattern" picture through the same
private SANE config. ``scanimage --batch --format=jpeg`` writes plain JPEG files; the
DeviceManager side includes everything a real job pays for after validation: settings applied
on a fresh handle, pages read, JPEG-encoded (quality 85), encrypted, written (with and without
fsync) and handed over to the service process. The worker is started before timing (a
running service keeps it warm between jobs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from scanlet.devices.manager import DeviceManager, DeviceOptions
from scanlet.devices.sane_config import prepare_demo_config
from scanlet.models import ScanSettings

SETTINGS = ScanSettings(device="sane:test:0", source="feeder", mode="color", resolution=300,
                        paper_size="A4", pages="all",
                        raw_options={"test_picture": "Color pattern"})


def _scanimage(config: Path, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    started = time.perf_counter()
    subprocess.run(
        ["scanimage", "-d", "test", "--source", "Automatic Document Feeder", "--mode", "Color",
         "--resolution", "300", "-x", "210", "-y", "297", "--test-picture", "Color pattern",
         "--format=jpeg", f"--batch={out}/p%03d.jpg"],
        env={**os.environ, "SANE_CONFIG_DIR": str(config)}, check=True, capture_output=True)
    elapsed = time.perf_counter() - started
    assert len(list(out.iterdir())) == 10
    return elapsed


async def _manager_runs(config: Path, incoming: Path, runs: int, fsync: bool) -> list[float]:
    manager = DeviceManager(DeviceOptions(sane_config_dir=config, incoming_dir=incoming,
                                          cache_key=secrets.token_bytes(32), fsync=fsync))
    times = []
    try:
        await manager.validate(SETTINGS)  # starts the worker, reads capabilities
        for _ in range(runs):
            started = time.perf_counter()
            pages = [page async for page in manager.scan(SETTINGS)]
            times.append(time.perf_counter() - started)
            assert len(pages) == 10
            for page in pages:
                os.unlink(page.path)
    finally:
        await manager.close()
    return times


def _line(name: str, times: list[float]) -> str:
    per_page = [t / 10 * 1000 for t in times]
    return (f"{name:<34} min {min(per_page):6.1f}  median {statistics.median(per_page):6.1f}"
            f"  max {max(per_page):6.1f} ms/page")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = prepare_demo_config(root / "sane", include_system=False)
        incoming = root / "incoming"
        incoming.mkdir()
        baseline = [_scanimage(config, root / "scanimage") for _ in range(args.runs)]
        synced = asyncio.run(_manager_runs(config, incoming, args.runs, fsync=True))
        unsynced = asyncio.run(_manager_runs(config, incoming, args.runs, fsync=False))
    print(_line("scanimage --batch --format=jpeg", baseline))
    print(_line("DeviceManager (fsync)", synced))
    print(_line("DeviceManager (no fsync)", unsynced))
    ratio = statistics.median(synced) / statistics.median(baseline)
    print(f"median ratio DeviceManager(fsync) / scanimage: {ratio:.2f}")


if __name__ == "__main__":
    main()
