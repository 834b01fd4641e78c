"""HealthOmics job status-change events → EventBridge rule → JobEvents function → the status history."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.event_rules import rule_to_function
from infra.functions import TrackerFunctions
from infra.settings import TrackerSettings
from infra.storage import TrackerStorage
from tracker.contract import EVENT_SOURCE, JOB_TYPES, Env


class JobEvents(Construct):
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
            handler="tracker.handlers.job_events.handler",
            description="Record HealthOmics job status-change events in the history",
            # The poll schedule: the outcome it wakes an execution with says when that execution polls next.
            environment={
                Env.TABLE_NAME: storage.history.table_name,
                **settings.poll_environment(),
                **settings.account_wide_environment(),
            },
            timeout_seconds=10,
        )
        if settings.follow_all_jobs:  # account-wide mode: a job nobody follows gets its execution at its first event
            self.function.add_environment(Env.STATE_MACHINE_ARN, state_machine.state_machine_arn)
            state_machine.grant_start_execution(self.function)
        storage.grant_history_writes(self.function)
        storage.grant_job_reads(self.function)  # one Get per event, to record item statuses with the status
        state_machine.grant_task_response(self.function)  # wakes the execution waiting on the job
        self.target = rule_to_function(
            self,
            "JobStatusChanged",
            description="A HealthOmics job changed status: record it in the history",
            event_pattern=events.EventPattern(
                source=[EVENT_SOURCE], detail_type=[spec.event_detail_type for spec in JOB_TYPES.values()]
            ),
            function=self.function,
            delivery_retries=4,
            # An old status event is worth nothing once the poller has moved on.
            max_event_age=Duration.hours(1),
        )
