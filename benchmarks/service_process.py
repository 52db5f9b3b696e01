"""A ``scanlet serve --demo`` process for the benchmarks, and the CLI's auth header.

Imported by the benchmark scripts, which run as ``python benchmarks/bench_*.py`` (their folder
is on ``sys.path``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx


def auth(home: Path) -> dict[str, str]:
    """The header the CLI authenticates with (the service writes its key at start-up)."""
    return {"Authorization": f"Bearer {(home / 'keys' / 'cli.key').read_text().strip()}"}


def start_service(home: Path, config: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``scanlet serve --demo`` on a free port with ``config`` as its user.ini; its
    process and URL once it answers (30 s at most)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "user.ini").write_text(config)
    proc = subprocess.Popen([sys.executable, "-m", "scanlet", "serve", "--demo", "--home",
                             str(home), "--port", "0"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"service exited with {proc.returncode}")
        try:
            info = json.loads((home / "port.lock").read_text())
            if info.get("http_port") and info["pid"] == proc.pid \
                    and (home / "keys" / "cli.key").exists():
                url = f"http://127.0.0.1:{info['http_port']}"
                httpx.get(url + "/v1/health").raise_for_status()
                return proc, url
        except (OSError, ValueError, httpx.HTTPError):
            pass
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise SystemExit("service did not start")
