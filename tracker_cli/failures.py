"""What failed: the state machine's failed, timed-out and aborted executions, and the messages waiting in
the stack's failure queues (docs/operating.md#failed-uploads-and-events), each with its cause and what it concerns.

Queues are only peeked at (received with a visibility timeout of 0, never deleted), so looking changes
nothing for the alarms or for whoever replays them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from tracker.contract import JOB_TYPES, job_type_for_event
from tracker_cli.jobs import job_label, short_cause
from tracker_cli.stack import QUEUE_OUTPUT_SUFFIX, Aws, Tracker

FAILED_EXECUTION_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
_PEEK_ROUNDS = 10  # receives per queue: SQS returns at most 10 messages, a sample of the queue each time


@dataclass(frozen=True)
class FailedExecution:
    name: str
    execution_arn: str
    status: str
    started: str
    stopped: str
    error: str
    cause: str
    concerns: str  # the upload (s3 URI), the sources to import, or the job followed

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "executionArn": self.execution_arn,
            "status": self.status,
            "startDate": self.started,
            "stopDate": self.stopped,
            "error": self.error,
            "cause": self.cause,
            "concerns": self.concerns,
        }


@dataclass(frozen=True)
class QueuedFailure:
    queue: str  # the stack output naming the queue, without "QueueUrl"
    message_id: str
    time: str  # ISO 8601: when the record was made, or else when the message was sent
    kind: str  # "invocation record" (Lambda on-failure destination), "undelivered event" (EventBridge DLQ)
    cause: str
    concerns: str

    def to_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "messageId": self.message_id,
            "time": self.time,
            "kind": self.kind,
            "cause": self.cause,
            "concerns": self.concerns,
        }


def concerns_of_input(execution_input: str | None) -> str:
    """What an execution was asked to do, from its input (the three console shapes)."""
    try:
        payload = json.loads(execution_input or "{}")
    except ValueError:
        return ""
    if not isinstance(payload, dict):
        return ""
    upload = payload.get("s3Upload")
    if isinstance(upload, dict):
        return f"s3://{upload.get('bucket', '')}/{upload.get('key', '')}"
    sources = payload.get("sources")
    if isinstance(sources, list):
        return ", ".join(str(s.get("sourceFile", "")) for s in sources if isinstance(s, dict))
    spec = JOB_TYPES.get(str(payload.get("jobType")))
    if spec is not None and "jobId" in payload:
        return job_label(spec.name, {name: str(payload[name]) for name in spec.id_names if name in payload})
    return ""


def failed_executions(aws: Aws, tracker: Tracker, since: datetime) -> list[FailedExecution]:
    """Executions that failed, timed out or were aborted, started since `since`, last stopped first."""
    found: list[FailedExecution] = []
    paginator = aws.sfn.get_paginator("list_executions")
    for status in FAILED_EXECUTION_STATUSES:
        for page in paginator.paginate(stateMachineArn=tracker.state_machine_arn, statusFilter=status):
            recent = [e for e in page["executions"] if e["startDate"] >= since]
            found.extend(_failed(aws, e["executionArn"]) for e in recent)
            if len(recent) < len(page["executions"]):  # newest first: the rest are older
                break
    return sorted(found, key=lambda failed: (failed.stopped, failed.name), reverse=True)


def _failed(aws: Aws, execution_arn: str) -> FailedExecution:
    described = aws.sfn.describe_execution(executionArn=execution_arn)
    return FailedExecution(
        name=described["name"],
        execution_arn=execution_arn,
        status=described["status"],
        started=described["startDate"].isoformat(),
        stopped=described["stopDate"].isoformat() if described.get("stopDate") else "",
        error=str(described.get("error", "")),
        cause=short_cause(described.get("cause")),
        concerns=concerns_of_input(described.get("input")),
    )


def queued_failures(aws: Aws, tracker: Tracker) -> tuple[list[QueuedFailure], dict[str, str]]:
    """The messages of every failure queue, and why a queue could not be read (by queue)."""
    found: list[QueuedFailure] = []
    unreadable: dict[str, str] = {}
    for output, url in tracker.queues.items():
        queue = output.removesuffix(QUEUE_OUTPUT_SUFFIX)
        try:
            messages = peek(aws, url)
        except ClientError as error:  # e.g. no kms:Decrypt on the tracker's key: say so, read the others
            details = error.response.get("Error", {})
            unreadable[queue] = f"{details.get('Code', 'Error')}: {details.get('Message', '')}"
            continue
        found.extend(describe_message(queue, message) for message in messages)
    return found, unreadable


def peek(aws: Aws, url: str) -> list[dict[str, Any]]:
    """The queue's messages, left in place: received with a visibility timeout of 0, never deleted."""
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(_PEEK_ROUNDS):
        messages = aws.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["SentTimestamp"],
        ).get("Messages", [])
        new = [message for message in messages if message["MessageId"] not in seen]
        if not new:
            break
        seen.update((message["MessageId"], message) for message in new)
    return sorted(seen.values(), key=lambda message: int(message.get("Attributes", {}).get("SentTimestamp", 0)))


def describe_message(queue: str, message: dict[str, Any]) -> QueuedFailure:
    """A Lambda invocation record (on-failure destination) or an event EventBridge could not deliver
    (dead-letter queue, with ERROR_CODE / ERROR_MESSAGE attributes); anything else as it is."""
    try:
        body = json.loads(message.get("Body", ""))
    except ValueError:
        body = message.get("Body", "")
    attributes = {name: value.get("StringValue", "") for name, value in message.get("MessageAttributes", {}).items()}
    sent = message.get("Attributes", {}).get("SentTimestamp")
    sent_at = datetime.fromtimestamp(int(sent) / 1000, UTC).isoformat() if sent else ""
    base = {"queue": queue, "message_id": message.get("MessageId", "")}
    if isinstance(body, dict) and "requestContext" in body:
        return QueuedFailure(**base, **_invocation_record(body), time=str(body.get("timestamp") or sent_at))
    if "ERROR_CODE" in attributes or (isinstance(body, dict) and "detail-type" in body):
        cause = ": ".join(part for part in (attributes.get("ERROR_CODE"), attributes.get("ERROR_MESSAGE")) if part)
        event = body if isinstance(body, dict) else {}
        return QueuedFailure(
            **base, time=sent_at, kind="undelivered event", cause=cause, concerns=concerns_of_event(event)
        )
    return QueuedFailure(**base, time=sent_at, kind="message", cause="", concerns=str(message.get("Body", ""))[:200])


def _invocation_record(record: dict[str, Any]) -> dict[str, str]:
    """Lambda's on-failure record: the error it ended with, and the event (or batch) it was given."""
    context = record.get("requestContext") or {}
    response = record.get("responsePayload")
    error = (
        ": ".join(str(response[k]) for k in ("errorType", "errorMessage") if response.get(k))
        if isinstance(response, dict)
        else ""
    )
    attempts = context.get("approximateInvokeCount")
    condition = str(context.get("condition", ""))
    condition += f" after {attempts} attempts" if condition and attempts else ""
    cause = f"{error} ({condition})" if error and condition else error or condition
    payload = record.get("requestPayload")
    concerns = concerns_of_event(payload) if isinstance(payload, dict) else ""
    batch = next((value for key, value in record.items() if key.endswith("BatchInfo")), None)
    if not concerns and isinstance(batch, dict):  # a stream batch's record carries no event, only its place
        concerns = f"batch of {batch.get('batchSize', '?')} stream records from {batch.get('startSequenceNumber', '?')}"
    return {"kind": "invocation record", "cause": cause, "concerns": concerns}


def concerns_of_event(event: dict[str, Any]) -> str:
    """The upload (an S3 Object Created event) or the job (an aws.omics status event) an event is about."""
    detail: Any = event.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    if event.get("source") == "aws.s3":
        bucket = (detail.get("bucket") or {}).get("name", "")
        key = unquote_plus(str((detail.get("object") or {}).get("key", "")))  # S3 URL-encodes keys in events
        return f"s3://{bucket}/{key}"
    spec = job_type_for_event(str(event.get("detail-type", "")))
    if spec is not None:
        return job_label(spec.name, {f.name: str(detail[f.event_field]) for f in spec.ids if f.event_field in detail})
    return str(event.get("detail-type", ""))
