"""Account-wide mode's sweep: a schedule → the Sweep function → an execution for every job nobody follows.

JobEvents starts the execution of a job at its first status event; the sweep finds the jobs whose events were lost
(and those that were running before the mode was turned on) by listing each followed kind's jobs.
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
from tracker.contract import Env

SWEEP_TIMEOUT_SECONDS = 300


class AccountWideSweep(Construct):
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
        period = Duration.minutes(settings.all_jobs_sweep_minutes)
        self.function = functions.create(
            self,
            "Function",
            handler="tracker.handlers.sweep.handler",
            description="Account-wide mode: start following every HealthOmics job nobody follows",
            environment={
                Env.TABLE_NAME: storage.history.table_name,
                Env.STATE_MACHINE_ARN: state_machine.state_machine_arn,
                # Two periods back: a sweep that failed or ran late leaves no gap.
                Env.SWEEP_LOOKBACK_SECONDS: str(2 * int(period.to_seconds())),
                **settings.account_wide_environment(),
                **settings.omics_environment(),
            },
            timeout_seconds=SWEEP_TIMEOUT_SECONDS,
        )
        storage.grant_job_listing(self.function, settings.follow_all_jobs)
        state_machine.grant_start_execution(self.function)
        self.target = rule_to_function(
            self,
            "SweepSchedule",
            description="Account-wide mode: list HealthOmics jobs and follow those nobody follows",
            function=self.function,
            schedule=events.Schedule.rate(period),
            delivery_retries=2,
            # A sweep that could not run is replaced by the next one.
            max_event_age=period,
            function_retries=0,
        )
