"""The application core: the runtime and the operations the HTTP APIs and the CLI share.

Layering (enforced by import-linter, see pyproject.toml): ``core`` sits below ``api/``,
``compat/`` and ``cli/`` and above the feature packages (devices, buffer, importing, ocr,
upload...). It never imports a web framework's routes or the compatibility API.
"""
