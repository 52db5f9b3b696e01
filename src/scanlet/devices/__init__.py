"""Scanners: the driver interface, drivers, the scan worker process and its async bridge.

Entry point for the rest of Scanlet: :class:`scanlet.devices.manager.DeviceManager`. Nothing is
imported here, so the scan worker (``python -m scanlet.devices.worker``) starts without loading
the service side.

    manager.py      DeviceManager, ScanSession, DeviceOptions (asyncio, in the service)
    bridge.py       WorkerClient: spawns one worker, handshake, requests, failure -> errors
    protocol.py     the JSON-lines protocol between them
    worker.py       the worker process: runs a driver, answers requests
    driver.py       the Driver protocol every technology implements
    sane_*.py       the SANE driver: options, capabilities, settings, statuses, fast reader
    pipeline.py     encode + encrypt + write pages while the next one is scanned
    encode.py       JPEG/PNG encoding rules; buffers.py: reused page buffers
    validate.py     settings vs capabilities, before any scan; paper.py: paper sizes
    sane_config.py  the SANE config folder with the test/pnm virtual scanners
    availability.py whether the SANE driver can run here (python-sane is optional)
"""
