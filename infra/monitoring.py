"""The tracker's CloudWatch alarms, each sent to the notification topic, and its dashboard.

Alarms (5-minute periods, missing data is not breaching, ALARM and OK both notify the topic):

- every dead-letter / on-failure queue: any message (``infra/event_rules.py`` and ``infra/notifications.py`` create
  them; this construct gives them their actions);
- the state machine: ExecutionsFailed, ExecutionsTimedOut, ExecutionsAborted >= 1;
- each tracker function: Lambda Errors >= 1 (for Poll, besides its throttled or deferred HealthOmics reads, which
  the state machine retries and the next alarm counts) and Throttles >= 1;
- HealthOmics reads throttled: OmicsThrottled, all operations, > ``omicsThrottleAlarmThreshold``;
- jobs stalled: JobsStalled, all job types and statuses, >= 1 (each stalled job also has its own message).

The handlers' metrics, namespace ``OmicsJobTracker``; Powertools adds ``service`` = ``omics-job-tracker`` to each:

==========================  ==========================  ==========================================================
Metric (unit)               Dimensions besides service  Emitted by
==========================  ==========================  ==========================================================
JobPolls (Count)            JobType                     Poll, once per successful poll
Jobs<Status> (Count)        JobType                     Poll, when it sees the job end (JobsCompleted, …)
OmicsThrottled (Count)      Operation; and none         Poll, JobEvents, TakeTurn: a HealthOmics call was throttled
                                                        (twice: by Operation, and the total the alarms read)
                                                        (Operation: GetReferenceImportJob, …)
OmicsCallsDeferred (Count)  Operation; and none         Poll, JobEvents: the tracker's call budget had no slot soon
                                                        enough (BudgetExhausted; retried later, nothing was called)
Uploads<Result> (Count)     (none)                      Trigger: Started, AlreadyStarted, Ignored
JobEvents<Result> (Count)   (none)                      JobEvents: Recorded, Unchanged, Untracked, Ignored
StatusChanges (Count)       JobType, ObservedBy         Notify, once per recorded change (poll, event, start)
JobsEnded (Count)           JobType, Status             Notify, once per job's terminal change
DetectionDelay (Seconds)    JobType, ObservedBy         Notify: from the job's completion time to recorded
JobsStalled (Count)         JobType, Status; and none   Notify, once per job and status it stalled in (twice:
                                                        by type and status, and the total the alarm reads)
==========================  ==========================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.account_wide import AccountWideSweep
from infra.job_events import JobEvents
from infra.notifications import JobNotifications
from infra.settings import TrackerSettings
from infra.trigger import UploadTrigger
from infra.workflow import TrackerWorkflow
from tracker.contract import (
    JOB_TYPES,
    METRICS_NAMESPACE,
    OMICS_RATE_LIMITS,
    SERVICE_NAME,
    TERMINAL_STATUSES,
    ObservedBy,
)

PERIOD = Duration.minutes(5)  # of every alarm and every graph
THROTTLED_METRIC = "OmicsThrottled"  # tracker.omics_jobs.THROTTLED_METRIC
DEFERRED_METRIC = "OmicsCallsDeferred"  # tracker.omics_jobs.DEFERRED_METRIC
OPERATIONS = tuple(OMICS_RATE_LIMITS)  # the HealthOmics operations the functions call
READS = tuple(spec.get_operation for spec in JOB_TYPES.values())  # the ones a poll makes
UPLOAD_RESULTS = ("Started", "AlreadyStarted", "Ignored")  # Uploads<Result>: tracker.trigger.UploadResult
EVENT_RESULTS = (
    "Recorded",
    "Followed",
    "Unchanged",
    "Untracked",
    "Ignored",
)  # JobEvents<Result>: tracker.job_events.EventResult
DELAY_STATISTICS = ("p50", "p99", "Maximum")
README = "docs/operating.md#alarms-and-dashboard"

# The alarm's description is the message's text: what happened and what to do.
EXECUTION_ALARMS = {
    "ExecutionsFailed": (
        "Tracker executions failed: a job ended FAILED, CANCELLED or COMPLETED_WITH_FAILURES, or it could not be "
        "started or followed. `omics-tracker failures` lists each execution with its cause"
    ),
    "ExecutionsTimedOut": (
        "Tracker executions reached executionTimeoutDays before their job ended: those jobs are no longer followed. "
        "`omics-tracker failures` lists them; `omics-tracker follow` follows a job again"
    ),
    "ExecutionsAborted": (
        "Tracker executions were stopped (StopExecution): their jobs are no longer followed. If that was not meant, "
        "`omics-tracker follow` follows a job again"
    ),
}
FUNCTION_ALARMS = {
    "Errors": (
        "{name} function: invocations failed. Its log group has each error; a failed event ends in a failure queue "
        "(`omics-tracker failures`), a failed poll is retried by its execution or fails it"
    ),
    "Throttles": (
        "{name} function: invocations throttled by Lambda (the account's concurrency is used up). They are retried, "
        "but tracking is delayed; look for a function that runs away, or raise the account's concurrency quota"
    ),
}
STALLED_ALARM = (
    "A HealthOmics job stayed in a status longer than its limit (stalledAfterSeconds). Each stalled job has its own "
    'message and "Job Stalled" event; `omics-tracker jobs --stalled` lists the jobs still stalled'
)
THROTTLE_ALARM = (
    "HealthOmics throttled more than {threshold} Get*Job calls of the tracker's functions in 5 minutes. Throttled "
    "polls are retried with backoff and a throttled event is recorded without item statuses, but changes are recorded "
    "late: poll less often (pollFirstWaitSeconds, pollMaxWaitSeconds), look for other callers of the same APIs in the "
    "account, or ask for a higher HealthOmics rate quota"
)


@dataclass(frozen=True)
class AlarmSpec:
    construct_id: str
    metric: cloudwatch.IMetric
    description: str
    threshold: float = 1
    comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


def tracker_metric(
    name: str, *, label: str | None = None, statistic: str = "Sum", **dimensions: str
) -> cloudwatch.Metric:
    """One of the handlers' metrics, with exactly the dimensions it is emitted with (CloudWatch matches them all)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={**dimensions, "service": SERVICE_NAME},
        statistic=statistic,
        period=PERIOD,
        label=label,
    )


def total(label: str, metrics: Sequence[cloudwatch.IMetric], prefix: str) -> cloudwatch.MathExpression:
    """The sum of ``metrics``; a series without a point in a period counts 0 there (sparse metrics would otherwise
    leave the sum without a point whenever one of them has none)."""
    using = {f"{prefix}{index}": metric for index, metric in enumerate(metrics)}
    return cloudwatch.MathExpression(
        expression=" + ".join(f"FILL({metric_id}, 0)" for metric_id in using),
        using_metrics=using,
        label=label,
        period=PERIOD,
    )


class TrackerMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workflow: TrackerWorkflow,
        upload_trigger: UploadTrigger,
        job_events: JobEvents,
        notifications: JobNotifications,
        topic: sns.ITopic,
        settings: TrackerSettings,
        sweep: AccountWideSweep | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._topic = topic
        self._state_machine = workflow.state_machine
        # The tracker's own functions; the reference store's custom resource runs at deployment only, and its
        # failure fails the deployment, where it is seen.
        self.functions: dict[str, lambda_.Function] = {
            "Prepare": workflow.prepare_function,
            "Poll": workflow.poll_function,
            "TakeTurn": workflow.queue_function,
            "Trigger": upload_trigger.function,
            "JobEvents": job_events.function,
            "Notify": notifications.function,
        }
        self.failure_queues: dict[str, sqs.IQueue] = {
            "Upload dead letters": upload_trigger.target.dead_letters,
            "Upload failures": upload_trigger.target.failures,
            "Job event dead letters": job_events.target.dead_letters,
            "Job event failures": job_events.target.failures,
            "Notification failures": notifications.failures,
        }
        targets = [upload_trigger.target, job_events.target]
        if sweep is not None:  # account-wide mode
            self.functions["Sweep"] = sweep.function
            self.failure_queues |= {
                "Sweep dead letters": sweep.target.dead_letters,
                "Sweep failures": sweep.target.failures,
            }
            targets.append(sweep.target)
        # The totals the functions emit besides the series by Operation: an alarm reads at most 10 metrics.
        self.throttled = tracker_metric(THROTTLED_METRIC, label="HealthOmics calls throttled")
        self.deferred = tracker_metric(DEFERRED_METRIC, label="HealthOmics reads deferred by the call budget")
        self._allow_alarms_to_publish()
        specs = [*self._execution_alarms(), *self._function_alarms(), *self._job_alarms(settings)]
        self.queue_alarms = (*(alarm for target in targets for alarm in target.alarms), *notifications.alarms)
        self.alarms: tuple[cloudwatch.Alarm, ...] = (*self.queue_alarms, *(self._alarm(spec) for spec in specs))
        for alarm in self.queue_alarms:
            self._notify(alarm)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{Stack.of(self).stack_name}-Jobs",
            default_interval=Duration.days(1),
            widgets=self._widgets(settings),
        )

    # --- alarms ---------------------------------------------------------------------------------------------

    def _execution_alarms(self) -> Iterable[AlarmSpec]:
        for name, description in EXECUTION_ALARMS.items():
            yield AlarmSpec(name, self._state_machine.metric(name, period=PERIOD, statistic="Sum"), description)

    def _function_alarms(self) -> Iterable[AlarmSpec]:
        for label, function in self.functions.items():
            for name, description in FUNCTION_ALARMS.items():
                metric: cloudwatch.IMetric = function.metric(name, period=PERIOD, statistic="Sum")
                if name == "Errors" and function is self.functions["Poll"]:
                    metric = self._without_throttled_reads(metric)
                yield AlarmSpec(f"{label}{name}", metric, description.format(name=label))

    def _without_throttled_reads(self, errors: cloudwatch.IMetric) -> cloudwatch.MathExpression:
        # A throttled HealthOmics read fails the Poll invocation on purpose (ServiceThrottled, which the state
        # machine retries with backoff); the throttle alarm watches those above its threshold. So does a read the
        # call budget deferred (BudgetExhausted, retried later). JobEvents records its event without the read
        # instead of failing, so its throttles and deferrals (rare) may hide as many Poll errors.
        return cloudwatch.MathExpression(
            expression="FILL(errors, 0) - FILL(throttled, 0) - FILL(deferred, 0)",
            using_metrics={"errors": errors, "throttled": self.throttled, "deferred": self.deferred},
            label="Poll errors besides throttled or deferred HealthOmics reads",
            period=PERIOD,
        )

    def _job_alarms(self, settings: TrackerSettings) -> Iterable[AlarmSpec]:
        threshold = settings.omics_throttle_alarm_threshold
        yield AlarmSpec(
            "OmicsThrottled",
            tracker_metric(THROTTLED_METRIC),
            THROTTLE_ALARM.format(threshold=threshold),
            threshold=threshold,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        # Alarms read at most 10 metrics: the total the Notify function emits besides the series by type and status.
        yield AlarmSpec("JobsStalled", tracker_metric("JobsStalled"), STALLED_ALARM)

    def _alarm(self, spec: AlarmSpec) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            spec.construct_id,
            alarm_description=f"{spec.description} ({README})",
            metric=spec.metric,
            threshold=spec.threshold,
            comparison_operator=spec.comparison,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self._notify(alarm)
        return alarm

    def _notify(self, alarm: cloudwatch.Alarm) -> None:
        action = actions.SnsAction(self._topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)  # so that whoever was paged also hears it is over

    def _allow_alarms_to_publish(self) -> None:
        # The topic's policy (TLS only) replaces SNS's default one; CloudWatch publishes as its service principal,
        # for this account's alarms only. The topic's key already lets it encrypt (TrackerKey).
        self._topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self._topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
                    },
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )

    # --- dashboard ------------------------------------------------------------------------------------------

    def _widgets(self, settings: TrackerSettings) -> list[list[cloudwatch.IWidget]]:
        """Rows of the dashboard, top to bottom."""
        return [
            [cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24, height=4)],
            [self._jobs_ended(), self._changes_recorded()],
            [self._jobs_stalled()],
            # (an import's start answer is never its end: no delay by start)
            [self._detection_delay(observed_by) for observed_by in (ObservedBy.POLL, ObservedBy.EVENT)],
            [self._polls_and_throttles(settings), self._function_health()],
            [self._executions(), self._uploads_and_events(), self._queues()],
        ]

    def _jobs_ended(self) -> cloudwatch.GraphWidget:
        return graph(
            "Jobs ended, by type and status",
            [
                tracker_metric("JobsEnded", label=f"{job_type} {status}", JobType=job_type, Status=status)
                for job_type, spec in JOB_TYPES.items()
                for status in sorted(TERMINAL_STATUSES & spec.statuses)
            ],
            stacked=True,
        )

    def _jobs_stalled(self) -> cloudwatch.GraphWidget:
        return graph(
            "Jobs stalled, by type and status (stalledAfterSeconds)",
            [
                tracker_metric("JobsStalled", label=f"{job_type} {status}", JobType=job_type, Status=status)
                for job_type, status in stallable_statuses()
            ],
            stacked=True,
            width=24,
        )

    def _changes_recorded(self) -> cloudwatch.GraphWidget:
        return graph(
            "Status changes recorded, by poll and by event",
            [
                total(
                    f"by {observed_by}",
                    [
                        tracker_metric("StatusChanges", JobType=job_type, ObservedBy=observed_by)
                        for job_type in JOB_TYPES
                    ],
                    f"{observed_by}",
                )
                for observed_by in ObservedBy
            ],
        )

    def _detection_delay(self, observed_by: ObservedBy) -> cloudwatch.GraphWidget:
        return graph(
            f"Time from a job's end to recorded by {observed_by} (seconds)",
            [
                tracker_metric(
                    "DetectionDelay",
                    label=f"{job_type} {statistic}",
                    statistic=statistic,
                    JobType=job_type,
                    ObservedBy=observed_by,
                )
                for job_type in JOB_TYPES
                for statistic in DELAY_STATISTICS
            ],
        )

    def _polls_and_throttles(self, settings: TrackerSettings) -> cloudwatch.GraphWidget:
        return graph(
            "HealthOmics polls and throttled calls",
            [tracker_metric("JobPolls", label=f"{job_type} polls", JobType=job_type) for job_type in JOB_TYPES],
            right=[
                *(tracker_metric(THROTTLED_METRIC, label=f"{op} throttled", Operation=op) for op in OPERATIONS),
                self.throttled,
            ],
            right_annotations=[
                cloudwatch.HorizontalAnnotation(
                    value=settings.omics_throttle_alarm_threshold, label="omicsThrottleAlarmThreshold"
                )
            ],
        )

    def _function_health(self) -> cloudwatch.GraphWidget:
        return graph(
            "Lambda errors and throttles",
            [
                function.metric(name, period=PERIOD, statistic="Sum", label=f"{label} {name.lower()}")
                for label, function in self.functions.items()
                for name in FUNCTION_ALARMS
            ],
        )

    def _executions(self) -> cloudwatch.GraphWidget:
        names = ("ExecutionsStarted", "ExecutionsSucceeded", *EXECUTION_ALARMS)
        return graph(
            "Executions",
            [self._state_machine.metric(name, period=PERIOD, statistic="Sum", label=name) for name in names],
            width=8,
        )

    def _uploads_and_events(self) -> cloudwatch.GraphWidget:
        return graph(
            "Uploads and HealthOmics events",
            [
                *(tracker_metric(f"Uploads{result}", label=f"uploads {result}") for result in UPLOAD_RESULTS),
                *(tracker_metric(f"JobEvents{result}", label=f"events {result}") for result in EVENT_RESULTS),
            ],
            width=8,
        )

    def _queues(self) -> cloudwatch.GraphWidget:
        return graph(
            "Messages waiting in the failure queues",
            [
                queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label=label
                )
                for label, queue in self.failure_queues.items()
            ],
            width=8,
        )


def stallable_statuses() -> list[tuple[str, str]]:
    """Every job type's non-terminal statuses: the JobsStalled series there can be."""
    return [(name, status) for name, spec in JOB_TYPES.items() for status in sorted(spec.open_statuses)]


def graph(
    title: str,
    left: Sequence[cloudwatch.IMetric],
    *,
    right: Sequence[cloudwatch.IMetric] = (),
    right_annotations: Sequence[cloudwatch.HorizontalAnnotation] = (),
    stacked: bool = False,
    width: int = 12,
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title,
        left=list(left),
        right=list(right),
        right_annotations=list(right_annotations),
        stacked=stacked,
        width=width,
        height=6,
        period=PERIOD,
    )
