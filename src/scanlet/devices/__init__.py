"""Scanners: the driver interface, drivers, the scan worker process and its async bridge.

Entry point for the rest of Scanlet: :class:`scanlet.devices.manager.DeviceManager`. Nothing is
imported here, so the scan worker (``python -m scanlet.devices.worker``) starts without loading
the service side.

    manager.py      DeviceManager, ScanSession, DeviceOptions (asyncio, in the service)
    registry.py     every driver by name: platforms, isolation, id prefix, lazy loading
    bridge.py       WorkerClient: spawns one worker, handshake, requests, failure -> errors
    inprocess.py    InProcessClient: the same interface for drivers run in the service
    protocol.py     the JSON-lines protocol between them
    worker.py       the worker process and its Worker dispatcher: runs a driver, owns pages
    driver.py       the Driver protocol every technology implements, PageSink, DeliveredImage
    sane_*.py       the SANE driver: options, capabilities, settings, statuses, fast reader
    pipeline.py     the page sink: encode + encrypt + write pages while the next is scanned
    encode.py       JPEG/PNG encoding rules; buffers.py: reused page buffers
    validate.py     settings vs capabilities, before any scan; paper.py: paper sizes
    sane_config.py  the SANE config folder with the test/pnm virtual scanners
    availability.py whether the SANE driver can run here (python-sane is optional)
"""
