"""Single instance per home: ``port.lock`` holds the running service's pid and ports.

The file is locked (``flock``) for as long as the process lives, so a lock left by a killed
process is free again at once; its content only serves to name the running instance.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from scanlet.errors import AlreadyRunning, StorageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True)
class InstanceInfo:
    """What ``port.lock`` says about the running instance."""

    pid: int
    host: str | None
    http_port: int | None
    mode: str
    https_port: int | None = None

    @property
    def url(self) -> str | None:
        """The plain-HTTP URL (None when only HTTPS listens, as in remote mode)."""
        return self._url("http", self.http_port)

    @property
    def https_url(self) -> str | None:
        return self._url("https", self.https_port)

    def _url(self, scheme: str, port: int | None) -> str | None:
        if self.host is None or port is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{port}"


def read_instance(lock_path: Path) -> InstanceInfo | None:
    """The instance holding ``lock_path``, or None when no live process holds it."""
    if not lock_path.exists():
        return None
    with open(lock_path, "a+") as fh:
        if fcntl is not None:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pass  # held: someone runs
            else:
                fcntl.flock(fh, fcntl.LOCK_UN)
                return None
        fh.seek(0)
        return _parse(fh.read())


def _parse(text: str) -> InstanceInfo | None:
    try:
        data: dict[str, Any] = json.loads(text)
        return InstanceInfo(
            pid=int(data["pid"]), host=data.get("host"), http_port=data.get("http_port"),
            mode=str(data.get("mode", "service")), https_port=data.get("https_port"),
        )
    except (ValueError, KeyError, TypeError):
        return None


class InstanceLock:
    """Holds ``port.lock`` for this process; raises AlreadyRunning if another holds it."""

    def __init__(self, lock_path: Path, mode: str = "service") -> None:
        self.path = lock_path
        self.mode = mode
        self._fh: IO[str] | None = None

    def acquire(self) -> InstanceLock:
        fh = open(self.path, "a+")  # noqa: SIM115 - kept open while we run
        if fcntl is not None:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                fh.seek(0)
                info = _parse(fh.read())
                fh.close()
                if info is None:
                    raise AlreadyRunning(f"another Scanlet process holds {self.path}") from exc
                url = info.url or info.https_url
                where = f", listening on {url}" if url else ""
                raise AlreadyRunning(
                    f"Scanlet is already running for this home (pid {info.pid}{where}); "
                    "stop it first or use another --home",
                    pid=info.pid, http_port=info.http_port, host=info.host,
                    https_port=info.https_port,
                ) from exc
        self._fh = fh
        self.update(host=None, http_port=None)
        return self

    def update(self, *, host: str | None, http_port: int | None,
               https_port: int | None = None) -> None:
        """Record the ports once they are bound (``http_port`` None: no plain HTTP)."""
        if self._fh is None:
            raise StorageError("instance lock not held")
        data = {"pid": os.getpid(), "host": host, "http_port": http_port,
                "https_port": https_port, "mode": self.mode}
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(json.dumps(data))
        self._fh.flush()

    def release(self) -> None:
        if self._fh is None:
            return
        with contextlib.suppress(OSError):
            self._fh.seek(0)
            self._fh.truncate()
        self._fh.close()
        self._fh = None

    def __enter__(self) -> InstanceLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
