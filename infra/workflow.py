"""The Standard state machine that starts and follows HealthOmics jobs (one for every job type).

Prepare ─▶ StartOrFollow ─▶ StartReferenceImport ─┐
                 └─────────────────────────────────┴▶ PollJob ─▶ JobFinished? ─▶ WaitForChangeOrTimeout ─┐
                                                        ▲                    ├▶ JobCompleted          │
                                                        └────────────────────┼─ JobFailed / …         │
                                                         (event wakes it, or └────────────────────────┘
                                                          the backoff times out)
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.functions import log_retention
from infra.settings import TrackerSettings

# Errors raised on purpose by the handlers (lambdas/tracker/errors.py); the names are the contract.
RETRYABLE_POLL_ERRORS = ["ServiceThrottled", "ServiceUnavailable"]
FATAL_POLL_ERRORS = ["JobNotFound", "AccessDenied", "RequestRejected"]
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.TooManyRequestsException",
    # Both functions are idempotent (the history write is conditional), so a timed-out run is retried.
    "Sandbox.Timedout",
]
# StartReferenceImportJob: transient errors, and the store taking one import at a time.
START_TRANSIENT_ERRORS = ["Omics.ThrottlingException", "Omics.InternalServerException", "Omics.RequestTimeoutException"]
STORE_BUSY_ERRORS = ["Omics.ServiceQuotaExceededException"]
START_REJECTED_ERRORS = ["Omics.ValidationException", "Omics.ResourceNotFoundException", "Omics.AccessDeniedException"]
WAIT_TRANSIENT_ERRORS = [
    "DynamoDb.ProvisionedThroughputExceededException",
    "DynamoDb.RequestLimitExceededException",
    "DynamoDb.InternalServerErrorException",
    "DynamoDb.ThrottlingException",
]
# Terminal statuses other than COMPLETED end the execution in failure, named for the status.
FAILED_ENDINGS = {
    "FAILED": "JobFailed",
    "CANCELLED": "JobCancelled",
    "COMPLETED_WITH_FAILURES": "JobCompletedWithFailures",
}


class TrackerWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: TrackerSettings,
        prepare_function: lambda_.IFunction,
        poll_function: lambda_.IFunction,
        reference_store_arn: str,
        import_role: iam.IRole,
        history_table_name: str,
        history_table_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)

        prepare = tasks.LambdaInvoke(
            self,
            "Prepare",
            comment="Validate the input and derive the request; a bad input fails here and writes nothing",
            lambda_function=prepare_function,
            payload=sfn.TaskInput.from_object(
                {"input": sfn.JsonPath.object_at("$"), "executionArn": sfn.JsonPath.execution_id}
            ),
            payload_response_only=True,
            retry_on_service_exceptions=False,
        )
        _retry_lambda_service_errors(prepare)
        prepare.add_catch(_lambda_error_end(self, "InputRejected"), errors=["InvalidInput"], result_path="$.error")

        start = tasks.CallAwsService(
            self,
            "StartReferenceImport",
            comment="StartReferenceImportJob; the client token makes a repeated request return the same job",
            service="omics",
            action="startReferenceImportJob",
            iam_action="omics:StartReferenceImportJob",
            iam_resources=[reference_store_arn],
            parameters={
                "ReferenceStoreId": sfn.JsonPath.string_at("$.start.ReferenceStoreId"),
                "RoleArn": import_role.role_arn,
                "ClientToken": sfn.JsonPath.string_at("$.start.ClientToken"),
                "Sources": sfn.JsonPath.list_at("$.start.Sources"),
            },
            result_selector={
                "jobType": "REFERENCE_IMPORT",
                "referenceStoreId": sfn.JsonPath.string_at("$.ReferenceStoreId"),
                "jobId": sfn.JsonPath.string_at("$.Id"),
            },
            result_path="$.job",
        )
        start.add_retry(
            errors=START_TRANSIENT_ERRORS,
            interval=Duration.seconds(2),
            backoff_rate=2,
            max_attempts=6,
            max_delay=Duration.seconds(60),
            jitter_strategy=sfn.JitterType.FULL,
        )
        start.add_retry(
            errors=STORE_BUSY_ERRORS,
            interval=Duration.seconds(60),
            backoff_rate=1.5,
            max_attempts=40,
            max_delay=Duration.minutes(15),
            jitter_strategy=sfn.JitterType.FULL,
        )
        start.add_catch(
            sfn.Fail(
                self,
                "StartRejected",
                comment="HealthOmics refused the import request",
                error_path="$.error.Error",
                cause_path="$.error.Cause",
            ),
            errors=START_REJECTED_ERRORS,
            result_path="$.error",
        )

        poll = tasks.LambdaInvoke(
            self,
            "PollJob",
            comment="Get the job's status, record any change, decide the next wait",
            lambda_function=poll_function,
            payload=sfn.TaskInput.from_object(
                {
                    "job": sfn.JsonPath.object_at("$.job"),
                    "poll": sfn.JsonPath.object_at("$.poll"),
                    "executionArn": sfn.JsonPath.execution_id,
                }
            ),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path="$.poll",
        )
        _retry_lambda_service_errors(poll)
        poll.add_retry(
            errors=RETRYABLE_POLL_ERRORS,
            interval=Duration.seconds(5),
            backoff_rate=2,
            max_attempts=8,
            max_delay=Duration.seconds(300),
            jitter_strategy=sfn.JitterType.FULL,
        )
        poll.add_catch(_lambda_error_end(self, "TrackingFailed"), errors=FATAL_POLL_ERRORS, result_path="$.error")

        # Wait for an event or the next poll, whichever comes first: the task token is kept with the
        # job's STATE item, where the JobEvent function finds it when a status event is recorded.
        # The condition closes the race with an event recorded between the poll and this write:
        # then the history has moved on, the write fails, and the job is polled at once.
        wait = tasks.CallAwsService(
            self,
            "WaitForChangeOrTimeout",
            comment="Park until a job event wakes the execution or the backoff (TimeoutSecondsPath) runs out",
            service="dynamodb",
            action="updateItem",
            iam_action="dynamodb:UpdateItem",
            iam_resources=[history_table_arn],
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            task_timeout=sfn.Timeout.at("$.poll.waitSeconds"),
            parameters={
                "TableName": history_table_name,
                "Key": {"pk": {"S": sfn.JsonPath.string_at("$.poll.jobKey")}, "sk": {"S": "STATE"}},
                "UpdateExpression": "SET waitToken = :token",
                "ConditionExpression": "version = :version AND terminal = :running",
                "ExpressionAttributeValues": {
                    ":token": {"S": sfn.JsonPath.task_token},
                    ":version": {"N": sfn.JsonPath.format("{}", sfn.JsonPath.string_at("$.poll.historyVersion"))},
                    ":running": {"BOOL": False},
                },
            },
            result_path="$.wake",
        )
        wait.add_retry(
            errors=WAIT_TRANSIENT_ERRORS,
            interval=Duration.seconds(1),
            backoff_rate=2,
            max_attempts=5,
            max_delay=Duration.seconds(30),
            jitter_strategy=sfn.JitterType.FULL,
        )
        # Timed out: the backoff ran out; condition failed: the history moved since the poll. Poll now.
        wait.add_catch(
            poll, errors=["States.Timeout", "DynamoDb.ConditionalCheckFailedException"], result_path="$.wake"
        )
        # Hand a long job to a fresh execution before this one nears the history-event limit. The name
        # is derived from this execution, so a retried start finds the execution it already started.
        state_machine_name = f"{Stack.of(self).stack_name}-JobTracker"
        continue_as_new = tasks.StepFunctionsStartExecution(
            self,
            "ContinueAsNew",
            comment="Start a new execution that follows the same job (its history continues in the table)",
            state_machine=sfn.StateMachine.from_state_machine_name(self, "Itself", state_machine_name),
            name=sfn.JsonPath.format("handover-{}", sfn.JsonPath.hash(sfn.JsonPath.execution_id, "MD5")),
            input=sfn.TaskInput.from_json_path_at("$.poll.nextInput"),
            integration_pattern=sfn.IntegrationPattern.REQUEST_RESPONSE,
            result_selector={"executionArn": sfn.JsonPath.string_at("$.ExecutionArn")},
            result_path="$.handedOverTo",
        )
        handed_over = sfn.Succeed(self, "HandedOver", comment="A new execution follows the job from here")
        continue_as_new.add_retry(errors=["StepFunctions.ExecutionAlreadyExistsException"], max_attempts=0)
        continue_as_new.add_retry(
            errors=["States.TaskFailed"],
            interval=Duration.seconds(2),
            backoff_rate=2,
            max_attempts=6,
            max_delay=Duration.seconds(60),
            jitter_strategy=sfn.JitterType.FULL,
        )
        # Already started (a retry after the start went through): the hand-over is done.
        continue_as_new.add_catch(
            handed_over, errors=["StepFunctions.ExecutionAlreadyExistsException"], result_path="$.handoverError"
        )
        finished = (
            sfn.Choice(self, "JobFinished?")
            .when(sfn.Condition.boolean_equals("$.poll.continueAsNew", True), continue_as_new.next(handed_over))
            .when(sfn.Condition.boolean_equals("$.poll.terminal", False), wait.next(poll))
            .when(sfn.Condition.boolean_equals("$.poll.succeeded", True), sfn.Succeed(self, "JobCompleted"))
        )
        for status, state_name in FAILED_ENDINGS.items():
            finished.when(
                sfn.Condition.string_equals("$.poll.status", status),
                sfn.Fail(self, state_name, error=f"Job.{status}", cause_path="$.poll.statusMessage"),
            )
        finished.otherwise(
            sfn.Fail(self, "UnknownTerminalStatus", error="Job.UNKNOWN_STATUS", cause_path="$.poll.statusMessage")
        )

        definition = prepare.next(
            sfn.Choice(self, "StartOrFollow")
            .when(sfn.Condition.is_present("$.start"), start.next(poll))
            .otherwise(poll)
        )
        poll.next(finished)

        log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            retention=log_retention(settings.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment="Start and follow AWS HealthOmics jobs, recording each status change",
            state_machine_name=state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.days(settings.execution_timeout_days),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[import_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "omics.amazonaws.com"}},
            )
        )


def _retry_lambda_service_errors(task: tasks.LambdaInvoke) -> None:
    task.add_retry(
        errors=LAMBDA_SERVICE_ERRORS,
        interval=Duration.seconds(2),
        backoff_rate=2,
        max_attempts=6,
        max_delay=Duration.seconds(60),
        jitter_strategy=sfn.JitterType.FULL,
    )


def _lambda_error_end(scope: Construct, name: str) -> sfn.IChainable:
    """Fail with the handler's error name and its plain message as cause (not Lambda's JSON envelope)."""
    describe = sfn.Pass(
        scope,
        f"Describe{name}",
        parameters={
            "Error": sfn.JsonPath.string_at("$.error.Error"),
            "Cause": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.error.Cause")),
        },
        result_path="$.failure",
    )
    return describe.next(sfn.Fail(scope, name, error_path="$.failure.Error", cause_path="$.failure.Cause.errorMessage"))
