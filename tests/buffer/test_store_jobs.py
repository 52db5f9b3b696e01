"""Job persistence: upsert, get, list, and interrupting unfinished jobs at start-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scanlet.buffer import PageStore
from scanlet.config import Home
from scanlet.errors import JobNotFound
from scanlet.models import ErrorInfo, JobInfo, JobRequest, JobState
from tests.buffer.testdata import KEY


def job(job_id: str, state: JobState, minutes: int = 0) -> JobInfo:
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    return JobInfo(id=job_id, state=state, settings=JobRequest(device="sane:test:0", pages=3),
                   document_id="doc", pages_stored=0, created=moment, updated=moment)


def test_save_get_list_upsert(store: PageStore) -> None:
    store.save_job(job("j2", JobState.PENDING, minutes=2))
    store.save_job(job("j1", JobState.RUNNING, minutes=1))
    assert [j.id for j in store.list_jobs()] == ["j1", "j2"]
    failed = job("j1", JobState.FAILED, 1).model_copy(update={
        "pages_stored": 2, "error": ErrorInfo(code="paper_jam", message="jam")})
    store.save_job(failed)
    assert store.get_job("j1") == failed
    assert len(store.list_jobs()) == 2
    with pytest.raises(JobNotFound):
        store.get_job("nope")


def test_mark_unfinished_interrupted(home: Home) -> None:
    with PageStore(home, KEY) as store:
        for job_id, state in (("a", JobState.PENDING), ("b", JobState.RUNNING),
                              ("c", JobState.COMPLETED), ("d", JobState.FAILED)):
            store.save_job(job(job_id, state))
    with PageStore(home, KEY) as store:
        assert sorted(store.mark_unfinished_jobs_interrupted()) == ["a", "b"]
        states = {j.id: j.state for j in store.list_jobs()}
        assert states == {"a": "interrupted", "b": "interrupted", "c": "completed",
                          "d": "failed"}
        assert store.get_job("a").error is None
        assert store.get_job("a").updated > store.get_job("c").updated
        assert store.mark_unfinished_jobs_interrupted() == []
