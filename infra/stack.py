"""The tracker's stack: composes storage, the state machine, the upload trigger and job events."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.account_wide import AccountWideSweep
from infra.encryption import TrackerKey
from infra.functions import TrackerFunctions
from infra.job_events import JobEvents
from infra.monitoring import TrackerMonitoring
from infra.notifications import JobNotifications
from infra.settings import TrackerSettings
from infra.storage import TrackerStorage
from infra.trigger import UploadTrigger
from infra.workflow import TrackerWorkflow


class OmicsJobTrackerStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: TrackerSettings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description="Event-driven tracker for AWS HealthOmics jobs", **kwargs)
        self.settings = settings
        self.data_key = TrackerKey(self, "DataKey")  # the tracker's data at rest: table, queues, logs
        functions = TrackerFunctions(self, "Functions", settings=settings)
        self.storage = TrackerStorage(self, "Storage", settings=settings, functions=functions)
        self.workflow = TrackerWorkflow(self, "Workflow", settings=settings, functions=functions, storage=self.storage)
        state_machine = self.workflow.state_machine
        self.job_events = JobEvents(
            self, "JobEvents", settings=settings, functions=functions, storage=self.storage, state_machine=state_machine
        )
        self.sweep = (
            AccountWideSweep(
                self,
                "AccountWide",
                settings=settings,
                functions=functions,
                storage=self.storage,
                state_machine=state_machine,
            )
            if settings.follow_all_jobs
            else None
        )
        self.upload_trigger = UploadTrigger(
            self,
            "UploadTrigger",
            settings=settings,
            functions=functions,
            storage=self.storage,
            state_machine=state_machine,
        )

        self.notifications = JobNotifications(
            self, "Notifications", settings=settings, functions=functions, storage=self.storage
        )
        self.monitoring = TrackerMonitoring(
            self,
            "Monitoring",
            workflow=self.workflow,
            upload_trigger=self.upload_trigger,
            job_events=self.job_events,
            notifications=self.notifications,
            topic=self.notifications.topic,
            settings=settings,
            sweep=self.sweep,
        )
        self._add_outputs()

    def _add_outputs(self) -> None:
        """What a user needs from the deployed stack: where to upload, where to look, what to watch."""
        outputs = {
            "UploadBucketName": (self.storage.uploads.bucket_name, "Upload references here"),
            "UploadPrefix": (self.settings.upload_prefix, "Reference files under this prefix are imported"),
            "HistoryTableName": (self.storage.history.table_name, "The status history of every job"),
            "StateMachineArn": (
                self.workflow.state_machine.state_machine_arn,
                "Start executions here to import or follow",
            ),
            "ReferenceStoreId": (self.storage.reference_store_id, "The reference store imports go to"),
            "UploadDeadLetterQueueUrl": (
                self.upload_trigger.target.dead_letters.queue_url,
                "Upload events EventBridge could not deliver to the trigger",
            ),
            "UploadFailureQueueUrl": (
                self.upload_trigger.target.failures.queue_url,
                "Upload events the trigger failed on after Lambda's retries (invocation records)",
            ),
            "JobEventDeadLetterQueueUrl": (
                self.job_events.target.dead_letters.queue_url,
                "Job status events EventBridge could not deliver",
            ),
            "JobEventFailureQueueUrl": (
                self.job_events.target.failures.queue_url,
                "Job status events the JobEvents function failed on after Lambda's retries",
            ),
            "NotificationFailureQueueUrl": (
                self.notifications.failures.queue_url,
                "Records of history-stream batches whose status changes could not be published",
            ),
            "NotificationTopicArn": (self.notifications.topic.topic_arn, "Jobs that ended, and the tracker's alarms"),
            "DashboardName": (self.monitoring.dashboard.dashboard_name, "The tracker's CloudWatch dashboard"),
        }
        if self.sweep is not None:  # account-wide mode: `omics-tracker failures` reads every *QueueUrl output
            outputs["SweepDeadLetterQueueUrl"] = (
                self.sweep.target.dead_letters.queue_url,
                "Scheduled sweeps EventBridge could not deliver",
            )
            outputs["SweepFailureQueueUrl"] = (
                self.sweep.target.failures.queue_url,
                "Sweeps that failed (invocation records)",
            )
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)
