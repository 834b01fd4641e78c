"""The Standard state machine that starts and follows HealthOmics jobs (one for every job type).

Prepare ─▶ StartOrFollow ─▶ TakeTurn ─▶ Turn? ─▶ WaitForTurn ─▶ (TakeTurn) ─▶ ImportOutcome ─▶ SourcesImported / …
              │              ▲          └─▶ LeadImport ─▶ PollJob ◀──────────────────────────────┐
              │              │                              │                                    │
              │              └── (a queued import ended) ◀─ JobFinished? ─▶ JobCompleted / JobFailed / …
              │                                             │ ▲  │  ├─▶ ContinueAsNew            │
              │                                             │ │  │  └─▶ WaitForSlot (the poll booked its slot)
              │                                             ▼ │  ▼                               │
              └───────────────────────────────────▶ WaitForChangeOrTimeout ─ timed out, or woken to poll
                   (a followed job waits first)        └─ woken by an event: its outcome is the poll's

(StartOrFollow ─▶ FollowedElsewhere: an execution account-wide mode started, for a job another one began to follow.)

A job to follow is marked at Prepare and waited for first: its first status event is recorded then, whatever the
call budget. A reference import request queues in its store (TakeTurn): one import at a time per store, in arrival
order, the requests waiting together in one import (tracker.import_queue). The first request of each import follows
the job for all of them (PollJob); every request ends with the outcome of its own sources.

Each state has a small builder below; the retries of every state are in one table, RETRIES.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.encryption import STATES_LOGS, TrackerKey, log_group_name
from infra.functions import TrackerFunctions, log_retention
from infra.settings import TrackerSettings
from infra.storage import TrackerStorage
from tracker.contract import (
    FATAL_POLL_ERRORS,
    JOB_TYPES,
    REFERENCE_IMPORT,
    RETRYABLE_ERRORS,
    SUCCESS_STATUS,
    TERMINAL_STATUSES,
    BudgetExhausted,
    Env,
    InvalidInput,
    Table,
)
from tracker.steps import PollOutcome, Prepared, Turn, TurnAction
from tracker.task_tokens import POLL_NOW

POLL = "$.poll"  # where PollJob's result (PollOutcome) is kept
START = "$.start"  # Prepare's StartImport, when the execution starts an import
TURN = "$.turn"  # TakeTurn's result (Turn), once the execution has queued an import request


def poll_field(name: str) -> str:
    return PollOutcome.path(POLL, name)


def turn_field(name: str) -> str:
    return Turn.path(TURN, name)


@dataclass(frozen=True)
class Backoff:
    interval_seconds: int
    rate: float
    max_attempts: int
    max_delay_seconds: int

    def apply(self, state: sfn.TaskStateBase, errors: list[str]) -> None:
        state.add_retry(
            errors=errors,
            interval=Duration.seconds(self.interval_seconds),
            backoff_rate=self.rate,
            max_attempts=self.max_attempts,
            max_delay=Duration.seconds(self.max_delay_seconds),
            jitter_strategy=sfn.JitterType.FULL,
        )


QUICK = Backoff(2, 2, 6, 60)  # a service hiccup: seconds to a minute
PATIENT = Backoff(5, 2, 8, 300)  # HealthOmics throttling or an outage seen by the poll
TABLE = Backoff(1, 2, 5, 30)  # DynamoDB throttling
# The tracker's share of a HealthOmics rate limit is taken: wait, jittered, for as long as many jobs need.
BUDGET = Backoff(10, 1.5, 40, 900)
NEVER = Backoff(1, 1, 0, 1)  # caught instead: listed first, so a broader retrier after it does not match

LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.TooManyRequestsException",
    # Both functions are idempotent (the history write is conditional), so a timed-out run is retried.
    "Sandbox.Timedout",
]
ALREADY_STARTED = "StepFunctions.ExecutionAlreadyExistsException"
TABLE_ERRORS = [
    "DynamoDb.ProvisionedThroughputExceededException",
    "DynamoDb.RequestLimitExceededException",
    "DynamoDb.InternalServerErrorException",
    "DynamoDb.ThrottlingException",
    # A transaction on the same item was in flight (the JobEvents function's, or the queue's).
    "DynamoDb.TransactionConflictException",
]

# state name -> (errors, backoff), in the order Step Functions tries them.
RETRIES: dict[str, list[tuple[list[str], Backoff]]] = {
    "Prepare": [(LAMBDA_SERVICE_ERRORS, QUICK)],
    "PollJob": [
        (LAMBDA_SERVICE_ERRORS, QUICK),
        ([BudgetExhausted.__name__], BUDGET),
        ([error.__name__ for error in RETRYABLE_ERRORS], PATIENT),
    ],
    # The queue's steps are conditional and idempotent; HealthOmics failures inside it are waited out, not raised.
    "TakeTurn": [
        (LAMBDA_SERVICE_ERRORS, QUICK),
        ([BudgetExhausted.__name__], BUDGET),
        ([error.__name__ for error in RETRYABLE_ERRORS], PATIENT),
    ],
    "WaitForChangeOrTimeout": [(TABLE_ERRORS, TABLE)],
    "WaitForTurn": [(TABLE_ERRORS, TABLE)],
    "ContinueAsNew": [([ALREADY_STARTED], NEVER), (["States.TaskFailed"], QUICK)],
}
# Terminal statuses other than COMPLETED end the execution in failure, named for the status.
FAILED_ENDINGS = {
    "FAILED": "JobFailed",
    "CANCELLED": "JobCancelled",
    "COMPLETED_WITH_FAILURES": "JobCompletedWithFailures",
    "DELETED": "JobDeleted",  # a workflow run deleted before it ended
}
assert set(FAILED_ENDINGS) == TERMINAL_STATUSES - {SUCCESS_STATUS}


def _with_retries(state: sfn.TaskStateBase) -> sfn.TaskStateBase:
    for errors, backoff in RETRIES.get(state.node.id, []):
        backoff.apply(state, errors)
    return state


class TrackerWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: TrackerSettings,
        functions: TrackerFunctions,
        storage: TrackerStorage,
    ) -> None:
        super().__init__(scope, construct_id)
        self._storage = storage
        self.prepare_function = functions.create(
            self,
            "PrepareFunction",
            handler="tracker.handlers.prepare.handler",
            description="Validate a tracker execution's input",
            environment={
                Env.REFERENCE_STORE_ID: storage.reference_store_id,
                # It marks a job to follow in the history, and sets its first wait by the poll schedule.
                Env.TABLE_NAME: storage.history.table_name,
                **settings.poll_environment(),
            },
            timeout_seconds=10,
        )
        storage.grant_follow_marks(self.prepare_function, account_wide=bool(settings.follow_all_jobs))
        self.poll_function = functions.create(
            self,
            "PollFunction",
            handler="tracker.handlers.poll.handler",
            description="Poll a HealthOmics job and record status changes",
            environment={Env.TABLE_NAME: storage.history.table_name, **settings.poll_environment()},
        )
        storage.grant_history_writes(self.poll_function)
        storage.grant_job_reads(self.poll_function)

        self.queue_function = functions.create(
            self,
            "TakeTurnFunction",
            handler="tracker.handlers.take_turn.handler",
            description="Queue a reference import in its store and start the store's next import when it is free",
            environment={
                Env.TABLE_NAME: storage.history.table_name,
                Env.IMPORT_ROLE_ARN: storage.import_role.role_arn,
                **settings.queue_environment(),
            },
            timeout_seconds=60,
        )
        storage.grant_history_writes(self.queue_function)
        storage.grant_queue_reads(self.queue_function)
        self._grant_imports(self.queue_function)

        state_machine_name = f"{Stack.of(self).stack_name}-JobTracker"
        self.state_machine = self._state_machine(state_machine_name, self._definition(state_machine_name), settings)
        # Wakes the request whose turn it is. By name: the state machine's own ARN would make the function's
        # policy depend on the state machine, which depends on the function.
        sfn.StateMachine.from_state_machine_name(self, "Waker", state_machine_name).grant_task_response(
            self.queue_function
        )

    def _definition(self, state_machine_name: str) -> sfn.IChainable:
        """Every state, linked as the diagram at the top of this module shows."""
        poll = self._poll()
        wait = self._wait(poll)
        take_turn = self._take_turn()
        continue_as_new = self._continue_as_new(state_machine_name)
        finished = self._finished(continue_as_new, wait, self._wait_for_slot(poll), take_turn)
        poll.next(finished)
        wait.next(finished)  # woken by an event that recorded a change: its outcome is the poll's

        take_turn.next(self._turn(take_turn, poll, continue_as_new))
        return self._prepare().next(
            # A job to follow is waited for first: its first event (on the follow marker) or the first poll's time.
            sfn.Choice(self, "StartOrFollow")
            .when(sfn.Condition.is_present(START), take_turn)
            .when(
                sfn.Condition.is_present(Prepared.path("$", "followed_elsewhere")),
                sfn.Succeed(self, "FollowedElsewhere", comment="Another execution follows the job (account-wide mode)"),
            )
            .otherwise(wait)
        )

    def _grant_imports(self, grantee: iam.IGrantable) -> None:
        """Start imports into the store (and pass them the import role), list and read the store's imports (one
        whose leader stopped, one started outside the tracker)."""
        store = self._storage.reference_store_arn
        for statement in (
            iam.PolicyStatement(
                actions=[
                    "omics:StartReferenceImportJob",
                    "omics:ListReferenceImportJobs",
                    JOB_TYPES[REFERENCE_IMPORT].iam_action,
                ],
                resources=[store],
            ),
            # Sources may carry tags: HealthOmics tags the new references, which needs TagResource.
            iam.PolicyStatement(actions=["omics:TagResource"], resources=[f"{store}/reference/*"]),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self._storage.import_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "omics.amazonaws.com"}},
            ),
        ):
            grantee.grant_principal.add_to_principal_policy(statement)

    def _state_machine(self, name: str, definition: sfn.IChainable, settings: TrackerSettings) -> sfn.StateMachine:
        return sfn.StateMachine(
            self,
            "StateMachine",
            comment="Start and follow AWS HealthOmics jobs, recording each status change",
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.days(settings.execution_timeout_days),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(
                    self,
                    "ExecutionLogs",
                    log_group_name=log_group_name(self, STATES_LOGS, "JobTracker"),
                    retention=log_retention(settings.log_retention_days),
                    encryption_key=TrackerKey.of(self).key,
                    removal_policy=RemovalPolicy.DESTROY,
                ),
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )

    def _prepare(self) -> sfn.TaskStateBase:
        prepare = self._invoke(
            "Prepare",
            "Validate the input and derive the request; a bad input fails here and writes nothing",
            self.prepare_function,
            state_as="input",
        )
        # The error replaces the state: an input that is not a JSON object ([1, 2], "text", null) has no field to
        # put it in, and a ResultPath into it would end the execution in States.Runtime instead of InvalidInput.
        prepare.add_catch(self._handler_error_end("InputRejected", error_at="$"), errors=[InvalidInput.__name__])
        return prepare

    def _take_turn(self) -> sfn.TaskStateBase:
        return self._invoke(
            "TakeTurn",
            "Queue the import request in its store (once), start the store's next import if it is free",
            self.queue_function,
            state_as="execution",
            result_path=TURN,
        )

    def _invoke(
        self,
        name: str,
        comment: str,
        function: lambda_.IFunction,
        *,
        state_as: str,
        result_path: str | None = None,
    ) -> sfn.TaskStateBase:
        """A LambdaInvoke of one of the tracker's functions with the execution's state (as `state_as`) and ARN;
        its retries come from RETRIES, Lambda's own service retries are off (RETRIES has them, with jitter)."""
        return _with_retries(
            tasks.LambdaInvoke(
                self,
                name,
                comment=comment,
                lambda_function=function,
                payload=sfn.TaskInput.from_object(
                    {state_as: sfn.JsonPath.object_at("$"), "executionArn": sfn.JsonPath.execution_id}
                ),
                payload_response_only=True,
                retry_on_service_exceptions=False,
                result_path=result_path,
            )
        )

    def _turn(self, take_turn: sfn.IChainable, poll: sfn.IChainable, continue_as_new: sfn.IChainable) -> sfn.Choice:
        """What the request does after its turn: lead its import, wait, hand over, or end with its outcome."""
        action = turn_field("action")
        lead = sfn.Pass(
            self,
            "LeadImport",
            comment="This request leads its import: follow the job for every request in it",
            input_path=turn_field("job"),
            result_path=Prepared.path("$", "job"),
        )
        hand_over = sfn.Pass(
            self,
            "HandOverTurn",
            comment="The request continues, in its place in the queue, in a new execution",
            parameters={f"{PollOutcome.path('$', 'next_input')[2:]}.$": turn_field("next_input")},
            result_path=POLL,
        )
        outcome = f"{TURN}.outcome"
        ended = sfn.Pass(
            self,
            "ImportEnded",
            comment="The request's import ended (or was refused): the execution's output names the shared job",
            input_path=turn_field("job"),
            result_path=Prepared.path("$", "job"),
        )
        ended_how = (
            sfn.Choice(self, "ImportOutcome")
            .when(
                sfn.Condition.is_present(f"{outcome}.supersededBy"),
                sfn.Succeed(
                    self,
                    "SourcesSuperseded",
                    comment="The same files were requested again (uploaded again) before this request's import "
                    "started: the later request imports their latest content, once",
                ),
            )
            .when(
                sfn.Condition.boolean_equals(f"{outcome}.succeeded", True),
                sfn.Succeed(self, "SourcesImported", comment="Every source of this request was imported"),
            )
            .otherwise(
                sfn.Fail(
                    self,
                    "SourcesNotImported",
                    comment="The import ended without this request's sources (Job.<status> or Source.FAILED)",
                    error_path=f"{outcome}.error",
                    cause_path=f"{outcome}.cause",
                )
            )
        )
        return (
            sfn.Choice(self, "Turn?")
            .when(sfn.Condition.string_equals(action, TurnAction.FOLLOW.value), lead.next(poll))
            .when(sfn.Condition.string_equals(action, TurnAction.WAIT.value), self._wait_for_turn(take_turn))
            .when(sfn.Condition.string_equals(action, TurnAction.HANDOVER.value), hand_over.next(continue_as_new))
            .when(sfn.Condition.string_equals(action, TurnAction.DONE.value), ended.next(ended_how))
            .otherwise(sfn.Fail(self, "UnknownTurn", error="Queue.UNKNOWN_ACTION", cause_path=action))
        )

    def _wait_for_turn(self, take_turn: sfn.IChainable) -> sfn.IChainable:
        """Park on the request's queue entry until the queue wakes it (its import started or ended) or the
        wait runs out. The condition closes the race with a change made since TakeTurn read the entry."""
        return self._park(
            "WaitForTurn",
            "Park until the store's queue moves for this request, or waitSeconds run out",
            wait_seconds=turn_field("wait_seconds"),
            key=(turn_field("entry_pk"), sfn.JsonPath.string_at(turn_field("entry_sk"))),
            condition=f"{Table.TURN_VERSION} = :version",
            values={":version": {"N": sfn.JsonPath.format("{}", sfn.JsonPath.string_at(turn_field("turn_version")))}},
            then=take_turn,
        ).next(take_turn)

    def _park(
        self,
        name: str,
        comment: str,
        wait_seconds: str,
        key: tuple[str, str],
        condition: str,
        values: dict[str, Any],
        then: sfn.IChainable,
        kept: dict[str, Any] | None = None,
        result_path: str = "$.wake",
    ) -> sfn.TaskStateBase:
        """Write the execution's task token (and `kept`: attribute -> value) where its waker finds it and wait for
        the wake, at most `wait_seconds` (a path); the wake's output goes to `result_path`. The write is
        conditional: if what the execution last read has changed since, the condition fails. Timed out, failed,
        or (a wait that keeps the poll count) woken with POLL_NOW, the execution goes on to `then` at once."""
        partition, sort = key
        kept = kept or {}
        assignments = ", ".join([f"{Table.WAIT_TOKEN} = :token", *(f"{name} = :{name}" for name in kept)])
        park = _with_retries(
            tasks.CallAwsService(
                self,
                name,
                comment=comment,
                service="dynamodb",
                action="updateItem",
                iam_action="dynamodb:UpdateItem",
                iam_resources=[self._storage.history.table_arn],
                integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
                task_timeout=sfn.Timeout.at(wait_seconds),
                parameters={
                    "TableName": self._storage.history.table_name,
                    "Key": {Table.PK: {"S": sfn.JsonPath.string_at(partition)}, Table.SK: {"S": sort}},
                    "UpdateExpression": f"SET {assignments}",
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": {
                        ":token": {"S": sfn.JsonPath.task_token},
                        **{f":{name}": value for name, value in kept.items()},
                        **values,
                    },
                },
                result_path=result_path,
            )
        )
        park.add_catch(
            then,
            errors=["States.Timeout", "DynamoDb.ConditionalCheckFailedException", *([POLL_NOW] if kept else [])],
            result_path="$.wake",
        )
        return park

    def _poll(self) -> sfn.TaskStateBase:
        poll = _with_retries(
            tasks.LambdaInvoke(
                self,
                "PollJob",
                comment="Get the job's status, record any change, decide the next wait",
                lambda_function=self.poll_function,
                payload=sfn.TaskInput.from_object(
                    {
                        "job": sfn.JsonPath.object_at(Prepared.path("$", "job")),
                        "poll": sfn.JsonPath.object_at(POLL),
                        "executionArn": sfn.JsonPath.execution_id,
                    }
                ),
                payload_response_only=True,
                retry_on_service_exceptions=False,
                result_path=POLL,
            )
        )
        poll.add_catch(
            self._handler_error_end("TrackingFailed"),
            errors=[error.__name__ for error in FATAL_POLL_ERRORS],
            result_path="$.error",
        )
        return poll

    def _wait(self, poll: sfn.TaskStateBase) -> sfn.TaskStateBase:
        """Wait for an event or the next poll, whichever comes first.

        The task token is kept with the job's STATE item, where the JobEvents function finds it when a
        status event is recorded, with the poll count: the function wakes the execution with the outcome a
        poll would have returned (``$.poll``), so no poll follows. The condition closes the race with an
        event recorded between the poll and this write: then the history has moved on, the write fails, and
        the job is polled at once (as it is when the backoff runs out, or when the event's read failed).
        """
        return self._park(
            "WaitForChangeOrTimeout",
            "Park until a job event wakes the execution or the backoff (TimeoutSecondsPath) runs out",
            wait_seconds=poll_field("wait_seconds"),
            key=(poll_field("job_key"), Table.STATE_SK),
            condition=f"{Table.VERSION} = :version AND {Table.TERMINAL} = :running",
            values={
                ":version": {"N": sfn.JsonPath.format("{}", sfn.JsonPath.string_at(poll_field("history_version")))},
                ":running": {"BOOL": False},
            },
            then=poll,
            kept={Table.WAIT_ATTEMPT: {"N": sfn.JsonPath.format("{}", sfn.JsonPath.string_at(poll_field("attempt")))}},
            result_path=POLL,
        )

    def _continue_as_new(self, state_machine_name: str) -> sfn.IChainable:
        """Hand a long job to a fresh execution before this one nears the history-event limit. The name is
        derived from this execution, so a retried start finds the execution it already started."""
        handed_over = sfn.Succeed(self, "HandedOver", comment="A new execution follows the job from here")
        start = tasks.StepFunctionsStartExecution(
            self,
            "ContinueAsNew",
            comment="Start a new execution that follows the same job (its history continues in the table)",
            state_machine=sfn.StateMachine.from_state_machine_name(self, "Itself", state_machine_name),
            name=sfn.JsonPath.format("handover-{}", sfn.JsonPath.hash(sfn.JsonPath.execution_id, "MD5")),
            input=sfn.TaskInput.from_json_path_at(poll_field("next_input")),
            integration_pattern=sfn.IntegrationPattern.REQUEST_RESPONSE,
            result_selector={"executionArn": sfn.JsonPath.string_at("$.ExecutionArn")},
            result_path="$.handedOverTo",
        )
        _with_retries(start)
        # Already started (a retry after the start went through): the hand-over is done.
        start.add_catch(handed_over, errors=[ALREADY_STARTED], result_path="$.handoverError")
        return start.next(handed_over)

    def _wait_for_slot(self, poll: sfn.IChainable) -> sfn.IChainable:
        """The poll booked its slot in the call budget instead of calling (many jobs share the budget): wait
        until just before the slot, then poll with it. No retry, no second write for the same call."""
        return sfn.Wait(
            self,
            "WaitForSlot",
            comment="Wait for the HealthOmics call slot the poll booked (waitSeconds), then poll with it",
            time=sfn.WaitTime.seconds_path(poll_field("wait_seconds")),
        ).next(poll)

    def _finished(
        self,
        continue_as_new: sfn.IChainable,
        wait: sfn.IChainable,
        wait_for_slot: sfn.IChainable,
        take_turn: sfn.IChainable,
    ) -> sfn.Choice:
        finished = (
            sfn.Choice(self, "JobFinished?")
            .when(sfn.Condition.is_present(poll_field("booked_slot")), wait_for_slot)
            # A queued request's import ended (or the execution must hand over): the queue settles it.
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present(TURN),
                    sfn.Condition.or_(
                        sfn.Condition.boolean_equals(poll_field("terminal"), True),
                        sfn.Condition.boolean_equals(poll_field("continue_as_new"), True),
                    ),
                ),
                take_turn,
            )
            .when(sfn.Condition.boolean_equals(poll_field("continue_as_new"), True), continue_as_new)
            .when(sfn.Condition.boolean_equals(poll_field("terminal"), False), wait)
            .when(sfn.Condition.boolean_equals(poll_field("succeeded"), True), sfn.Succeed(self, "JobCompleted"))
        )
        for status, state_name in FAILED_ENDINGS.items():
            finished.when(
                sfn.Condition.string_equals(poll_field("status"), status),
                sfn.Fail(self, state_name, error=f"Job.{status}", cause_path=poll_field("status_message")),
            )
        return finished.otherwise(
            sfn.Fail(self, "UnknownTerminalStatus", error="Job.UNKNOWN_STATUS", cause_path=poll_field("status_message"))
        )

    def _handler_error_end(self, name: str, error_at: str = "$.error") -> sfn.IChainable:
        """Fail with the handler's error name and its plain message as cause (not Lambda's JSON envelope)."""
        describe = sfn.Pass(
            self,
            f"Describe{name}",
            parameters={
                "Error": sfn.JsonPath.string_at(f"{error_at}.Error"),
                "Cause": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at(f"{error_at}.Cause")),
            },
            result_path="$.failure",
        )
        return describe.next(
            sfn.Fail(self, name, error_path="$.failure.Error", cause_path="$.failure.Cause.errorMessage")
        )
