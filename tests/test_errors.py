"""The one exception tree: every code defined once in scanlet.errors, known to errors_by_code
without importing feature packages, documented in docs/api.md, and still importable from the
old places."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from scanlet import errors
from scanlet.errors import (
    ERRORS_BY_CODE,
    ImportFailed,
    ImportInvalid,
    ImportTooLarge,
    ImportUnsupportedFormat,
    InvalidSetting,
    OcrCancelled,
    OcrError,
    OcrTimeout,
    OcrUnavailable,
    PdfPasswordRequired,
    RateLimited,
    RequestError,
    ScanCancelled,
    ScanletError,
    TaskNotFound,
    TooManyTasks,
    error_from_dict,
    errors_by_code,
)

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "scanlet"


def all_classes() -> list[type[ScanletError]]:
    found: list[type[ScanletError]] = []
    todo: list[type[ScanletError]] = [ScanletError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_codes_are_unique_and_all_defined_in_errors_py() -> None:
    import scanlet.app_factory  # noqa: F401  (imports every feature package)

    classes = all_classes()
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)
    outside = [f"{cls.__module__}.{cls.__qualname__}" for cls in classes
               if cls.__module__ != "scanlet.errors"]
    assert outside == []
    assert set(errors_by_code()) == set(ERRORS_BY_CODE) == set(codes)


def test_no_code_is_declared_outside_errors_py() -> None:
    declared = {path.relative_to(SRC).as_posix() for path in SRC.rglob("*.py")
                if re.search(r'^\s+code = "[a-z_]+"', path.read_text(), re.MULTILINE)}
    assert declared == {"errors.py"}


def test_feature_codes_are_known_without_importing_the_features() -> None:
    script = ("import sys, scanlet.errors as e\n"
              "assert not any(m.startswith(('scanlet.importing', 'scanlet.ocr', 'scanlet.tasks'))"
              " for m in sys.modules), sorted(sys.modules)\n"
              "print(' '.join(sorted(e.ERRORS_BY_CODE)))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=60)
    known = set(done.stdout.split())
    assert {"import_invalid", "import_unsupported_format", "pdf_password_required",
            "import_too_large", "import_failed", "ocr_failed", "ocr_unavailable",
            "ocr_timeout", "ocr_cancelled", "task_not_found", "too_many_tasks"} <= known


@pytest.mark.parametrize(("cls", "code", "status", "exit_code", "parent"), [
    (ImportInvalid, "import_invalid", 422, 2, InvalidSetting),
    (ImportUnsupportedFormat, "import_unsupported_format", 415, 2, ImportInvalid),
    (PdfPasswordRequired, "pdf_password_required", 422, 2, ImportInvalid),
    (ImportTooLarge, "import_too_large", 413, 2, RequestError),
    (ImportFailed, "import_failed", 500, 1, ScanletError),
    (OcrError, "ocr_failed", 500, 10, ScanletError),
    (OcrUnavailable, "ocr_unavailable", 503, 10, OcrError),
    (OcrTimeout, "ocr_timeout", 504, 10, OcrError),
    (OcrCancelled, "ocr_cancelled", 409, 6, ScanCancelled),
    (TaskNotFound, "task_not_found", 404, 3, errors.NotFound),
    (TooManyTasks, "too_many_tasks", 429, 8, RateLimited),
])
def test_moved_and_new_classes(cls: type[ScanletError], code: str, status: int, exit_code: int,
                               parent: type[ScanletError]) -> None:
    assert (cls.code, cls.http_status, cls.exit_code) == (code, status, exit_code)
    assert issubclass(cls, parent)
    assert ERRORS_BY_CODE[code] is cls
    rebuilt = error_from_dict(cls("why", page=3).to_dict())  # e.g. across a worker boundary
    assert type(rebuilt) is cls and rebuilt.message == "why" and rebuilt.detail == {"page": 3}


def test_old_import_locations_are_the_same_classes() -> None:
    from scanlet.importing import errors as import_errors
    from scanlet.ocr import OcrUnavailable as FromPackage
    from scanlet.ocr import tesseract
    from scanlet.tasks import TaskNotFound as FromTasks

    for name in ("ImportInvalid", "ImportUnsupportedFormat", "PdfPasswordRequired",
                 "ImportTooLarge", "ImportFailed"):
        assert getattr(import_errors, name) is getattr(errors, name)
    for name in ("OcrError", "OcrUnavailable", "OcrTimeout", "OcrCancelled"):
        assert getattr(tesseract, name) is getattr(errors, name)
    assert FromPackage is OcrUnavailable and FromTasks is TaskNotFound
    # The PDF worker's boundary still accepts only import errors.
    assert type(import_errors.import_error_from_dict(
        {"code": "pdf_password_required", "message": "pw"})) is PdfPasswordRequired
    smuggled = import_errors.import_error_from_dict({"code": "ocr_failed", "message": "x"})
    assert type(smuggled) is ImportFailed and smuggled.detail["original_code"] == "ocr_failed"


def test_unknown_codes_still_become_driver_errors() -> None:
    rebuilt = error_from_dict({"code": "no_such_code", "message": "m"})
    assert type(rebuilt) is errors.DriverError
    assert rebuilt.detail["original_code"] == "no_such_code"


def test_every_code_is_in_the_api_doc_and_the_tree() -> None:
    import scanlet.app_factory  # noqa: F401

    table = (ROOT / "docs" / "api.md").read_text().split("## Errors", 1)[1]
    documented = set(re.findall(r"`([a-z_]+)`", table))
    tree = errors.__doc__ or ""
    for cls in all_classes():
        assert cls.code in documented, cls.code
        assert f"{cls.__name__} ({cls.code}" in tree, cls.__name__
