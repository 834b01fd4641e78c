"""S3 uploads of reference files → EventBridge rule → Trigger function → one named execution per upload.

EventBridge cannot name the executions it starts, so a small function does it: the name is derived
from bucket, key and S3 sequencer, which makes a redelivered event (S3 delivers at least once) land
on the execution that already exists instead of starting another.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.event_rules import rule_to_function
from infra.functions import TrackerFunctions
from infra.settings import TrackerSettings
from infra.storage import TrackerStorage
from tracker.contract import REFERENCE_SUFFIXES, Env


def reference_key_patterns(prefix: str) -> list[dict[str, str]]:
    """Wildcards are case-sensitive: each ending in lower and in upper case, as the validator accepts them."""
    return [{"wildcard": f"{prefix}*{suffix}"} for suffix in REFERENCE_SUFFIXES]


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
        self.function = functions.create(
            self,
            "Function",
            handler="tracker.handlers.trigger.handler",
            description="Start one tracker execution per uploaded reference file",
            environment={Env.STATE_MACHINE_ARN: state_machine.state_machine_arn},
        )
        state_machine.grant_start_execution(self.function)
        self.rule, self.dead_letters = rule_to_function(
            self,
            "ReferenceUploaded",
            description="A reference genome file was uploaded: start tracking its HealthOmics import",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [storage.uploads.bucket_name]},
                    "object": {"key": reference_key_patterns(settings.upload_prefix)},
                },
            ),
            function=self.function,
            retry_attempts=8,
            max_event_age=Duration.hours(6),
        )
