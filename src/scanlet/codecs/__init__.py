"""Image codecs: safe decoding (decode), renditions (render), resolution headers (dpi) and
exports to PDF, TIFF, JPEG and PNG (export: ``export_pages`` is the entry point).

Nothing is imported here so that the buffer, which only decodes, does not load img2pdf and
pikepdf; import from the submodules.
"""
