"""The status history's rules: what an observation adds, and recording it exactly once, in order.

Every write of the tracker goes through `record`. It reads the job's state, decides with the status
logic whether the observation moves the job forward, and asks the store for one conditional write
(the new entry and the state it leads to). A retried Lambda, a duplicate event or a repeated poll
finds nothing new and writes nothing; two writers racing cannot both take the same entry number
(the loser reads again and decides again); a terminal status is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tracker import clock
from tracker.contract import JobRef, ObservedBy, ServiceUnavailable
from tracker.status import Snapshot, describe_changes, next_snapshot

_MAX_WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class JobState:
    """A job's recorded state (its STATE item)."""

    # None: the job is followed (an execution's Prepare marked it) but nothing has been observed yet: version 0.
    snapshot: Snapshot | None
    version: int  # the number of history entries
    events_seen: bool  # a HealthOmics status event has recorded a change of this job
    execution_arns: frozenset[str] = frozenset()
    wait_token: str | None = None  # the task token of the execution waiting on the job, if one is parked
    status_since: str = ""  # when the current status was first recorded
    stalled: bool = False  # the current status's stall was reported
    wait_attempt: int = 0  # the parked execution's poll count when it parked

    def unchanged(self) -> Recorded:
        """What an observation that adds nothing leaves: this state (a recorded one: a marker has nothing to keep)."""
        assert self.snapshot is not None
        parked = (self.wait_token, self.status_since, self.stalled, self.wait_attempt)
        return Recorded(self.snapshot, False, self.version, self.events_seen, *parked)


@dataclass(frozen=True)
class Change:
    """One new history entry and the state it leads to."""

    before: Snapshot | None
    after: Snapshot
    sequence: int
    observed_by: ObservedBy
    observed_at: str
    execution_arn: str | None

    @property
    def descriptions(self) -> list[str]:
        return describe_changes(self.before, self.after)

    @property
    def new_status(self) -> bool:
        """The job's status changed (not only an item's): it starts its time in the status, unstalled."""
        return self.before is None or self.before.status != self.after.status


@dataclass(frozen=True)
class Recorded:
    """The job's state after an observation, and whether the observation added a history entry."""

    snapshot: Snapshot
    changed: bool
    version: int
    events_seen: bool
    wait_token: str | None  # parked when the state was read (the write was conditional on it)
    status_since: str = ""
    stalled: bool = False
    wait_attempt: int = 0  # the parked execution's poll count


class HistoryStore(Protocol):
    """Reads and conditional writes of the history table; decides nothing."""

    def read(self, job: JobRef) -> JobState | None: ...

    def write(self, job: JobRef, change: Change, expected: JobState | None) -> bool:
        """Write the entry and the state if the state is still `expected`; False if someone wrote first."""
        ...

    def link_execution(self, job: JobRef, execution_arn: str) -> None: ...

    def follow(self, job: JobRef, execution_arn: str) -> JobState:
        """Mark the job followed by `execution_arn` before anything is observed (a STATE item at version 0, no
        status): a status event that comes first is then recorded as the first entry. Keeps a recorded state, and
        returns the state as it is now."""
        ...


def record(
    store: HistoryStore,
    job: JobRef,
    observed: Snapshot,
    observed_by: ObservedBy,
    execution_arn: str | None = None,
    known: JobState | None = None,
) -> Recorded:
    """Record an observation if it moves the job forward; otherwise write nothing.

    `known` is the state the caller has just read (it saves the first read).
    """
    state = known or store.read(job)
    for _ in range(_MAX_WRITE_ATTEMPTS):
        if state is None or state.snapshot is None:  # the first entry, on a follow marker or none
            change = _change(None, observed, 1, observed_by, execution_arn)
        else:
            after = next_snapshot(state.snapshot, observed)
            if after is None:
                if execution_arn and execution_arn not in state.execution_arns:
                    store.link_execution(job, execution_arn)  # a hand-over, or a second console start
                return state.unchanged()
            change = _change(state.snapshot, after, state.version + 1, observed_by, execution_arn)
        if store.write(job, change, state):
            return _recorded(change, state)
        state = store.read(job)
    raise ServiceUnavailable(f"history of {job.pk}: too many concurrent writers, try again")


def _recorded(change: Change, before: JobState | None) -> Recorded:
    if before is None:
        return Recorded(
            change.after, True, change.sequence, change.observed_by is ObservedBy.EVENT, None, change.observed_at
        )
    events_seen = change.observed_by is ObservedBy.EVENT or before.events_seen
    since, stalled = (change.observed_at, False) if change.new_status else (before.status_since, before.stalled)
    parked = (before.wait_token, since, stalled, before.wait_attempt)  # before: a follow marker, or a recorded state
    return Recorded(change.after, True, change.sequence, events_seen, *parked)


def _change(
    before: Snapshot | None, after: Snapshot, sequence: int, observed_by: ObservedBy, execution_arn: str | None
) -> Change:
    return Change(before, after, sequence, observed_by, clock.utc_now().isoformat(), execution_arn)
