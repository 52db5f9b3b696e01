"""The API's ``POST /v1/documents/{id}/split`` and the CLI's ``--split-on`` are one
implementation (scanlet.core.documents): the same stack of pages, split through a running
service and by ``scanlet convert`` in-process, makes the same documents."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest

from tests.conftest import Service
from tests.core.pages import stack


def api_split(service: Service, files: list[Path], rule: dict[str, object]) -> list[int]:
    with service.client() as http:
        document = http.post("/v1/documents", json={"name": "stack"}).json()["id"]
        for path in files:
            imported = http.post(f"/v1/documents/{document}/import", content=path.read_bytes(),
                                 headers={"Content-Type": "image/png"})
            assert imported.status_code == 201, imported.text
        made = http.post(f"/v1/documents/{document}/split", json={"rule": rule})
        assert made.status_code == 200, made.text
        return [d["page_count"] for d in made.json()]


def cli_split(files: list[Path], out: Path, *options: str) -> list[int]:
    done = subprocess.run([sys.executable, "-m", "scanlet", "convert", *map(str, files),
                           "-o", str(out), *options], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    counts = []
    for number in range(1, 100):
        path = out.with_name(f"{out.stem}-{number}{out.suffix}")
        if not path.exists():
            break
        with pikepdf.open(path) as pdf:
            counts.append(len(pdf.pages))
    return counts


@pytest.mark.parametrize("keep", [False, True])
def test_api_and_cli_split_a_stack_alike(service: Service, tmp_path: Path, keep: bool) -> None:
    files = stack(tmp_path)
    through_api = api_split(service, files, {"kind": "blank", "keep_separators": keep})
    options = ["--split-on", "blank", *(["--keep-separators"] if keep else [])]
    through_cli = cli_split(files, tmp_path / "out.pdf", *options)
    assert through_api == through_cli == ([1, 3, 2] if keep else [1, 2, 1])
