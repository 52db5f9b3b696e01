"""The reference's scan jobs (``/api/device/scanners/jobs``, ``/DWTAPI/ScanJobs``) on top of
Scanlet's JobManager.

A job is ``pending`` (created with ``autoRun: false``: its device is held for it, nothing
scans yet), then ``running`` (a Scanlet job scans into a new buffer document of its own),
then ``completed``, ``faulted`` or ``canceled``. Pages are ordinary buffer pages; the job
remembers which ones it scanned, in order, and hands them out through two cursors of its own:
``next-page`` and ``next-page-info`` each return the next page that cursor has not returned
yet (the reference's clients read all pages with one and then walk the other).

A device is held by one pending or running job at a time (another gets 423, code -1004).
``jobTimeout`` deletes a job that was not started within it, and a finished one that long
after it finished. ``DELETE`` cancels a running job and deletes it with the pages it
scanned that are still in its own document (pages moved into another document stay), and
the document itself once empty; the uid then answers 410 (a bounded number of them; older
ones, and every job after a restart, answer 404). Jobs live in memory.

Which calls may see a job: the API key that created it, and keyless programs of the same OS
user (the reference's clients send the key only when they create the job).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from scanlet.compat.errors import dwt_code
from scanlet.core.runtime import Runtime
from scanlet.disclosure import public_text
from scanlet.errors import (
    DeviceBusy,
    DocumentNotFound,
    JobGone,
    JobNotFound,
    JobStateError,
    PageNotFound,
    ScanletError,
    error_from_dict,
)
from scanlet.models import Device, JobRequest, JobState, PageInfo
from scanlet.security.policy import Principal

log = logging.getLogger(__name__)

#: Seconds between checks that a long-polling client is still connected.
POLL_SLICE = 1.0
#: Seconds DELETE waits for a cancelled scan to stop before it deletes what is stored.
DELETE_GRACE = 15.0
#: Finished jobs kept in memory (older ones are forgotten: 404; their pages stay).
KEEP_FINISHED = 100
#: Uids of deleted jobs remembered to answer 410.
KEEP_DELETED = 1000

Disconnected = Callable[[], Awaitable[bool]]


class DwtState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAULTED = "faulted"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        return self in (DwtState.COMPLETED, DwtState.FAULTED, DwtState.CANCELED)


_FINAL = {JobState.COMPLETED: DwtState.COMPLETED, JobState.CANCELLED: DwtState.CANCELED}


class ClientGone(Exception):
    """The client of a long poll hung up (nothing is answered)."""


@dataclass(eq=False)
class DwtJob:
    """One reference scan job (see the module docstring)."""

    uid: str
    owner: str
    device: Device
    device_type: int
    request: JobRequest
    job_timeout: float
    state: DwtState = DwtState.PENDING
    core_id: str | None = None
    document_id: str | None = None
    pages: list[str] = field(default_factory=list)
    page_cursor: int = 0
    info_cursor: int = 0
    error: tuple[int, str] | None = None  # the reference's code and a message
    deleted: bool = False
    finished_at: float | None = None
    watcher: asyncio.Task[None] | None = None
    expiry: asyncio.TimerHandle | None = None
    signal: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def holder(self) -> str:
        """The name this job holds its device under (DeviceManager.hold)."""
        return f"dwt-job:{self.uid}"

    def changed(self) -> None:
        """Wake every long poll waiting on this job."""
        signal, self.signal = self.signal, asyncio.Event()
        signal.set()

    def status(self) -> dict[str, Any]:
        """The reference's job status body."""
        code, message = self.error or (0, "Successful")
        return {"status": str(self.state), "code": str(code), "message": message}


class DwtJobs:
    """The job engine of the compatibility API (one per app)."""

    def __init__(self, rt: Runtime, *, keep_finished: int = KEEP_FINISHED,
                 keep_deleted: int = KEEP_DELETED) -> None:
        self._rt = rt
        self._jobs: dict[str, DwtJob] = {}
        self._deleted: OrderedDict[str, None] = OrderedDict()
        self._keep_finished = keep_finished
        self._keep_deleted = keep_deleted
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._closing = False
        #: The device of the latest job (a job without ``device`` uses it).
        self.last_device: str | None = None

    # -- lookup ------------------------------------------------------------------------------

    def get(self, uid: str, who: Principal) -> DwtJob:
        """The job ``uid`` as ``who`` may see it: JobGone (410) once deleted, JobNotFound
        (404) when unknown or another key's."""
        key = uid.strip().lower()
        job = self._jobs.get(key)
        if (job is not None and job.deleted) or (job is None and key in self._deleted):
            raise JobGone("Job was deleted.", job=uid)
        if job is None or (who.kind == "key" and who.id != job.owner):
            raise JobNotFound("The provided job UID is invalid.", job=uid)
        return job

    # -- life cycle --------------------------------------------------------------------------

    async def create(self, *, owner: str, device: Device, device_type: int,
                     request: JobRequest, auto_run: bool, job_timeout: float) -> DwtJob:
        """Validate ``request`` against the device, hold the device, and start the job now
        (``auto_run``) or leave it pending. DeviceBusy (423) when another job has the
        device; InvalidSetting & co. (400) for settings the device refuses."""
        async with self._lock:
            await self._check_free(device.id)
            await self._rt.devices.validate(request.scan_settings())
            job = DwtJob(uid=str(uuid.uuid4()), owner=owner, device=device,
                         device_type=device_type, request=request, job_timeout=job_timeout)
            # The scanner is locked for the job, as the reference does: the worker stays, and
            # no other job (of this API or /v1) may scan on it until the job is done.
            self._rt.jobs.reserve(device.id, job.holder)
            self._rt.devices.hold(job.holder, device.id)
            self._jobs[job.uid] = job
            self.last_device = device.id
            if auto_run:
                try:
                    await self._start(job)
                except BaseException:
                    self._jobs.pop(job.uid, None)
                    self._let_go(job)
                    raise
            else:
                self._arm_timeout(job)
            log.info("compat scan job %s created on %s (%s)", job.uid, device.id, job.state)
            self._trim()
            return job

    async def start(self, job: DwtJob) -> None:
        """PATCH ``running``: start a pending job (JobStateError, 409, otherwise)."""
        async with self._lock:
            if job.state != DwtState.PENDING or job.deleted:
                raise JobStateError("Cannot update a non-pending job to running.",
                                    job=job.uid, state=str(job.state))
            await self._start(job)

    async def cancel(self, job: DwtJob) -> None:
        """PATCH ``canceled``: cancel a pending or running job (409 otherwise); the pages
        already stored are kept."""
        if job.state == DwtState.PENDING:
            self._finish(job, DwtState.CANCELED, None)
            return
        if job.state != DwtState.RUNNING or job.core_id is None:
            raise JobStateError("Cannot cancel non-pending or non-running job.",
                                job=job.uid, state=str(job.state))
        await self._rt.jobs.cancel(job.core_id)

    async def delete(self, job: DwtJob) -> None:
        """Cancel the job if it runs, delete it with the pages it scanned that are still in
        its own document (and that document once empty); 410 for its uid from now on."""
        if job.deleted:
            return
        job.deleted = True
        self._disarm_timeout(job)
        job.changed()
        if job.state == DwtState.RUNNING and job.core_id is not None:
            with contextlib.suppress(ScanletError):
                await self._rt.jobs.cancel(job.core_id)
        if job.watcher is not None and not job.watcher.done():
            done, _ = await asyncio.wait({job.watcher}, timeout=DELETE_GRACE)
            if not done:
                log.warning("compat scan job %s did not stop within %.0f s; deleting the "
                            "pages stored so far", job.uid, DELETE_GRACE)
        self._let_go(job)
        removed = await asyncio.to_thread(self._remove_pages, job)
        self._jobs.pop(job.uid, None)
        self._deleted[job.uid] = None
        while len(self._deleted) > self._keep_deleted:
            self._deleted.popitem(last=False)
        log.info("compat scan job %s deleted with %d pages", job.uid, removed)

    async def close(self) -> None:
        """Stop timers and watchers (on shutdown); pending jobs let their devices go."""
        self._closing = True
        for job in list(self._jobs.values()):
            self._disarm_timeout(job)
            self._let_go(job)
        watchers = [j.watcher for j in self._jobs.values()
                    if j.watcher is not None and not j.watcher.done()]
        for task in [*watchers, *self._background]:
            task.cancel()
        await asyncio.gather(*watchers, *self._background, return_exceptions=True)

    # -- pages -------------------------------------------------------------------------------

    async def next_page(self, job: DwtJob, cursor: Literal["page", "info"],
                        disconnected: Disconnected) -> tuple[int, PageInfo] | None:
        """The next page of the ``page`` (next-page) or ``info`` (next-page-info) cursor,
        advancing it, as (its 1-based number in the job, page); waits while the job scans;
        None once the job has ended and the cursor has returned every page. Pages deleted
        or moved to another document meanwhile are skipped. A client that hung up while it
        waited (ClientGone) does not move the cursor."""
        self._require_started(job)
        while True:
            self._require_alive(job)
            signal = job.signal
            position = job.page_cursor if cursor == "page" else job.info_cursor
            if position < len(job.pages):
                if await disconnected():  # a client that gave up must not use up the page
                    raise ClientGone
                if position != (job.page_cursor if cursor == "page" else job.info_cursor):
                    continue  # a concurrent request took this page meanwhile
                if cursor == "page":
                    job.page_cursor += 1
                else:
                    job.info_cursor += 1
                page = await asyncio.to_thread(self._scanned_page, job, job.pages[position])
                if page is not None:
                    return position + 1, page
                continue
            if job.state.finished:
                return None
            await self._wait(signal, disconnected)

    async def page_at(self, job: DwtJob, index: int,
                      disconnected: Disconnected) -> tuple[int, PageInfo]:
        """The job's page at 0-based ``index`` (waits while the job may still scan it);
        PageNotFound (404, -1040) when the job ends with fewer pages."""
        self._require_started(job)
        while True:
            self._require_alive(job)
            signal = job.signal
            if index < len(job.pages):
                return index + 1, await self._page_in_job(job, job.pages[index])
            if job.state.finished:
                raise PageNotFound(f"the job has {len(job.pages)} pages; there is no page "
                                   f"{index}", page=index)
            await self._wait(signal, disconnected)

    async def page_by_id(self, job: DwtJob, page_id: str) -> tuple[int, PageInfo]:
        """One of the job's pages by its id (``next-page?page=``), without moving a cursor."""
        self._require_alive(job)
        if page_id not in job.pages:
            raise PageNotFound(f"page {page_id} is not a page of this job", page=page_id)
        return job.pages.index(page_id) + 1, await self._page_in_job(job, page_id)

    async def _page_in_job(self, job: DwtJob, page_id: str) -> PageInfo:
        page = await asyncio.to_thread(self._scanned_page, job, page_id)
        if page is None:
            raise PageNotFound(f"page {page_id} was deleted or moved to another document",
                               page=page_id)
        return page

    def _scanned_page(self, job: DwtJob, page_id: str) -> PageInfo | None:
        """The page while it is in the job's own document (a page moved elsewhere is that
        document's now, with its own access rules); None otherwise."""
        try:
            page = self._rt.store.get_page(page_id)
        except PageNotFound:
            return None
        return page if page.document_id == job.document_id else None

    # -- internals ---------------------------------------------------------------------------

    def _require_alive(self, job: DwtJob) -> None:
        if job.deleted:
            raise JobGone("Job was deleted.", job=job.uid)

    def _require_started(self, job: DwtJob) -> None:
        self._require_alive(job)
        if job.state == DwtState.PENDING:
            raise JobStateError("The job is pending: start it (PATCH status running) first.",
                                job=job.uid, state=str(job.state))

    @staticmethod
    async def _wait(signal: asyncio.Event, disconnected: Disconnected) -> None:
        """Until the job changes; ClientGone when the client hung up meanwhile."""
        try:
            await asyncio.wait_for(signal.wait(), POLL_SLICE)
        except TimeoutError:
            if await disconnected():
                raise ClientGone from None

    async def _check_free(self, device_id: str) -> None:
        for other in self._jobs.values():
            if other.device.id == device_id and not other.deleted \
                    and not other.state.finished:
                raise DeviceBusy(f"Source is connected to maximum supported number of "
                                 f"applications: scan job {other.uid} holds {device_id}",
                                 device=device_id)
        core_jobs = await asyncio.to_thread(self._rt.jobs.list)
        for info in core_jobs:
            if info.settings.device == device_id and not info.state.finished:
                raise DeviceBusy(f"Source is connected to maximum supported number of "
                                 f"applications: job {info.id} is scanning on {device_id}",
                                 device=device_id, job=info.id)

    async def _start(self, job: DwtJob) -> None:
        """Create the job's document and the Scanlet job that scans into it."""
        store = self._rt.store
        document = await asyncio.to_thread(store.create_document, f"Scan job {job.uid}",
                                           None, {"compat_job": job.uid})
        request = job.request.model_copy(update={"document_id": document.id})
        try:
            info = await self._rt.jobs.create(request, holder=job.holder)
        except BaseException:
            with contextlib.suppress(ScanletError):
                await asyncio.to_thread(store.delete_document, document.id)
            raise
        self._rt.jobs.release(job.holder)  # the running job itself keeps the device now
        self._disarm_timeout(job)
        job.core_id, job.document_id, job.state = info.id, document.id, DwtState.RUNNING
        job.changed()
        job.watcher = asyncio.create_task(self._watch(job), name=f"compat-job-{job.uid}")

    async def _watch(self, job: DwtJob) -> None:
        """Follow the Scanlet job: remember each stored page, then its final state."""
        assert job.core_id is not None
        final: dict[str, Any] | None = None
        try:
            async for event in self._rt.jobs.events(job.core_id):
                if event.get("type") == "page":
                    job.pages.append(str(event["page"]["id"]))
                    job.changed()
                elif event.get("type") == "job" and JobState(event["job"]["state"]).finished:
                    final = event["job"]
        except ScanletError as exc:
            final = {"state": JobState.FAILED, "error": exc.to_dict()}
        finally:
            state = JobState((final or {}).get("state", JobState.INTERRUPTED))
            error = (final or {}).get("error")
            problem: tuple[int, str] | None = None
            if state in (JobState.FAILED, JobState.INTERRUPTED):
                problem = _problem(error, state)
            self._finish(job, _FINAL.get(state, DwtState.FAULTED), problem)

    def _let_go(self, job: DwtJob) -> None:
        """The job no longer needs its device: its worker may stop, other jobs may scan."""
        self._rt.jobs.release(job.holder)
        self._rt.devices.let_go(job.holder)

    def _finish(self, job: DwtJob, state: DwtState, problem: tuple[int, str] | None) -> None:
        job.state, job.error, job.finished_at = state, problem, time.monotonic()
        self._let_go(job)
        job.changed()
        if not job.deleted:
            self._arm_timeout(job)
        log.info("compat scan job %s %s with %d pages", job.uid, state, len(job.pages))
        self._trim()

    def _arm_timeout(self, job: DwtJob) -> None:
        self._disarm_timeout(job)
        if job.job_timeout > 0 and not self._closing:
            loop = asyncio.get_running_loop()
            job.expiry = loop.call_later(job.job_timeout, self._expired, job)

    @staticmethod
    def _disarm_timeout(job: DwtJob) -> None:
        if job.expiry is not None:
            job.expiry.cancel()
            job.expiry = None

    def _expired(self, job: DwtJob) -> None:
        job.expiry = None
        if job.deleted or job.state == DwtState.RUNNING:
            return
        log.info("compat scan job %s reached its jobTimeout (%g s)", job.uid, job.job_timeout)
        task = asyncio.get_running_loop().create_task(self._delete_expired(job))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _delete_expired(self, job: DwtJob) -> None:
        try:
            await self.delete(job)
        except Exception:
            log.exception("could not delete the expired compat scan job %s", job.uid)

    def _trim(self) -> None:
        """Forget the oldest finished jobs beyond the bound (their pages stay)."""
        finished = sorted((j for j in self._jobs.values() if j.state.finished),
                          key=lambda j: j.finished_at or 0.0)
        for job in finished[:max(0, len(finished) - self._keep_finished)]:
            self._disarm_timeout(job)
            self._jobs.pop(job.uid, None)

    def _remove_pages(self, job: DwtJob) -> int:
        """Delete the job's pages still in its document, then the document if empty."""
        if job.document_id is None:
            return 0
        store = self._rt.store
        try:
            pages = store.list_pages(job.document_id)
        except DocumentNotFound:
            return 0
        scanned = set(job.pages)
        ours = [p.id for p in pages
                if p.id in scanned or (job.core_id is not None and p.job_id == job.core_id)]
        removed = 0
        try:
            removed = store.delete_pages(ours)
        except PageNotFound:  # some went meanwhile: one by one
            for page_id in ours:
                with contextlib.suppress(PageNotFound):
                    removed += store.delete_pages([page_id])
        with contextlib.suppress(DocumentNotFound):
            if not store.list_pages(job.document_id):
                store.delete_document(job.document_id)
        return removed


def _problem(error: Any, state: JobState) -> tuple[int, str]:
    """The reference's code and a message for a failed Scanlet job."""
    if not isinstance(error, dict):
        return -1000, ("The service stopped while the job was running."
                       if state == JobState.INTERRUPTED else "The scan failed.")
    exc = error_from_dict(error)
    return dwt_code(exc)[1], public_text(exc.message)
