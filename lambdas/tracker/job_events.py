"""HealthOmics status-change events (``source: aws.omics``) recorded through the same history rules.

Delivery is best effort: an event can be lost, duplicated, late or out of order, or be about a job
nobody follows. None of that may add a duplicate, reorder or regress the history, or fail the
handler: the history's rules make a stale or repeated event a no-op, and anything unusable is
logged and dropped (polling stays the safety net).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field

from tracker.account_wide import ExecutionStarter
from tracker.contract import JobRef, TrackerError, job_type_for_event
from tracker.event_bridge import parse_event
from tracker.history import HistoryStore, ObservedBy, Recorded, record
from tracker.inputs import shown
from tracker.observability import logger
from tracker.omics_jobs import JobReader
from tracker.poll import outcome_of
from tracker.schedule import PollSchedule
from tracker.status import Snapshot, merge, next_snapshot
from tracker.task_tokens import TaskTokens


class JobStatusDetail(BaseModel):
    """The detail of a job status-change event; the job's ids are further fields, named by the job-type table."""

    model_config = ConfigDict(extra="allow", frozen=True)

    status: str
    status_message: str | None = Field(default=None, alias="statusMessage")


class JobStatusEvent(EventBridgeModel):
    detail: JobStatusDetail


class EventResult(StrEnum):
    RECORDED = "recorded"  # a new history entry
    FOLLOWED = "followed"  # the first of a job nobody followed: its execution started (account-wide mode)
    UNCHANGED = "unchanged"  # nothing new for a followed job
    UNTRACKED = "untracked"  # no execution follows the job
    IGNORED = "ignored"  # not a usable job status event


@dataclass(frozen=True)
class EventOutcome:
    result: EventResult
    job: JobRef | None = None
    reason: str = ""
    recorded: Recorded | None = None


def job_from_event(event: Any) -> tuple[JobRef, Snapshot] | str:
    """The job and status an event reports, or why it can't be used."""
    parsed = parse_event(event, JobStatusEvent)
    if isinstance(parsed, str):
        return f"not a job status event ({parsed})"
    spec = job_type_for_event(parsed.detail_type)
    if spec is None:
        return f"not a job status event: {shown(parsed.detail_type)}"
    fields = parsed.detail.model_extra or {}
    given = {field.name: field.from_event(fields) for field in spec.ids}
    ids = {name: value for name, value in given.items() if isinstance(value, str) and value}
    missing = [name for name in given if name not in ids]
    if missing:
        return f"{spec.name} event without {', '.join(missing)}"
    malformed = [
        f"{field.name} {shown(ids[field.name])}" for field in spec.ids if not field.pattern.match(ids[field.name])
    ]
    if malformed:
        return f"{spec.name} event with malformed ids: {', '.join(malformed)}"
    status = parsed.detail.status
    if status not in spec.statuses:
        return f"{spec.name} event with unknown status {shown(status)}"
    snapshot = Snapshot(status=status, status_message=parsed.detail.status_message or "")
    return JobRef(spec.name, ids), snapshot


@dataclass(frozen=True)
class WakeRules:
    """How a woken execution goes on: the poll schedule after a change, and the polls before a hand-over."""

    schedule: PollSchedule
    max_polls: int


@dataclass(frozen=True)
class AccountWide:
    """Account-wide mode: a job of these kinds that no execution follows gets one at its first event."""

    kinds: frozenset[str]
    starter: ExecutionStarter


def record_event(
    event: Any,
    history: HistoryStore,
    jobs: JobReader,
    sfn: Any,
    rules: WakeRules,
    account_wide: AccountWide | None = None,
) -> EventOutcome:
    """Record the event's status if it is news, and then wake the execution waiting on the job.

    Events carry the job's status but not its items, so a job whose status moves is also read once (Get) and
    the entry holds both, as a poll's would; if the read fails the event's status alone is recorded, and the
    execution is woken to poll (an import's sources must end with their final statuses). An event that
    brings no new status (a duplicate, a late one) costs no Get. A job an execution follows is known from
    its Prepare (a marker without status), so its first event is recorded as its first entry. In account-wide
    mode, a job nobody follows is marked followed by the execution started for it, before its event is recorded.
    """
    parsed = job_from_event(event)
    if isinstance(parsed, str):
        return EventOutcome(EventResult.IGNORED, reason=parsed)
    job, snapshot = parsed
    state = history.read(job)
    started = False
    if state is None and account_wide is not None and job.job_type in account_wide.kinds:
        execution_arn, started = account_wide.starter.follow(job)
        state = history.follow(job, execution_arn)
    if state is None:
        return EventOutcome(EventResult.UNTRACKED, job=job, reason="no execution follows this job")
    if state.snapshot is not None and next_snapshot(state.snapshot, snapshot) is None:
        return EventOutcome(EventResult.UNCHANGED, job=job, reason="no new status")
    read = True
    try:
        snapshot = merge(jobs.describe(job), snapshot)
    except TrackerError as error:
        read = False
        logger.warning("Recording the event without item statuses", extra={"reason": str(error), "jobKey": job.pk})
    recorded = record(history, job, snapshot, ObservedBy.EVENT, known=state)
    if not recorded.changed:
        return EventOutcome(EventResult.UNCHANGED, job=job, recorded=recorded)
    woken = wake_waiting_execution(sfn, job, recorded, rules, with_outcome=read)
    result = EventResult.FOLLOWED if started else EventResult.RECORDED
    return EventOutcome(result, job=job, recorded=recorded, reason=woken)


def wake_waiting_execution(sfn: Any, job: JobRef, recorded: Recorded, rules: WakeRules, with_outcome: bool) -> str:
    """End the waiting task with the poll's outcome, as the poll would have found it (the execution goes on
    without a Get of its own); or, at the hand-over limit or for an end recorded without its items, make it poll
    now. A running job recorded without its items is left to wait: its next poll (a slot booked, or the backoff)
    reads them, and a poll now would only queue for the same call budget that had no room for the read."""
    token = recorded.wait_token
    if not token:
        return ""
    if not with_outcome and not recorded.snapshot.terminal:
        return "left the execution to its next poll"
    attempt = recorded.wait_attempt + 1
    tokens = TaskTokens(sfn)
    if with_outcome and attempt < rules.max_polls:
        outcome = outcome_of(job, recorded, attempt, 0, rules.schedule)
        return "woke the execution with the outcome" if tokens.wake(token, outcome.to_json()) else ""
    return "woke the execution to poll" if tokens.poll_now(token) else ""
