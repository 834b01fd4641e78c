"""Tell the world about each recorded change: a "Job Status Changed" event, and a message for a job that ended.

The history table's stream is the source (one new EVENT# item = one recorded change), so an event is
sent for every change the tracker recorded, whoever recorded it, and never for an observation that
changed nothing (a duplicate, a stale event, a repeated poll writes no entry).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.contract import (
    STATUS_CHANGED_DETAIL_TYPE,
    STATUS_CHANGED_SOURCE,
    ServiceUnavailable,
    Table,
)
from tracker.dynamodb_items import from_item
from tracker.history import HistoryStore
from tracker.history_table import HistoryEntry
from tracker.status import STATUS_CHANGE

# Item statuses that mean this source or read set did not make it (SourceStatus / ReadSetExportJobItemStatus).
FAILED_ITEM_STATUSES = frozenset({"FAILED", "CANCELLED"})
SUBJECT_MAX = 100  # characters of an SNS e-mail subject
_FAILED_ITEMS_SHOWN = 20


class StatusChange(HistoryEntry):
    """One history entry, as the stream delivers it."""

    @property
    def ended(self) -> bool:
        """The job's status became terminal with this entry (a later entry may only fill in item statuses)."""
        return self.terminal and any(change.startswith(STATUS_CHANGE) for change in self.changes)

    @property
    def failed_items(self) -> dict[str, str]:
        return {key: status for key, status in sorted(self.items.items()) if status in FAILED_ITEM_STATUSES}


def change_from_stream(record: dict[str, Any]) -> StatusChange | None:
    """The history entry a stream record inserted; None for any other record (STATE updates, removals)."""
    stream = record.get("dynamodb", {})
    image = from_item(stream.get("NewImage", {}))
    if record.get("eventName") != "INSERT" or not str(image.get(Table.SK, "")).startswith(Table.EVENT_SK_PREFIX):
        return None
    return StatusChange.from_item(image)


def event_detail(change: StatusChange) -> dict[str, Any]:
    """The detail of the tracker's "Job Status Changed" event (docs/operating.md#notifications)."""
    return {
        "job": change.job.to_dict(),
        "status": change.status,
        "terminal": change.terminal,
        "statusMessage": change.status_message,
        "items": change.items,
        "itemMessages": change.item_messages,
        "entry": {
            "sequence": change.sequence,
            "observedAt": change.observed_at,
            "observedBy": change.observed_by,
            "changes": list(change.changes),
            "creationTime": change.creation_time,
            "completionTime": change.completion_time,
            "executionArn": change.execution_arn,
        },
    }


def put_status_event(events: Any, change: StatusChange) -> None:
    """One event on the default bus; a refused entry raises, so the stream record is retried."""
    response = events.put_events(
        Entries=[
            {
                "Source": STATUS_CHANGED_SOURCE,
                "DetailType": STATUS_CHANGED_DETAIL_TYPE,
                "Detail": json.dumps(event_detail(change), ensure_ascii=False),
                "Resources": [change.execution_arn] if change.execution_arn else [],
            }
        ]
    )
    if response.get("FailedEntryCount"):
        failed = response["Entries"][0]
        raise ServiceUnavailable(f"PutEvents refused the event: {failed.get('ErrorCode')} {failed.get('ErrorMessage')}")


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def job_ended_message(change: StatusChange, execution_arns: list[str]) -> Message:
    """A message a person reads in their mailbox: which job, how it ended, how long, what failed, where to look."""
    job_id = change.job.ids.get("jobId", change.job.pk)
    subject = f"HealthOmics {change.job.job_type} {job_id}: {change.status}"
    lines = [
        f"HealthOmics {change.job.job_type} job {job_id} ended {change.status}.",
        "Job: " + ", ".join(f"{name} {value}" for name, value in change.job.ids.items()),
    ]
    if change.status_message:
        lines.append(f"Status message: {change.status_message}")
    lines.append(f"Took: {took(change)}")
    lines.extend(_item_lines(change))
    lines.extend(f"Execution: {console_link(arn)}" for arn in execution_arns)
    lines.append(f"History: omics-tracker show {job_id}")
    lines.append(f"Recorded {change.observed_at} by {change.observed_by} (history entry {change.sequence}).")
    return Message(subject=_subject(subject), body="\n".join(lines))


def _item_lines(change: StatusChange) -> list[str]:
    if not change.items:
        return []
    failed = change.failed_items
    lines = [f"Items: {len(change.items) - len(failed)} of {len(change.items)} succeeded, {len(failed)} failed."]
    for key, status in list(failed.items())[:_FAILED_ITEMS_SHOWN]:
        reason = change.item_messages.get(key, "no message")
        lines.append(f"  - {key}: {status}: {reason}")
    if len(failed) > _FAILED_ITEMS_SHOWN:
        lines.append(f"  … and {len(failed) - _FAILED_ITEMS_SHOWN} more (omics-tracker show).")
    return lines


def took(change: StatusChange) -> str:
    """How long the job ran, by HealthOmics' own creation and completion times."""
    try:
        seconds = (_moment(change.completion_time) - _moment(change.creation_time)).total_seconds()
    except ValueError:
        return "unknown (HealthOmics reported no creation or completion time)"
    return duration_text(seconds)


def duration_text(seconds: float) -> str:
    whole = max(round(seconds), 0)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    shown = [f"{value} {unit}" for value, unit in parts if value][:2]
    return " ".join(shown) or "0 s"


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def console_link(execution_arn: str) -> str:
    region = execution_arn.split(":")[3]
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def _subject(text: str) -> str:
    # SNS subjects: ASCII, no line breaks, at most 100 characters.
    ascii_text = text.encode("ascii", "replace").decode().replace("\n", " ")
    return ascii_text if len(ascii_text) <= SUBJECT_MAX else ascii_text[: SUBJECT_MAX - 1] + "~"


def publish_job_ended(sns: Any, topic_arn: str, change: StatusChange, execution_arns: list[str]) -> None:
    message = job_ended_message(change, execution_arns)
    sns.publish(
        TopicArn=topic_arn,
        Subject=message.subject,
        Message=message.body,
        MessageAttributes={
            "jobType": {"DataType": "String", "StringValue": change.job.job_type},
            "status": {"DataType": "String", "StringValue": change.status},
        },
    )


def notify(change: StatusChange, events: Any, sns: Any, topic_arn: str, history: HistoryStore) -> None:
    """The event for every change; for the change to a terminal status, also the message to the topic."""
    put_status_event(events, change)
    if change.ended:
        state = history.read(change.job)
        linked = set(state.execution_arns) if state else set()
        if change.execution_arn:
            linked.add(change.execution_arn)
        publish_job_ended(sns, topic_arn, change, sorted(linked))


def detection_delay_seconds(change: StatusChange) -> float | None:
    """How long after HealthOmics' completion time the tracker recorded the end (None without that time)."""
    try:
        return max((_moment(change.observed_at) - _moment(change.completion_time)).total_seconds(), 0.0)
    except ValueError:
        return None
