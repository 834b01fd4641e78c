"""Turning an S3 upload into exactly one execution of the state machine."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.parser.models.s3 import (
    S3EventNotificationEventBridgeBucketModel,
    S3EventNotificationObjectModel,
)
from pydantic import BaseModel

from tracker.contract import REFERENCE_IMPORT
from tracker.inputs import TrackUpload, parse_request
from tracker.observability import logger

# Step Functions advises only these characters when CloudWatch logging is on (it is).
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_EXECUTION_NAME_MAX = 80
_HASH_CHARS = 32


def execution_name(bucket: str, key: str, sequencer: str) -> str:
    """Deterministic, at most 80 characters, no '/': the same upload always maps to the same name."""
    digest = hashlib.sha256(f"{bucket}/{key}@{sequencer}".encode()).hexdigest()[:_HASH_CHARS]
    stem = _NAME_UNSAFE.sub("-", key.rsplit("/", 1)[-1]).strip("-") or "upload"
    room = _EXECUTION_NAME_MAX - _HASH_CHARS - 1
    return f"{stem[:room]}-{digest}"


class ObjectCreatedDetail(BaseModel):
    """What the trigger reads of an S3 ``Object Created`` event: Powertools' bucket and object models.

    Powertools' full detail model also requires ``request-id`` and ``requester``, which the tracker
    does not use; an event without them is still an upload to import.
    """

    bucket: S3EventNotificationEventBridgeBucketModel
    object: S3EventNotificationObjectModel


class ObjectCreatedEvent(EventBridgeModel):
    detail: ObjectCreatedDetail


def upload_request(event: ObjectCreatedEvent) -> TrackUpload:
    """The execution input for an S3 ``Object Created`` event, validated as the state machine will."""
    s3_object = event.detail.object
    upload = {"bucket": event.detail.bucket.name, "key": s3_object.key, "sequencer": s3_object.sequencer}
    if s3_object.etag:
        upload["etag"] = s3_object.etag
    request = parse_request({"jobType": REFERENCE_IMPORT, "s3Upload": upload})
    assert isinstance(request, TrackUpload)  # the s3Upload shape parses as nothing else
    return request


def start_for_upload(sfn: Any, state_machine_arn: str, request: TrackUpload) -> dict[str, Any]:
    """Start the execution for an upload; a redelivered event finds its execution and starts nothing."""
    upload = request.s3_upload
    name = execution_name(upload.bucket, upload.key, upload.sequencer)
    execution_input = request.model_dump(by_alias=True, exclude_none=True)
    try:
        response = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input))
    except sfn.exceptions.ExecutionAlreadyExists:
        logger.info("Upload already tracked: duplicate event", extra={"executionName": name})
        return {"executionName": name, "started": False}
    logger.info("Tracking upload", extra={"executionArn": response["executionArn"]})
    return {"executionName": name, "executionArn": response["executionArn"], "started": True}
