"""Benchmark: what a page of the demo scanner costs (it runs in the service process).

Run: ``.venv/bin/python benchmarks/bench_demo.py [--runs 5] [--dpi 300] [--mode color]``.

For every sheet of the demo stack, times ``DemoDriver.scan`` of that one sheet on the feeder
(render at the requested resolution and mode, A4, then read into a raw frame in bands) into a
sink that only keeps the frame, so encoding is not counted (the worker's encoders do that for
every driver alike). Prints min / median / max per sheet and the process's peak RSS. There is
no baseline: a real scanner takes seconds a page, the demo should take a small part of that.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import threading
import time

from scanlet.devices.demo.driver import DemoDriver
from scanlet.devices.demo.stack import DEFAULT_STACK
from scanlet.devices.driver import DeliveredImage
from scanlet.devices.encode import RawPage
from scanlet.models import ScanSettings


class _KeepLast:
    """A page sink that keeps only the last frame (bounded memory, nothing encoded)."""

    def __init__(self) -> None:
        self.last: RawPage | None = None
        self.count = 0

    def wait_for_room(self) -> None:
        self.last = None

    def frame(self, page: RawPage) -> None:
        self.last = page
        self.count += 1

    def encoded(self, page: DeliveredImage) -> None:
        raise AssertionError("the demo driver delivers raw frames")

    @property
    def emitted(self) -> int:
        return self.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--mode", default="color", choices=["color", "gray", "bw"])
    args = parser.parse_args()
    driver = DemoDriver()
    print(f"A4 at {args.dpi} dpi, {args.mode}, {args.runs} runs (ms: min / median / max)")
    for name in DEFAULT_STACK:
        settings = ScanSettings(device="demo:scanner", source="feeder", mode=args.mode,
                                resolution=args.dpi, raw_options={"stack": name})
        times = []
        for _ in range(args.runs):
            sink = _KeepLast()
            started = time.perf_counter()
            driver.scan(settings, sink, threading.Event())
            times.append((time.perf_counter() - started) * 1e3)
        print(f"  {name:10s} {min(times):7.0f} {statistics.median(times):7.0f} "
              f"{max(times):7.0f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
