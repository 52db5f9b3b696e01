"""Drop-in compatibility with the Dynamic Web TWAIN Service's public REST API.

``/api/...`` is the current (v19) API, ``/DWTAPI/...`` the legacy one (18.4 to 18.5). Both are
built from the public documentation and the MIT-licensed client ``twain-wia-sane-scanner``
only (see ``shared/reference/dwt-api.md``), on the same core as ``/v1``: pages scanned here are
ordinary buffer pages.

Access (decided in ``security/policy.py``, kind ``compat``): the API is for native programs;
a web page (an http(s) ``Origin`` other than Scanlet's own, or browser fetch metadata) is
refused. A key sent as ``DWT-PRODUCT-KEY``, ``X-DICS-LICENSE-KEY``, ``Authorization: Bearer``
or the JSON body's ``license`` field is read as a Scanlet API key (``scanlet keys create``); a
wrong one is 403 with code -2800. The reference asks for the key only when a scan job is
created and a barcode read, and its clients send it only there, so other calls without a key
are accepted from a program of the same OS user on this computer (on Linux the kernel tells
the peer's user; a process of the same user can read the buffer's files anyway), never in
remote mode, and never with an ``Origin`` header of any value (a browser extension, a
``file://`` page or ``null`` is a browser context running web content, not a program).
Creating jobs and reading barcodes always need the key. Errors have the reference's body
``{code, message, statusCode}``.
"""
