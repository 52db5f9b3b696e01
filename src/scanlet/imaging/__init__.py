"""Page imaging: edits, deskew, orientation, blank-page detection.

Modules (import from them; nothing is imported here, so loading one does not load the rest):

- ``ops``: pure operations on PIL images (rotate, flip, mirror, crop, fill, resize, dpi,
  grayscale, black-and-white, invert, brightness/contrast, despeckle, auto-crop).
- ``deskew``: skew detection (projection profiles) and correction.
- ``orientation``: upright by text orientation (Tesseract OSD).
- ``blank``: blank-page score and decision.
- ``jpeg_lossless``: quarter turns/flips of JPEG bytes without re-encoding (jpegtran).
- ``edits``: the edit operations the API accepts (pydantic) and ``apply_edits`` on page bytes.

Conventions shared by all of them: angles in degrees, positive = counter-clockwise (PIL's
``rotate``); boxes ``(left, top, right, bottom)`` in pixels; bad parameters raise
``scanlet.errors.InvalidSetting``.
"""
