"""Scan jobs: validate, run asynchronously, store each page, publish events, cancel.

A job's state is persisted in the page buffer's database at every change, so a service killed
mid-job comes back with that job marked ``interrupted`` and every page it announced intact.
Events are kept in memory per job so a WebSocket that connects late first gets the backlog.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from scanlet import postprocess
from scanlet.buffer.backfill import PreviewBackfill
from scanlet.buffer.store import PageStore
from scanlet.devices.manager import DeviceManager, ScanSession
from scanlet.errors import DeviceBusy, JobStateError, ScanCancelled, ScanletError
from scanlet.models import ErrorInfo, JobInfo, JobRequest, JobState

log = logging.getLogger(__name__)

Event = dict[str, Any]

#: Seconds a job stopped by a shutdown gets to store the pages its scan already delivered.
JOB_STOP_GRACE = 5.0


def _now() -> datetime:
    return datetime.now(UTC)


class _RunningJob:
    """In-memory side of a job: its task, its session and its event log."""

    def __init__(self, info: JobInfo) -> None:
        self.info = info
        self.events: list[Event] = []
        self.changed = asyncio.Condition()
        self.task: asyncio.Task[None] | None = None
        self.session: ScanSession | None = None
        self.cancel_requested = False
        self.shutting_down = False
        self.closed = False


class JobManager:
    """Creates and runs scan jobs against a DeviceManager, storing pages in a PageStore."""

    def __init__(self, store: PageStore, devices: DeviceManager, *,
                 default_jpeg_quality: int = 85,
                 previews: PreviewBackfill | None = None) -> None:
        self.store = store
        self.devices = devices
        self.previews = previews
        self.default_jpeg_quality = default_jpeg_quality
        self._jobs: dict[str, _RunningJob] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._starting: set[str] = set()
        self._reserved: dict[str, str] = {}  # device -> holder (see reserve)

    async def start(self) -> list[str]:
        """Mark jobs left unfinished by a previous run as interrupted."""
        interrupted = await asyncio.to_thread(self.store.mark_unfinished_jobs_interrupted)
        if interrupted:
            log.warning("jobs interrupted by the previous shutdown: %s", ", ".join(interrupted))
        return interrupted

    def reserve(self, device: str, holder: str) -> None:
        """Keep ``device`` for ``holder``, a job that starts later (a pending job of the
        compatibility API, which locks its scanner as the reference does): other jobs get
        DeviceBusy until :meth:`release`, or until ``holder`` starts its own job."""
        current = self._reserved.get(device)
        if current is not None and current != holder:
            raise DeviceBusy(f"{device} is reserved for a pending job; wait for it to finish",
                             device=device)
        self._reserved[device] = holder

    def release(self, holder: str) -> None:
        """Drop what ``holder`` reserved (nothing if it holds nothing)."""
        for device in [d for d, h in self._reserved.items() if h == holder]:
            del self._reserved[device]

    async def create(self, request: JobRequest, *, holder: str | None = None) -> JobInfo:
        """Validate the request against the device, then start the job in the background.

        A device runs one job at a time: a second job for a device with one still running, or
        reserved by another ``holder`` (see :meth:`reserve`), is refused with DeviceBusy (409)
        before anything is created.
        """
        reserved = self._reserved.get(request.device)
        if reserved is not None and reserved != holder:
            raise DeviceBusy(f"{request.device} is reserved for a pending job of the "
                             "compatibility API; wait for it to finish or delete it",
                             device=request.device)
        for other in self._jobs.values():
            if other.info.settings.device == request.device and not other.info.state.finished:
                raise DeviceBusy(f"{request.device} is scanning for job {other.info.id}; wait "
                                 "for it to finish or cancel it", job=other.info.id)
        if request.device in self._starting:
            raise DeviceBusy(f"{request.device} is starting another job; wait for it to finish")
        self._starting.add(request.device)  # held across the awaits below
        try:
            return await self._create(request)
        finally:
            self._starting.discard(request.device)

    async def _create(self, request: JobRequest) -> JobInfo:
        if "jpeg_quality" not in request.model_fields_set:
            request = request.model_copy(update={"jpeg_quality": self.default_jpeg_quality})
        postprocess.check(request.processing)
        caps = await self.devices.validate(request.scan_settings())
        if request.area is None and request.paper_size is None and "A4" in caps.paper_sizes:
            request = request.model_copy(update={"paper_size": "A4"})
        if request.document_id is not None:
            document = await asyncio.to_thread(self.store.get_document, request.document_id)
        else:
            document = await asyncio.to_thread(self.store.create_document)
        now = _now()
        info = JobInfo(
            id=_new_id(), state=JobState.PENDING, settings=request, document_id=document.id,
            pages_stored=0, created=now, updated=now,
        )
        await asyncio.to_thread(self.store.save_job, info)
        job = _RunningJob(info)
        self._jobs[info.id] = job
        await self._publish(job, {"type": "job", "job": _dump(info)})
        job.task = asyncio.create_task(self._run(job), name=f"job-{info.id}")
        return info

    def get(self, job_id: str) -> JobInfo:
        job = self._jobs.get(job_id)
        if job is not None:
            return job.info
        return self.store.get_job(job_id)

    def scanning(self) -> bool:
        """Whether some job is running now (thread-safe enough for a yes/no poll)."""
        return any(job.task is not None and not job.task.done()
                   for job in list(self._jobs.values()))

    def list(self) -> list[JobInfo]:
        stored = {j.id: j for j in self.store.list_jobs()}
        stored.update({jid: job.info for jid, job in self._jobs.items()})
        return sorted(stored.values(), key=lambda j: j.created)

    async def cancel(self, job_id: str) -> JobInfo:
        """Ask a running job to stop; pages already stored are kept."""
        job = self._jobs.get(job_id)
        if job is None:
            info = await asyncio.to_thread(self.store.get_job, job_id)
            raise JobStateError(f"job {job_id} is {info.state}, it cannot be cancelled",
                                job=job_id, state=str(info.state))
        if job.info.state.finished:
            raise JobStateError(f"job {job_id} is {job.info.state}, it cannot be cancelled",
                                job=job_id, state=str(job.info.state))
        job.cancel_requested = True
        if job.session is not None:
            await job.session.cancel()
        # Without a session the job has not started scanning: it checks cancel_requested
        # before it does. (Cancelling its task could interrupt the save of its state.)
        return job.info

    async def events(self, job_id: str) -> AsyncIterator[Event]:
        """The job's events from its start, then live ones until it finishes."""
        job = self._jobs.get(job_id)
        if job is None:
            info = await asyncio.to_thread(self.store.get_job, job_id)
            yield {"type": "job", "job": _dump(info)}
            return
        sent = 0
        while True:
            async with job.changed:
                await job.changed.wait_for(lambda: len(job.events) > sent)  # noqa: B023
                batch = job.events[sent:]
                sent = len(job.events)
                done = job.closed and sent == len(job.events)
            for event in batch:
                yield event
            if done:
                return

    async def close(self, grace: float = JOB_STOP_GRACE) -> None:
        """Stop running jobs (on shutdown); their state becomes interrupted.

        Every scan is cancelled (in parallel); each job then stores and announces the pages
        its scan delivered before the stop and saves itself as ``interrupted`` with that
        count. A job still busy ``grace`` seconds later is cancelled where it is; its count is
        then taken from the stored page rows.
        """
        running = [job for job in self._jobs.values()
                   if job.task is not None and not job.task.done()]
        for job in running:
            job.shutting_down = True
        await asyncio.gather(*(job.session.cancel() for job in running
                               if job.session is not None), return_exceptions=True)
        tasks = [job.task for job in running if job.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
        await asyncio.gather(*(j.task for j in self._jobs.values() if j.task is not None),
                             return_exceptions=True)

    async def _run(self, job: _RunningJob) -> None:
        await self._set_state(job, JobState.RUNNING)
        limit = job.info.settings.page_limit()
        try:
            if job.cancel_requested or job.shutting_down:
                raise ScanCancelled(device=job.info.settings.device, pages=0)
            job.session = self.devices.scan(job.info.settings.scan_settings())
            job.session.on_progress = lambda page, lines, total: self._page_progress(
                job, page, lines, total)
            async for scanned in job.session:
                page = await asyncio.to_thread(
                    self.store.add_page, job.info.document_id, scanned, job_id=job.info.id
                )
                found: dict[str, Any] = {}
                options = job.info.settings.processing
                if options.active:
                    outcome = await asyncio.to_thread(postprocess.process, self.store, page,
                                                      options)
                    found = outcome.found
                    if outcome.page is None:
                        await self._publish(job, {"type": "page_dropped",
                                                  "job_id": job.info.id, **found})
                        continue
                    page = outcome.page
                if scanned.preview_path is None and self.previews is not None:
                    self.previews.submit(page.id)  # the worker had no time for it
                # Not persisted per page: the page rows are the truth, and the store recounts
                # them for a job interrupted by a crash (saves an fsync per page).
                job.info = job.info.model_copy(
                    update={"pages_stored": job.info.pages_stored + 1, "updated": _now()}
                )
                await self._publish(job, {
                    "type": "page", "job_id": job.info.id, "page": _dump(page),
                    "pages_stored": job.info.pages_stored, "page_limit": limit,
                    **({"found": found} if found else {}),
                })
        except asyncio.CancelledError:
            if job.shutting_down:  # cut off mid-page: the stored rows are the truth
                stored = await asyncio.to_thread(self._stored_pages, job)
                if stored is not None:
                    job.info = job.info.model_copy(update={"pages_stored": stored})
            await self._set_state(job, self._stopped_state(job))
        except ScanCancelled:
            await self._set_state(job, self._stopped_state(job))
        except ScanletError as exc:
            if job.cancel_requested or job.shutting_down:
                await self._set_state(job, self._stopped_state(job))
            else:
                log.info("job %s failed: %s (%s)", job.info.id, exc.message, exc.code)
                await self._set_state(job, JobState.FAILED, ErrorInfo(**exc.to_dict()))
        except Exception as exc:
            log.exception("job %s failed unexpectedly", job.info.id)
            await self._set_state(job, JobState.FAILED, ErrorInfo(
                code="internal", message=f"unexpected error: {type(exc).__name__}"))
        else:
            state = JobState.COMPLETED
            if job.cancel_requested or job.shutting_down:
                state = self._stopped_state(job)
            await self._set_state(job, state)
        finally:
            job.session = None
            self._forget_old_jobs()

    def _page_progress(self, job: _RunningJob, page: int, lines: int, total: int) -> None:
        """Forward the worker's progress within a page (for slow scanners' progress bars)."""
        event = {"type": "progress", "job_id": job.info.id, "page_index": page,
                 "fraction": round(lines / total, 3) if total > 0 else None,
                 "pages_stored": job.info.pages_stored,
                 "page_limit": job.info.settings.page_limit()}
        task = asyncio.get_running_loop().create_task(self._publish(job, event))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _stored_pages(self, job: _RunningJob) -> int | None:
        try:
            pages = self.store.list_pages(job.info.document_id)
        except ScanletError:
            return None
        return sum(1 for page in pages if page.job_id == job.info.id)

    @staticmethod
    def _stopped_state(job: _RunningJob) -> JobState:
        return JobState.INTERRUPTED if job.shutting_down else JobState.CANCELLED

    def _forget_old_jobs(self, keep: int = 100) -> None:
        """Bound the in-memory event logs; finished jobs stay readable from the store."""
        finished = [jid for jid, job in self._jobs.items() if job.closed]
        for jid in finished[:-keep]:
            del self._jobs[jid]

    async def _set_state(self, job: _RunningJob, state: JobState,
                         error: ErrorInfo | None = None) -> None:
        job.info = job.info.model_copy(update={"state": state, "error": error, "updated": _now()})
        await asyncio.to_thread(self.store.save_job, job.info)
        await self._publish(job, {"type": "job", "job": _dump(job.info)})

    async def _publish(self, job: _RunningJob, event: Event) -> None:
        async with job.changed:
            job.events.append(event)
            if event["type"] == "job" and job.info.state.finished:
                job.closed = True
            job.changed.notify_all()


def _dump(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(mode="json"))


def _new_id() -> str:
    import secrets

    return secrets.token_hex(8)
