"""Turning an S3 upload into exactly one execution of the state machine.

Any event reaching the trigger ends in a named outcome: an upload is started (or found already
started); anything that is not an importable reference upload is ignored and logged. Only a failure to
start (Step Functions refusing or failing) raises, so that Lambda retries the event and, once its
retries are spent, hands it to the on-failure destination.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel

from tracker.contract import REFERENCE_IMPORT, InvalidInput
from tracker.event_bridge import parse_event
from tracker.inputs import TrackUpload, parse_request, shown

# Step Functions advises only these characters when CloudWatch logging is on (it is).
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_EXECUTION_NAME_MAX = 80
_HASH_CHARS = 32


class UploadResult(StrEnum):
    STARTED = "started"
    ALREADY_STARTED = "alreadyStarted"  # a redelivered event: its execution exists
    IGNORED = "ignored"  # not an importable reference upload


@dataclass(frozen=True)
class UploadOutcome:
    result: UploadResult
    reason: str = ""
    execution_name: str | None = None
    execution_arn: str | None = None


def execution_name(bucket: str, key: str, sequencer: str) -> str:
    """Deterministic, at most 80 characters, no '/': the same upload always maps to the same name."""
    digest = hashlib.sha256(f"{bucket}/{key}@{sequencer}".encode()).hexdigest()[:_HASH_CHARS]
    stem = _NAME_UNSAFE.sub("-", key.rsplit("/", 1)[-1]).strip("-") or "upload"
    room = _EXECUTION_NAME_MAX - _HASH_CHARS - 1
    return f"{stem[:room]}-{digest}"


def upload_request(event: Any) -> TrackUpload | str:
    """The execution input for an S3 ``Object Created`` event, validated as the state machine will, or
    why the event is not an importable upload.

    S3 puts the object key in its events URL-encoded (a space as '+'): it is decoded here, before it
    becomes a source file, a reference name, an execution name or a client token.
    """
    parsed = parse_event(event, S3EventNotificationEventBridgeModel)
    if isinstance(parsed, str):
        return f"not an S3 Object Created event ({parsed})"
    s3_object = parsed.detail.object
    upload = {
        "bucket": parsed.detail.bucket.name,
        "key": unquote_plus(s3_object.key),
        "sequencer": s3_object.sequencer,
        **({"etag": s3_object.etag} if s3_object.etag else {}),
    }
    try:
        request = parse_request({"jobType": REFERENCE_IMPORT, "s3Upload": upload})
    except InvalidInput as error:
        return f"upload of {shown(upload['key'])} not importable: {error}"
    assert isinstance(request, TrackUpload)  # the s3Upload shape parses as nothing else
    return request


def start_for_upload(sfn: Any, state_machine_arn: str, event: Any) -> UploadOutcome:
    """Start the execution for an upload; a redelivered event finds its execution and starts nothing."""
    request = upload_request(event)
    if isinstance(request, str):
        return UploadOutcome(UploadResult.IGNORED, reason=request)
    upload = request.s3_upload
    name = execution_name(upload.bucket, upload.key, upload.sequencer)
    execution_input = request.to_json()
    try:
        response = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input, ensure_ascii=False)
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        return UploadOutcome(UploadResult.ALREADY_STARTED, reason="duplicate event", execution_name=name)
    return UploadOutcome(UploadResult.STARTED, execution_name=name, execution_arn=response["executionArn"])
