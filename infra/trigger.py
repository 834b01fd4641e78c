"""S3 uploads of reference files → EventBridge rule → trigger Lambda → one named execution per upload.

EventBridge cannot name the executions it starts, so a small function does it: the name is derived
from bucket, key and S3 sequencer, which makes a redelivered event (S3 delivers at least once) land
on the execution that already exists instead of starting another.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.dead_letters import dead_letter_queue
from infra.settings import TrackerSettings

# HealthOmics reference file endings (docs: manage-reference-store), plain and bgzipped.
REFERENCE_ENDINGS = (".fasta", ".fa", ".fas", ".fsa", ".faa", ".fna", ".ffn", ".frn", ".mpfa", ".seq", ".txt")


def reference_key_patterns(prefix: str) -> list[dict[str, str]]:
    """Wildcards are case-sensitive: match each ending in lower and in upper case (the validator agrees)."""
    return [
        {"wildcard": f"{prefix}*{case(ending)}{case(gz)}"}
        for case in (str.lower, str.upper)
        for ending in REFERENCE_ENDINGS
        for gz in ("", ".gz")
    ]


class UploadTrigger(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: TrackerSettings,
        bucket: s3.IBucket,
        trigger_function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = dead_letter_queue(self)
        self.rule = events.Rule(
            self,
            "ReferenceUploaded",
            description="A reference genome file was uploaded: start tracking its HealthOmics import",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": reference_key_patterns(settings.upload_prefix)},
                },
            ),
        )
        # The rule derives the state machine input, so the trigger passes on exactly what it was given.
        self.rule.add_target(
            targets.LambdaFunction(
                trigger_function,
                event=events.RuleTargetInput.from_object(
                    {
                        "jobType": "REFERENCE_IMPORT",
                        "s3Upload": {
                            "bucket": events.EventField.from_path("$.detail.bucket.name"),
                            "key": events.EventField.from_path("$.detail.object.key"),
                            "sequencer": events.EventField.from_path("$.detail.object.sequencer"),
                            "etag": events.EventField.from_path("$.detail.object.etag"),
                        },
                    }
                ),
                dead_letter_queue=self.dead_letters,
                retry_attempts=8,
                max_event_age=Duration.hours(6),
            )
        )
