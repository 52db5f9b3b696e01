"""Image codecs: safe decoding (decode), renditions and previews (render), resolution headers
(dpi) and exports (export: ``export_pages`` is the entry point, ``options.ExportOptions`` its
options) to PDF and PDF/A (pdf, pdfimages, pdfwriter, pdfa), multi-page TIFF (tiff) and JPEG,
PNG, BMP or WebP images (raster), with document metadata (metadata).

Nothing is imported here so that the buffer, which only decodes, does not load pikepdf; import
from the submodules.
"""
