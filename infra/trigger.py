"""S3 uploads of reference files → EventBridge rule → Trigger function → one named execution per upload.

EventBridge cannot name the executions it starts, so a small function does it: the name is derived
from bucket, key and S3 sequencer, which makes a redelivered event (S3 delivers at least once) land
on the execution that already exists instead of starting another.

The rule matches every object created under the upload prefix, and the trigger keeps the reference
files: EventBridge's wildcards are case-sensitive and a field takes no AND of a prefix and a
case-insensitive suffix, so only the function can accept ``.fa``, ``.FA`` and ``.Fa`` alike. Other
files cost one short invocation each, ignored and logged.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.event_rules import rule_to_function
from infra.functions import TrackerFunctions
from infra.settings import CONTEXT, SettingsError, TrackerSettings
from infra.storage import TrackerStorage
from tracker.contract import Env

EVENT_PATTERN_LIMIT = 4096  # characters of a rule's EventPattern (EventBridge PutRule)
BUCKET_NAME_MAX = 63  # the bucket name is a token at synthesis: count it at its longest


def upload_key_filter(prefix: str) -> list[dict[str, str]]:
    """S3 puts the key in its events URL-encoded (a space as '+'): match the prefix as it appears there."""
    return [{"prefix": quote_plus(prefix, safe="/")}]


def upload_event_pattern(bucket_name: Any, prefix: str) -> dict[str, Any]:
    """The ReferenceUploaded rule's event pattern, as the template gives it to EventBridge."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket_name]}, "object": {"key": upload_key_filter(prefix)}},
    }


def event_pattern_length(prefix: str) -> int:
    """The pattern's length as JSON with the longest bucket name; json.dumps's separators and escapes make it
    at least as long as any serialization CloudFormation sends."""
    return len(json.dumps(upload_event_pattern("b" * BUCKET_NAME_MAX, prefix)))


def check_event_pattern_size(prefix: str) -> None:
    length = event_pattern_length(prefix)
    if length > EVENT_PATTERN_LIMIT:
        raise SettingsError(
            [
                f"{CONTEXT}: uploadPrefix of {len(prefix)} characters makes the upload rule's event pattern "
                f"{length:,} characters (URL-encoded), over EventBridge's limit of {EVENT_PATTERN_LIMIT:,}"
            ]
        )


class UploadTrigger(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: TrackerSettings,
        functions: TrackerFunctions,
        storage: TrackerStorage,
        state_machine: sfn.StateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        check_event_pattern_size(settings.upload_prefix)
        self.function = functions.create(
            self,
            "Function",
            handler="tracker.handlers.trigger.handler",
            description="Start one tracker execution per uploaded reference file",
            environment={Env.STATE_MACHINE_ARN: state_machine.state_machine_arn},
        )
        state_machine.grant_start_execution(self.function)
        pattern = upload_event_pattern(storage.uploads.bucket_name, settings.upload_prefix)
        self.target = rule_to_function(
            self,
            "ReferenceUploaded",
            description="A reference genome file was uploaded: start tracking its HealthOmics import",
            event_pattern=events.EventPattern(
                source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"]
            ),
            function=self.function,
            delivery_retries=8,
            max_event_age=Duration.hours(6),
        )
