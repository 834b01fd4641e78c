"""HealthOmics job status-change events → EventBridge rule → JobEvent Lambda → the status history."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.dead_letters import dead_letter_queue

# The detail-types HealthOmics publishes for the job types the tracker follows (job_types.py agrees).
JOB_STATUS_DETAIL_TYPES = (
    "Reference Import Job Status Change",
    "Variant Import Job Status Change",
    "Read Set Export Job Status Change",
)


class JobStatusEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, event_function: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = dead_letter_queue(self)
        self.rule = events.Rule(
            self,
            "JobStatusChanged",
            description="A HealthOmics import or export job changed status: record it in the history",
            event_pattern=events.EventPattern(source=["aws.omics"], detail_type=list(JOB_STATUS_DETAIL_TYPES)),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                event_function,
                dead_letter_queue=self.dead_letters,
                retry_attempts=4,
                # An old status event is worth nothing once the poller has moved on.
                max_event_age=Duration.hours(1),
            )
        )
