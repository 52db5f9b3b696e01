"""``scanlet serve``: bind the listeners, hold the instance lock, run the API until stopped.

Listeners (each with a second socket on ``::1`` when ``[server] listen_ipv6``):

- plain HTTP on ``host:port`` — not in remote mode;
- HTTPS on ``host:https_port`` — when ``[server] https`` is on (local CA leaf, or the admin's
  ``[tls]`` certificate) and always in remote mode (admin certificate only).

Each listener is one ``uvicorn.Server`` over the same app, all in one event loop. Two things
uvicorn does per server are done here once instead: the app's lifespan (so the runtime starts
and closes once, after every listener has drained) and signal handling (uvicorn's handlers would
chain, stopping the servers one after the other). The periodic certificate task runs alongside
and reloads the HTTPS certificate in place when the file changes; under the monitor
(``--monitored``) the monitor runs that task and ``serve`` only reloads a renewed file.

Faulthandler writes the tracebacks of all threads to ``log/faults-serve.log`` on a fatal signal
and on SIGUSR1 (core/crash.py), where the monitor picks them up for a crash report. On
SIGTERM/SIGINT the listeners drain for up to half of ``[server] shutdown_grace``, then the
runtime stops running jobs (marked ``interrupted``, their stored pages kept), stops the scan
workers politely and checkpoints the buffer's SQLite index.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE
from uvicorn.lifespan.on import LifespanOn

from scanlet.app_factory import create_app
from scanlet.background import BackgroundTask
from scanlet.codecs import pixel_budget
from scanlet.config import Home, Settings, is_remote
from scanlet.core import crash
from scanlet.core.logs import configure
from scanlet.core.runtime import ListenerAddress, Runtime
from scanlet.errors import ConfigError
from scanlet.memory import reuse_page_buffers
from scanlet.security import certs
from scanlet.security.cert_task import CertificateTask, CheckReport, wants_task
from scanlet.service.connections import ConnectionLimits, ConnectionTable, protocol_classes
from scanlet.service.instance import InstanceLock

log = logging.getLogger(__name__)

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def bind(host: str, port: int, *, setting: str = "port") -> socket.socket:
    """Bind the listening socket ourselves so port 0 works and errors are clear."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this: without it a response written in two parts waits for
    # the client's delayed ACK (40 ms on Linux) on every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if family == socket.AF_INET6 and host == "::1":
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = "Set [server] port in scanlet.ini or pass --port" if setting == "port" else \
            f"Set [server] {setting} in scanlet.ini"
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}); another program uses the port? "
            f"{hint}", host=host, port=port) from exc
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


@dataclass
class Listener:
    """One uvicorn server's sockets: the configured address, plus ``::1`` if asked."""

    scheme: str
    host: str
    sockets: list[socket.socket]
    context: ssl.SSLContext | None = None

    @property
    def port(self) -> int:
        return int(self.sockets[0].getsockname()[1])

    def urls(self, names: tuple[str, ...] = ()) -> list[str]:
        hosts = [s.getsockname()[0] for s in self.sockets] + list(names)
        return [f"{self.scheme}://{f'[{h}]' if ':' in h else h}:{self.port}" for h in hosts]

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def bind_listener(scheme: str, host: str, port: int, *, ipv6: bool, setting: str,
                  context: ssl.SSLContext | None = None) -> Listener:
    """Bind ``host:port`` and, with ``ipv6`` and an IPv4 host, ``[::1]`` on the same port."""
    sockets = [bind(host, port, setting=setting)]
    if ipv6 and ":" not in host:
        try:
            sockets.append(bind("::1", sockets[0].getsockname()[1], setting=setting))
        except ConfigError:
            sockets[0].close()
            raise
    return Listener(scheme, host, sockets, context)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to :func:`serve` (several servers share a loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Signals:
    """SIGINT/SIGTERM stop every server; a second SIGINT skips the graceful wait.

    Like uvicorn, the signal is raised again once the servers are down and the previous
    handlers are back, so the process ends the way the sender expects.
    """

    def __init__(self, servers: list[_Server]) -> None:
        self.servers = servers
        self.captured: list[int] = []

    def handle(self, sig: int, frame: FrameType | None) -> None:
        force = sig == signal.SIGINT and sig in self.captured
        self.captured.append(sig)
        for server in self.servers:
            server.should_exit = True
            if force:
                server.force_exit = True

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle) for sig in HANDLED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        for captured in reversed(self.captured):
            signal.raise_signal(captured)


class TlsReloader:
    """Reloads the HTTPS certificate into the running context when its file changed."""

    def __init__(self, context: ssl.SSLContext, cert_file: Path, key_file: Path) -> None:
        self.context, self.cert_file, self.key_file = context, cert_file, key_file
        self.loaded = certs.certificate_sha256(cert_file)

    def __call__(self, report: CheckReport) -> None:
        current = certs.certificate_sha256(self.cert_file)
        if current is None or current == self.loaded:
            return
        certs.load_chain(self.context, self.cert_file, self.key_file)
        self.loaded = current
        log.info("HTTPS now uses the renewed certificate %s", self.cert_file)


class _CertificateWatch(BackgroundTask):
    """Under the monitor, which runs the certificate task: reload a renewed certificate."""

    PERIOD = 60.0
    task_name = "scanlet-cert-watch"

    def __init__(self, reloader: TlsReloader) -> None:
        super().__init__()
        self.reloader = reloader

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.PERIOD)
            try:
                self.reloader(CheckReport())
            except Exception:
                log.exception("reloading the HTTPS certificate")


def _server_config(app: FastAPI, context: ssl.SSLContext | None, drain: int = 5, *,
                   table: ConnectionTable | None = None,
                   limits: ConnectionLimits | None = None) -> uvicorn.Config:
    """One listener's uvicorn config; ``table`` (shared by all listeners) counts connections
    per peer, and the protocols apply service/connections.py's rules."""
    limits = limits or ConnectionLimits()
    http, ws = protocol_classes(table or ConnectionTable(limits.per_peer), limits)
    factory = None
    if context is not None:
        def factory(config: uvicorn.Config, default: Callable[[], ssl.SSLContext]
                    ) -> ssl.SSLContext:
            return context
    # proxy_headers off: nothing proxies a loopback service, and X-Forwarded-Proto from any
    # local client must not change the scheme the Host/Origin checks see.
    return uvicorn.Config(app, log_config=None, access_log=False, ws_max_size=1 << 20,
                          timeout_graceful_shutdown=drain, lifespan="off", proxy_headers=False,
                          ssl_context_factory=factory, http=http, ws=ws)


async def _serve_all(app: FastAPI, listeners: list[Listener], servers: list[_Server],
                     task: CertificateTask | _CertificateWatch | None) -> None:
    """Start the app once, run every server until one stops, drain them all, close the app."""
    lifespan = LifespanOn(uvicorn.Config(app, log_config=None, lifespan="on",
                                         proxy_headers=False))
    await lifespan.startup()
    if lifespan.should_exit:
        sys.exit(STARTUP_FAILURE)

    async def run(server: _Server, listener: Listener) -> None:
        try:
            await server.serve(sockets=listener.sockets)
        finally:
            for other in servers:  # one listener down (or failed): stop the others too
                other.should_exit = True

    if task is not None:
        task.start()
    try:
        results = await asyncio.gather(*(run(s, lis) for s, lis in zip(servers, listeners,
                                                                      strict=True)),
                                       return_exceptions=True)
    finally:
        if task is not None:
            await task.stop()
        await lifespan.shutdown()
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _tls_context(home: Home, settings: Settings) -> tuple[ssl.SSLContext, TlsReloader] | None:
    if not (settings.https or is_remote(settings)):
        return None
    cert_file, key_file = certs.server_files(home, settings)
    context = certs.server_context(cert_file, key_file)
    return context, TlsReloader(context, cert_file, key_file)


def serve(home: Home, settings: Settings, *, demo: bool,
          announce: Callable[[str], None] = print, monitored: bool = False) -> None:
    """Run the service in the foreground until SIGINT/SIGTERM (``monitored``: started by
    ``scanlet service run``, which runs the certificate task)."""
    home.create()
    configure(home.log, settings.log_level, fmt=settings.log_format,
              max_mb=settings.log_max_mb, backups=settings.log_backups)
    reuse_page_buffers()
    remote = is_remote(settings)
    with InstanceLock(home.port_lock) as lock:
        crash.enable_faulthandler(home.log, home.dump, keep=settings.dump_keep)
        tls = _tls_context(home, settings)
        listeners: list[Listener] = []
        try:
            if not remote:
                listeners.append(bind_listener("http", settings.host, settings.port,
                                               ipv6=settings.listen_ipv6, setting="port"))
            if tls is not None:
                listeners.append(bind_listener("https", settings.host, settings.https_port,
                                               ipv6=settings.listen_ipv6, setting="https_port",
                                               context=tls[0]))
            by_scheme = {lis.scheme: lis.port for lis in listeners}
            lock.update(host=settings.host, http_port=by_scheme.get("http"),
                        https_port=by_scheme.get("https"))
            runtime = Runtime(home, settings, demo=demo)
            # Pages decoded in this process (edits, processing, exports, renditions) share
            # the imports' decoding budget; the CLI and workers install none.
            pixel_budget.install(runtime.decode_gate)
            runtime.listeners = [ListenerAddress(lis.scheme, sock.getsockname()[0], lis.port)
                                 for lis in listeners for sock in lis.sockets]
            app = create_app(runtime)
            drain = max(1, int(settings.shutdown_grace / 2))
            limits = ConnectionLimits(settings.header_timeout, settings.body_timeout,
                                      settings.max_connections_per_peer)
            table = ConnectionTable(limits.per_peer)
            servers = [_Server(_server_config(app, lis.context, drain, table=table,
                                              limits=limits)) for lis in listeners]
            task: CertificateTask | _CertificateWatch | None = None
            if monitored:
                task = _CertificateWatch(tls[1]) if tls else None
            elif wants_task(home, settings):
                task = CertificateTask(home, settings, on_checked=tls[1] if tls else None)
            names = settings.public_names if remote else ()
            for listener in listeners:
                for url in listener.urls(names):
                    announce(f"Scanlet {'(demo scanner) ' if demo else ''}listening on {url}  "
                             f"(home: {home.root})")
            log.info("serving on %s, home %s, demo=%s",
                     ", ".join(u for lis in listeners for u in lis.urls(names)), home.root, demo)
            with _Signals(servers).installed():
                asyncio.run(_serve_all(app, listeners, servers, task))
        finally:
            for listener in listeners:
                listener.close()
