"""The scan worker's wire protocol: JSON objects, one per line, on stdin/stdout.

Shared by the worker (``worker.py``), the service side (``bridge.py``) and the in-process
runner (``inprocess.py``, which carries the same messages as dicts) so all agree on names.
The framing (one compact JSON object per line, a line that is no object parsed as a
``garbage`` event) is the worker-process kit's (:mod:`scanlet.childproc.lines`). Page pixels
never travel here: pages are encrypted files handed over by path.

The worker runs the driver named by its ``--driver NAME`` argument (registry.py; default
``sane``); the handshake's optional ``driver`` must name the same one.

Parent -> worker (``op``)::

    {"op": "hello", "protocol": 1, "key": "<base64 cache key>", "incoming_dir": "/abs",
     "fsync": true, "log_level": "INFO", "driver": "sane"}     first line, exactly once
    {"op": "list", "id": 1}
    {"op": "caps", "id": 2, "device": "sane:test:0"}
    {"op": "scan", "id": 3, "settings": {...ScanSettings...}}
    {"op": "cancel", "id": 3}                                   while scan 3 runs
    {"op": "log_level", "level": "DEBUG"}                       any time; no answer
    {"op": "shutdown"}

Worker -> parent (``ev``)::

    {"ev": "ready", "protocol": 1, "pid": 123, "driver": "sane", "driver_version": "1.1.1"}
    {"ev": "error", "error": {code, message, detail}}           start-up failed (then exits)
    {"ev": "devices", "id": 1, "devices": [...Device...]}
    {"ev": "caps", "id": 2, "caps": {...Capabilities...}}
    {"ev": "progress", "id": 3, "page": 0, "lines": 1200, "total": 3507}
    {"ev": "page", "id": 3, "page": {...ScannedPage...}}
    {"ev": "done", "id": 3, "pages": 10}
    {"ev": "error", "id": 3, "error": {code, message, detail}, "pages": 2}
    {"ev": "bye"}                                               answer to shutdown

Every request ends with exactly one ``devices``, ``caps``, ``done`` or ``error`` event carrying
its id. ``progress`` events are liveness signals: the service treats a scan that sends nothing
for ``progress_timeout`` seconds as hung.
"""

from __future__ import annotations

PROTOCOL_VERSION = 1
WORKER_MODULE = "scanlet.devices.worker"

#: Longest protocol line accepted either way (capabilities with all raw options are tens of
#: KB).
LINE_LIMIT = 16 * 1024 * 1024

#: Events that end a request.
FINAL_EVENTS = frozenset({"devices", "caps", "done", "error"})
