"""Crash safety with real SIGKILLs: a reported page is never lost, a half page never listed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scanlet.buffer import PageStore
from scanlet.config import Home
from scanlet.crypto import MAGIC
from tests.buffer.testdata import KEY, make_jpeg

CHILD = Path(__file__).with_name("crash_child.py")
SRC = Path(__file__).resolve().parents[2] / "src"


def start_child(home: Home, document_id: str, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(home.root), document_id, mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def assert_consistent(store: PageStore, document_id: str, reported: list[str],
                      home: Home) -> None:
    """Every reported page is listed and readable; everything listed is readable; the
    positions are dense; no stray file remains."""
    pages = store.list_pages(document_id)
    listed = [p.id for p in pages]
    missing = set(reported) - set(listed)
    assert not missing, f"pages reported stored but lost: {missing}"
    assert [p.index for p in pages] == list(range(len(pages)))
    for page in pages:
        assert store.read_original(page.id, cache=False).startswith(b"\xff\xd8")
    on_disk = sorted(p.name for p in home.pages.iterdir())
    assert on_disk == sorted(f"{page_id}.slc" for page_id in listed)
    assert all(p.read_bytes().startswith(MAGIC) for p in home.pages.iterdir())
    assert list(home.incoming.iterdir()) == []


@pytest.mark.timeout(60)
def test_kill_9_while_adding_in_a_loop(home: Home) -> None:
    with PageStore(home, KEY) as store:
        document_id = store.create_document("crash").id
    reported: list[str] = []
    rng = random.Random(1234)
    for round_number in range(4):
        child = start_child(home, document_id, "loop")
        assert child.stdout is not None
        wanted = len(reported) + 5 + round_number
        while len(reported) < wanted:
            line = child.stdout.readline()
            assert line, f"child died early: {child.stderr.read() if child.stderr else ''}"
            reported.append(line.strip())
        time.sleep(rng.uniform(0, 0.03))  # land somewhere inside a later add
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=10)
        assert child.returncode == -signal.SIGKILL
        reported.extend(line for line in rest.split() if line)
        with PageStore(home, KEY) as store:
            report = store.recover()
            assert report.missing_pages_dropped == []
            assert_consistent(store, document_id, reported, home)
            # At most the one add that committed but had not printed yet is extra.
            assert len(store.list_pages(document_id)) - len(reported) in (0, 1)
            reported = [p.id for p in store.list_pages(document_id)]


@pytest.mark.timeout(30)
def test_kill_after_move_before_commit(home: Home) -> None:
    with PageStore(home, KEY) as store:
        document_id = store.create_document().id
    child = start_child(home, document_id, "kill-after-move")
    child.communicate(timeout=20)
    assert child.returncode == -signal.SIGKILL
    assert len(list(home.pages.iterdir())) == 1  # moved, never indexed
    with PageStore(home, KEY) as store:
        assert store.list_pages(document_id) == []
        report = store.recover()
        assert report.orphan_files_removed == 1 and report.incoming_removed >= 1
        assert_consistent(store, document_id, [], home)


@pytest.mark.timeout(30)
def test_kill_after_commit_before_return(home: Home) -> None:
    with PageStore(home, KEY) as store:
        document_id = store.create_document().id
    child = start_child(home, document_id, "kill-after-commit")
    out, _ = child.communicate(timeout=20)
    assert child.returncode == -signal.SIGKILL and out == ""
    with PageStore(home, KEY) as store:
        store.recover()
        pages = store.list_pages(document_id)
        assert len(pages) == 1  # committed, so kept (complete and readable)
        assert_consistent(store, document_id, [], home)


@pytest.mark.timeout(30)
def test_kill_during_delete(home: Home) -> None:
    with PageStore(home, KEY) as store:
        document_id = store.create_document().id
        kept = store.add_image(document_id, make_jpeg(seed=1), "jpeg").id
        store.add_image(document_id, make_jpeg(seed=2), "jpeg")
    child = start_child(home, document_id, "kill-during-delete")
    out, _ = child.communicate(timeout=20)
    deleted = out.split()[0]
    assert deleted == kept
    assert (home.pages / f"{deleted}.slc").exists()  # row gone, file not yet
    with PageStore(home, KEY) as store:
        assert deleted not in [p.id for p in store.list_pages(document_id)]
        assert store.recover().orphan_files_removed == 1
        assert_consistent(store, document_id, [], home)


def test_recover_cleans_strays_and_drops_rows_without_files(home: Home) -> None:
    with PageStore(home, KEY) as store:
        document_id = store.create_document().id
        pages = [store.add_image(document_id, make_jpeg(), "jpeg").id for _ in range(3)]
        store.render(pages[0], width=20)
        store.render(pages[2], width=20)
    (home.pages / f"{pages[1]}.slc").unlink()  # lost outside Scanlet
    (home.incoming / "leftover.enc").write_bytes(b"x")
    (home.pages / ".abc.slc.1234.part").write_bytes(b"x")
    (home.thumbnails / ".t.slc.99.part").write_bytes(b"x")
    (home.pages / "aaaaaaaaaaaaaaaa.slc").write_bytes(b"x")  # file without a row
    (home.thumbnails / "bbbbbbbbbbbbbbbb.tag.slc").write_bytes(b"x")  # thumb of no page
    (home.pages / "README").write_text("not ours, left alone")
    (home.cache / "tmp" / "pdf-export-x").mkdir()
    (home.cache / "tmp" / "pdf-export-x" / "0000001.pdf").write_bytes(b"%PDF")
    with PageStore(home, KEY) as store:
        report = store.recover()
        assert report.incoming_removed == 1 and report.partial_removed == 2
        assert report.temp_removed == 1 and list((home.cache / "tmp").iterdir()) == []
        assert report.orphan_files_removed == 1 and report.orphan_thumbs_removed == 1
        assert report.missing_pages_dropped == [pages[1]]
        listed = store.list_pages(document_id)
        assert [p.id for p in listed] == [pages[0], pages[2]]
        assert [p.index for p in listed] == [0, 1]
        assert len(list(home.thumbnails.iterdir())) == 2
        assert (home.pages / "README").exists()
        assert store.recover().clean
