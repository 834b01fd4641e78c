"""HealthOmics status-change events (``source: aws.omics``) recorded through the same history writer.

Delivery is best effort: an event can be lost, duplicated, late or out of order, or be about a job
nobody follows. None of that may add a duplicate, reorder or regress the history, or fail the
handler: the writer's merge and conditions make a stale or repeated event a no-op, and anything
unusable is logged and dropped (polling stays the safety net).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracker.history import HistoryStore, JobRef, Recorded
from tracker.job_types import job_type_for_event
from tracker.status import Snapshot


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


def record_event(event: dict[str, Any], history: HistoryStore) -> EventOutcome:
    parsed = job_from_event(event)
    if isinstance(parsed, str):
        return EventOutcome("ignored", reason=parsed)
    job, snapshot = parsed
    recorded = history.record(job, snapshot, observed_by="event", only_if_tracked=True)
    if recorded is None:
        return EventOutcome("untracked", job=job, reason="no execution follows this job")
    return EventOutcome("recorded" if recorded.changed else "unchanged", job=job, recorded=recorded)
