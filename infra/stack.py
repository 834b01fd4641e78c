"""The tracker's stack: storage, functions, the state machine and the upload trigger."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.functions import TrackerFunctions
from infra.job_events import JobStatusEvents
from infra.settings import TrackerSettings
from infra.storage import TrackerStorage
from infra.trigger import UploadTrigger
from infra.workflow import TrackerWorkflow


class OmicsJobTrackerStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: TrackerSettings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description="Event-driven tracker for AWS HealthOmics jobs", **kwargs)

        storage = TrackerStorage(self, "Storage", settings=settings)
        functions = TrackerFunctions(self, "Functions", settings=settings)
        shared_environment = {
            "TABLE_NAME": storage.history.table_name,
            "REFERENCE_STORE_ID": storage.reference_store_id,
            "POLL_FIRST_WAIT_SECONDS": str(settings.poll_first_wait_seconds),
            "POLL_BACKOFF_FACTOR": str(settings.poll_backoff_factor),
            "POLL_MAX_WAIT_SECONDS": str(settings.poll_max_wait_seconds),
            "POLL_WAIT_WITH_EVENTS_SECONDS": str(settings.poll_wait_with_events_seconds),
            "MAX_POLLS_PER_EXECUTION": str(settings.max_polls_per_execution),
        }
        prepare = functions.function(
            "Prepare",
            handler="tracker.handlers.prepare.handler",
            description="Validate a tracker execution's input",
            environment=shared_environment,
            timeout_seconds=10,
        )
        poll = functions.function(
            "Poll",
            handler="tracker.handlers.poll.handler",
            description="Poll a HealthOmics job and record status changes",
            environment=shared_environment,
        )
        self._allow_job_reads(poll, storage.reference_store_arn)
        self._allow_history_writes(poll, storage.history.table_arn)
        job_event = functions.function(
            "JobEvent",
            handler="tracker.handlers.job_event.handler",
            description="Record HealthOmics job status-change events in the history",
            environment=shared_environment,
            timeout_seconds=10,
        )
        self._allow_history_writes(job_event, storage.history.table_arn)
        self._allow_job_reads(job_event, storage.reference_store_arn)
        job_events = JobStatusEvents(self, "JobEvents", event_function=job_event)

        workflow = TrackerWorkflow(
            self,
            "Workflow",
            settings=settings,
            prepare_function=prepare,
            poll_function=poll,
            reference_store_arn=storage.reference_store_arn,
            import_role=storage.import_role,
            history_table_name=storage.history.table_name,
            history_table_arn=storage.history.table_arn,
        )

        # Wake the execution waiting on a job when its status event is recorded.
        workflow.state_machine.grant_task_response(job_event)

        trigger = functions.function(
            "Trigger",
            handler="tracker.handlers.trigger.handler",
            description="Start one tracker execution per uploaded reference file",
            environment={**shared_environment, "STATE_MACHINE_ARN": workflow.state_machine.state_machine_arn},
        )
        workflow.state_machine.grant_start_execution(trigger)
        trigger_construct = UploadTrigger(
            self, "UploadTrigger", settings=settings, bucket=storage.uploads, trigger_function=trigger
        )

        CfnOutput(self, "UploadBucketName", value=storage.uploads.bucket_name, description="Upload references here")
        CfnOutput(self, "UploadPrefix", value=settings.upload_prefix)
        CfnOutput(self, "HistoryTableName", value=storage.history.table_name)
        CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        CfnOutput(self, "ReferenceStoreId", value=storage.reference_store_id)
        CfnOutput(self, "UploadDeadLetterQueueUrl", value=trigger_construct.dead_letters.queue_url)
        CfnOutput(self, "JobEventDeadLetterQueueUrl", value=job_events.dead_letters.queue_url)

        self.settings = settings
        self.storage = storage
        self.workflow = workflow

    def _allow_job_reads(self, function: iam.IGrantable, reference_store_arn: str) -> None:
        function.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["omics:GetReferenceImportJob"], resources=[reference_store_arn])
        )
        function.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["omics:GetReadSetExportJob"],
                resources=[self.format_arn(service="omics", resource="sequenceStore", resource_name="*")],
            )
        )
        # GetVariantImportJob has no resource-level permissions: "*" is the only resource it accepts.
        function.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["omics:GetVariantImportJob"], resources=["*"])
        )

    def _allow_history_writes(self, function: iam.IGrantable, table_arn: str) -> None:
        # Exactly what HistoryStore uses: consistent reads and a transaction of a Put (entry) and an Update (STATE).
        function.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"],
                resources=[table_arn],
            )
        )
