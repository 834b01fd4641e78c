"""record: the history's rules over an in-memory store that keeps the real store's write conditions."""

from __future__ import annotations

import pytest

from tests.unit.test_poll import FakeHistory
from tracker.contract import JobRef, ObservedBy, ServiceUnavailable
from tracker.history import Change, JobState, record
from tracker.status import Snapshot

JOB = JobRef.from_dict({"jobType": "VARIANT_IMPORT", "jobId": "0f0e0d0c-0b0a-4909-8807-060504030201"})


def test_first_observation_is_entry_one() -> None:
    history = FakeHistory()

    recorded = record(history, JOB, Snapshot("SUBMITTED"), ObservedBy.POLL, execution_arn="arn:e1")

    assert (recorded.changed, recorded.version, recorded.events_seen) == (True, 1, False)
    assert [(c.sequence, c.before, c.after, c.execution_arn) for c in history.changes] == [
        (1, None, Snapshot("SUBMITTED"), "arn:e1")
    ]


def test_repeated_observation_writes_nothing_and_links_a_new_execution_once() -> None:
    history = FakeHistory()
    record(history, JOB, Snapshot("IN_PROGRESS"), ObservedBy.POLL, execution_arn="arn:e1")
    history.state = JobState(Snapshot("IN_PROGRESS"), 1, False, frozenset({"arn:e1"}))

    again = record(history, JOB, Snapshot("IN_PROGRESS"), ObservedBy.POLL, execution_arn="arn:e1")
    handed_over = record(history, JOB, Snapshot("IN_PROGRESS"), ObservedBy.POLL, execution_arn="arn:e2")

    assert (again.changed, handed_over.changed) == (False, False)
    assert len(history.changes) == 1
    assert history.linked == ["arn:e2"]


def test_event_marks_the_job_as_having_events() -> None:
    history = FakeHistory()
    record(history, JOB, Snapshot("SUBMITTED"), ObservedBy.POLL)

    recorded = record(history, JOB, Snapshot("IN_PROGRESS"), ObservedBy.EVENT)

    assert (recorded.changed, recorded.version, recorded.events_seen) == (True, 2, True)


def test_writer_that_loses_a_race_reads_again_and_decides_again() -> None:
    # Given another writer that records IN_PROGRESS between our read and our write
    class Racing(FakeHistory):
        raced = False

        def write(self, job: JobRef, change: Change, expected: JobState | None) -> bool:
            if not self.raced:
                self.raced = True
                assert super().write(job, Change(None, Snapshot("IN_PROGRESS"), 1, ObservedBy.EVENT, "t0", None), None)
            return super().write(job, change, expected)

    history = Racing()

    recorded = record(history, JOB, Snapshot("IN_PROGRESS"), ObservedBy.POLL)

    # Then our identical observation adds nothing: one entry, not two
    assert recorded.changed is False
    assert [c.after.status for c in history.changes] == ["IN_PROGRESS"]


def test_writers_that_always_lose_give_up_with_a_retryable_error() -> None:
    class AlwaysLoses(FakeHistory):
        def write(self, job: JobRef, change: Change, expected: JobState | None) -> bool:
            return False

    with pytest.raises(ServiceUnavailable, match="too many concurrent writers"):
        record(AlwaysLoses(), JOB, Snapshot("SUBMITTED"), ObservedBy.POLL)
