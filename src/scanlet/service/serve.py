"""``scanlet serve``: bind loopback, hold the instance lock, run the API until stopped."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

import uvicorn

from scanlet.api.app import create_app
from scanlet.config import Home, Settings
from scanlet.errors import ConfigError
from scanlet.memory import reuse_page_buffers
from scanlet.service.instance import InstanceLock
from scanlet.service.logs import configure
from scanlet.service.runtime import Runtime

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves so port 0 works and errors are clear."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this: without it a response written in two parts waits for
    # the client's delayed ACK (40 ms on Linux) on every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}); another program uses the port? "
            "Set [server] port in scanlet.ini or pass --port", host=host, port=port) from exc
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def serve(home: Home, settings: Settings, *, demo: bool,
          announce: Callable[[str], None] = print) -> None:
    """Run the service in the foreground until SIGINT/SIGTERM."""
    home.create()
    configure(home.log, settings.log_level)
    reuse_page_buffers()
    with InstanceLock(home.port_lock) as lock:
        sock = bind(settings.host, settings.port)
        port = sock.getsockname()[1]
        lock.update(host=settings.host, http_port=port)
        runtime = Runtime(home, settings, demo=demo)
        app = create_app(runtime)
        config = uvicorn.Config(app, log_config=None, access_log=False, ws_max_size=1 << 20,
                                timeout_graceful_shutdown=5)
        server = uvicorn.Server(config)
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        announce(f"Scanlet {'(demo scanner) ' if demo else ''}listening on "
                 f"http://{host}:{port}  (home: {home.root})")
        log.info("serving on %s:%s, home %s, demo=%s", settings.host, port, home.root, demo)
        asyncio.run(server.serve(sockets=[sock]))
