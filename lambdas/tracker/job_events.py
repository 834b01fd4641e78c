"""HealthOmics status-change events (``source: aws.omics``) recorded through the same history writer.

Delivery is best effort: an event can be lost, duplicated, late or out of order, or be about a job
nobody follows. None of that may add a duplicate, reorder or regress the history, or fail the
handler: the writer's merge and conditions make a stale or repeated event a no-op, and anything
unusable is logged and dropped (polling stays the safety net).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tracker.errors import TrackerError
from tracker.history import HistoryStore, JobRef, Recorded
from tracker.job_types import JOB_TYPES, job_type_for_event
from tracker.observability import logger
from tracker.omics_jobs import describe_job
from tracker.status import Snapshot, merge


@dataclass(frozen=True)
class EventOutcome:
    """What an event did: ``recorded`` (a new entry), ``unchanged``, ``untracked`` or ``ignored``."""

    result: str
    job: JobRef | None = None
    reason: str = ""
    recorded: Recorded | None = None


def job_from_event(event: dict[str, Any]) -> tuple[JobRef, Snapshot] | str:
    """The job and status an event reports, or why it can't be used."""
    spec = job_type_for_event(str(event.get("detail-type", "")))
    if spec is None:
        return f"not a job status event: {event.get('detail-type')!r}"
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return "event has no detail"
    ids = {name: detail.get(field) for name, field in spec.event_ids}
    missing = [name for name, value in ids.items() if not isinstance(value, str) or not value]
    if missing:
        return f"{spec.name} event without {', '.join(missing)}"
    status = detail.get("status")
    if status not in spec.statuses:
        return f"{spec.name} event with unknown status {status!r}"
    snapshot = Snapshot(status=str(status), status_message=str(detail.get("statusMessage") or ""))
    return JobRef(spec.name, {name: str(value) for name, value in ids.items()}), snapshot


def record_event(event: dict[str, Any], history: HistoryStore, omics: Any, sfn: Any) -> EventOutcome:
    """Record the event's status if it is news, and then wake the execution waiting on the job.

    Events carry the job's status but not its items, so a followed job is also read once (Get) and
    the entry holds both, as a poll's would; if the read fails the event's status alone is recorded.
    """
    parsed = job_from_event(event)
    if isinstance(parsed, str):
        return EventOutcome("ignored", reason=parsed)
    job, snapshot = parsed
    if history.current(job)[0] is None:
        return EventOutcome("untracked", job=job, reason="no execution follows this job")
    try:
        snapshot = merge(describe_job(omics, JOB_TYPES[job.job_type], job.ids), snapshot)
    except TrackerError as error:
        logger.warning("Recording the event without item statuses", extra={"reason": str(error)})
    recorded = history.record(job, snapshot, observed_by="event", only_if_tracked=True)
    if recorded is None:
        return EventOutcome("untracked", job=job, reason="no execution follows this job")
    if not recorded.changed:
        return EventOutcome("unchanged", job=job, recorded=recorded)
    woken = wake_waiting_execution(sfn, history.wait_token(job), recorded)
    return EventOutcome("recorded", job=job, recorded=recorded, reason="woke the execution" if woken else "")


def wake_waiting_execution(sfn: Any, token: str | None, recorded: Recorded) -> bool:
    """End the waiting task so the execution polls now; a token that is no longer waited on is fine."""
    if not token:
        return False
    output = json.dumps({"wokenBy": "event", "status": recorded.snapshot.status, "historyVersion": recorded.version})
    try:
        sfn.send_task_success(taskToken=token, output=output)
    except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken, sfn.exceptions.TaskDoesNotExist):
        return False  # the wait already ended (timed out, or an earlier event woke it): the poll runs anyway
    return True
