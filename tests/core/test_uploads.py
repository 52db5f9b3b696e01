"""``scanlet.core.uploads``: staging and dispatch without HTTP in front, on a real page buffer,
to a real receiving server on 127.0.0.1 (the API's test receiver) and a real FTP server.

The API route and ``scanlet upload`` (which goes through the route) are tested in
tests/api/test_upload_api.py; these tests show the core does the work on its own."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from scanlet.buffer import PageStore
from scanlet.config import Home, Settings
from scanlet.core.uploads import (
    FtpLogin,
    UploadOrder,
    check_order,
    stage_and_send,
    start_upload,
    upload_rules,
)
from scanlet.errors import InvalidSetting, ScanCancelled, UploadTargetRefused
from scanlet.importing import import_file
from scanlet.models import DocumentInfo
from scanlet.tasks import TaskManager, TaskState, TooManyTasks
from tests.api.test_upload_api import Received, ftp_server, receiver
from tests.buffer.testdata import KEY
from tests.core.pages import sheet
from tests.upload.test_ftp_upload import PASSWORD, USER
from tests.upload.test_ftp_upload import Server as FtpServer

__all__ = ["ftp_server", "receiver"]  # module fixtures shared with the API tests


@dataclass
class Caller:
    """A requester as the policy sees it: a native client with an API key."""

    kind: str = "key"
    origin: str | None = None


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").create()


@pytest.fixture
def store(home: Home) -> Iterator[PageStore]:
    with PageStore(home, KEY) as page_store:
        yield page_store


@pytest.fixture
def document(store: PageStore, tmp_path: Path) -> DocumentInfo:
    made = store.create_document("Invoice 7/2")
    for number in range(3):
        import_file(store, made.id, sheet(tmp_path / f"{number}.png", f"Page {number}"))
    return store.get_document(made.id)


def settings_for(port: int, *extra: str) -> Settings:
    return Settings(upload_dev_targets=(f"http://127.0.0.1:{port}", *extra),
                    upload_retries=0)


def test_stage_and_send_posts_the_export_and_leaves_nothing_staged(
        store: PageStore, document: DocumentInfo, home: Home,
        receiver: tuple[int, Received]) -> None:
    port, received = receiver
    settings = settings_for(port)
    checked = check_order(UploadOrder(url=f"http://127.0.0.1:{port}/form",
                                      fields={"kind": "invoice"}),
                          Caller(), upload_rules(settings))
    before = len(received.files)
    reports: list[tuple[int, int]] = []
    result = stage_and_send(store, document, [p.id for p in store.list_pages(document.id)],
                            checked, settings=settings, staging=home.upload,
                            progress=lambda done, total: reports.append((done, total)),
                            cancel=threading.Event())
    assert result["status"] == 201 and result["attempts"] == 1
    assert result["target"] == f"http://127.0.0.1:{port}/form"
    got = received.files[before]
    assert got["filename"] == "Invoice 7_2.pdf"  # the document's name, made safe
    assert got["fields"] == {"kind": "invoice"}
    with pikepdf.open(io.BytesIO(got["data"])) as pdf:
        assert len(pdf.pages) == 3
    assert reports and reports[-1][0] == reports[-1][1] > len(got["data"])  # the multipart body
    assert list(home.upload.iterdir()) == []


def test_stage_and_send_over_ftp(store: PageStore, document: DocumentInfo, home: Home,
                                 ftp_server: FtpServer) -> None:
    settings = Settings(upload_dev_targets=(f"ftp://127.0.0.1:{ftp_server.port}",),
                        upload_retries=0)
    checked = check_order(
        UploadOrder(url=f"ftp://127.0.0.1:{ftp_server.port}/", format="tiff",
                    ftp=FtpLogin(USER, PASSWORD)), Caller(), upload_rules(settings))
    page_ids = [p.id for p in store.list_pages(document.id)][:2]
    result = stage_and_send(store, document, page_ids, checked, settings=settings,
                            staging=home.upload, progress=lambda done, total: None,
                            cancel=threading.Event())
    assert 200 <= result["status"] < 300
    arrived = ftp_server.home / "Invoice 7_2.tiff"
    with Image.open(arrived) as image:
        assert image.n_frames == 2
    assert list(home.upload.iterdir()) == []


def test_cancel_before_sending_stops_in_the_export(store: PageStore, document: DocumentInfo,
                                                  home: Home,
                                                  receiver: tuple[int, Received]) -> None:
    port, received = receiver
    settings = settings_for(port)
    checked = check_order(UploadOrder(url=f"http://127.0.0.1:{port}/form"), Caller(),
                          upload_rules(settings))
    cancel = threading.Event()
    cancel.set()
    before = len(received.files)
    with pytest.raises(ScanCancelled):
        stage_and_send(store, document, [p.id for p in store.list_pages(document.id)],
                       checked, settings=settings, staging=home.upload,
                       progress=lambda done, total: None, cancel=cancel)
    assert len(received.files) == before and list(home.upload.iterdir()) == []


def test_check_order_refuses_before_any_work(receiver: tuple[int, Received]) -> None:
    rules = upload_rules(settings_for(receiver[0]))
    with pytest.raises(UploadTargetRefused) as refused:
        check_order(UploadOrder(url="http://10.0.0.1/"), Caller(), rules)
    assert refused.value.code == "upload_target_refused"
    with pytest.raises(InvalidSetting):
        check_order(UploadOrder(url=f"http://127.0.0.1:{receiver[0]}/form",
                                headers={"Host": "elsewhere"}), Caller(), rules)


def test_start_upload_runs_a_task_and_counts_it_per_owner(
        store: PageStore, document: DocumentInfo, home: Home,
        receiver: tuple[int, Received], tmp_path: Path) -> None:
    port, received = receiver
    settings = Settings(upload_dev_targets=(f"http://127.0.0.1:{port}",), upload_retries=0,
                        max_running_uploads=1)
    rules = upload_rules(settings)
    held = check_order(UploadOrder(url=f"http://127.0.0.1:{port}/hold", method="PUT"),
                       Caller(), rules)
    put = check_order(UploadOrder(url=f"http://127.0.0.1:{port}/put/core.pdf", method="PUT"),
                      Caller(), rules)
    page_ids = [p.id for p in store.list_pages(document.id)]

    async def body() -> None:
        tasks = TaskManager(tmp_path / "scratch")
        try:
            with pytest.raises(InvalidSetting):
                start_upload(tasks, store, document, [], put, settings=settings,
                             staging=home.upload, owner="key:1")
            first = start_upload(tasks, store, document, page_ids, held, settings=settings,
                                 staging=home.upload, owner="key:1")
            assert first.kind == "upload" and first.unit == "bytes"
            with pytest.raises(TooManyTasks):  # one running upload per owner here
                start_upload(tasks, store, document, page_ids, put, settings=settings,
                             staging=home.upload, owner="key:1")
            other = start_upload(tasks, store, document, page_ids, put, settings=settings,
                                 staging=home.upload, owner="key:2")
            received.release.set()
            statuses = []
            for task in (first, other):
                events = [e async for e in tasks.events(task.id)]
                final = events[-1]["task"]
                assert final["state"] == TaskState.COMPLETED, final
                statuses.append(final["result"]["status"])
            assert statuses == [204, 200]
            assert any(f.get("path") == "/put/core.pdf" and f["data"].startswith(b"%PDF")
                       for f in received.files)
        finally:
            await tasks.close()

    asyncio.run(body())
