"""The demo scanner: a pure-Python driver with a flatbed, a feeder and a duplex feeder loaded
with generated documents, so Scanlet can be tried (and web pages developed) without hardware.

Modules, one job each: ``fonts`` finds the typefaces, ``canvas`` draws in millimetres at any
resolution, ``documents`` and ``photo`` draw the sheets, ``stack`` says which sheets are in
which order, ``render`` turns a sheet side into a raw frame for the requested mode and area,
``options`` reads the demo's own settings (faults to provoke, the stack to load), ``caps`` says
what the device offers, and ``driver`` is the :class:`~scanlet.devices.driver.Driver`.
"""
