"""localcloud.in_process: calls answered without HTTP emulation give the answers and errors moto's usual path gives."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.awslambda.models import LambdaFunction

from localcloud.in_process import InProcessCalls
from tests.unit.history_table import create_history_table

REGION = "us-east-1"
TABLE = "jobs"
ROLE = "arn:aws:iam::123456789012:role/fn"


@pytest.fixture
def in_process() -> Iterator[InProcessCalls]:
    calls = InProcessCalls()
    with mock_aws():
        yield calls


def _client(service: str, calls: InProcessCalls) -> Any:
    client = boto3.client(service, region_name=REGION)
    client.meta.events.register("before-call", calls)
    return client


def _outcome(call: Callable[[], Any]) -> Any:
    """An answer without its request metadata, or the error's code, message and modeled fields."""
    try:
        answer = call()
    except ClientError as error:
        fields = {key: value for key, value in error.response.items() if key not in ("Error", "ResponseMetadata")}
        return ("error", error.response["Error"]["Code"], error.response["Error"]["Message"], fields)
    answer.pop("ResponseMetadata", None)
    if "Payload" in answer:
        answer["Payload"] = answer["Payload"].read()
    return answer


def _both_ways(calls: InProcessCalls, run: Callable[[], list[Callable[[], Any]]]) -> tuple[list[Any], list[Any]]:
    """The outcomes of the same calls answered the usual way, then in process (from the same starting point)."""
    usual = [_outcome(call) for call in run()]
    calls.enabled = True
    try:
        with _answered_in_process() as answered:
            fast = [_outcome(call) for call in run()]
    finally:
        calls.enabled = False
    assert len(answered) == len(fast)  # every call of the second round was answered in process
    return usual, fast


@contextlib.contextmanager
def _answered_in_process() -> Iterator[list[str]]:
    """The operations InProcessCalls answered (rather than leaving to the usual way) meanwhile."""
    answered: list[str] = []
    original = InProcessCalls.__call__

    def counting(self: InProcessCalls, model: Any, params: dict[str, Any], **kwargs: Any) -> Any:
        result = original(self, model, params, **kwargs)
        answered.extend([model.name] if result is not None else [])
        return result

    with mock.patch.object(InProcessCalls, "__call__", counting):
        yield answered


def test_dynamodb_answers_and_errors_are_the_usual_ones(in_process: InProcessCalls) -> None:
    dynamodb = _client("dynamodb", in_process)
    create_history_table(dynamodb, TABLE)

    def run() -> list[Callable[[], Any]]:
        key = {"pk": {"S": "JOB#1"}, "sk": {"S": "STATE"}}
        item = {**key, "version": {"N": "1"}, "blob": {"B": b"\x00\x01"}, "tags": {"SS": ["a"]}}
        return [
            lambda: dynamodb.delete_item(TableName=TABLE, Key=key),
            lambda: dynamodb.put_item(TableName=TABLE, Item=item),
            lambda: dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True),
            lambda: dynamodb.update_item(
                TableName=TABLE,
                Key=key,
                UpdateExpression="SET version = version + :one",
                ConditionExpression="version = :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="ALL_NEW",
            ),
            lambda: dynamodb.update_item(  # the condition fails now: the usual error, with the item
                TableName=TABLE,
                Key=key,
                UpdateExpression="SET version = :one",
                ConditionExpression="version = :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
            lambda: dynamodb.query(
                TableName=TABLE, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": key["pk"]}
            ),
            lambda: dynamodb.get_item(TableName="missing", Key=key),
        ]

    usual, fast = _both_ways(in_process, run)

    assert fast == usual
    assert fast[4][:2] == ("error", "ConditionalCheckFailedException")
    assert fast[4][3]["Item"]["version"] == {"N": "2"}  # ReturnValuesOnConditionCheckFailure's item
    assert fast[6][:2] == ("error", "ResourceNotFoundException")


def test_eventbridge_and_step_functions_answers_are_the_usual_ones(in_process: InProcessCalls) -> None:
    events, sfn = _client("events", in_process), _client("stepfunctions", in_process)
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    machine = sfn.create_state_machine(name="m", definition=definition, roleArn=ROLE)["stateMachineArn"]

    def run() -> list[Callable[[], Any]]:
        return [
            lambda: events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}]),
            lambda: {
                key: value
                for key, value in sfn.describe_state_machine(stateMachineArn=machine).items()
                if key != "creationDate"
            },
            lambda: sfn.send_task_success(taskToken="unknown", output="{}"),
            lambda: sfn.describe_execution(executionArn=f"{machine.replace('stateMachine', 'execution')}:none"),
        ]

    usual, fast = _both_ways(in_process, run)

    for answer in (*usual, *fast):
        if isinstance(answer, dict):
            for entry in answer.get("Entries", []):
                entry.pop("EventId")  # a new id per event
    assert fast == usual
    assert fast[3][:2] == ("error", "ExecutionDoesNotExist")


def test_a_lambda_invoke_answers_with_the_usual_payload_status_and_function_error(in_process: InProcessCalls) -> None:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")
    lambda_ = _client("lambda", in_process)
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    lambda_.create_function(
        FunctionName="fn",
        Runtime="python3.12",
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )
    answers = iter([('{"ok": 1}', False, "log"), ('{"errorType": "Boom"}', True, "log")] * 2)

    def run() -> list[Callable[[], Any]]:
        return [
            lambda: lambda_.invoke(FunctionName="fn", Payload=b'{"a": 1}'),
            lambda: lambda_.invoke(FunctionName="fn", Payload=b"{}", LogType="Tail"),
            lambda: lambda_.invoke(FunctionName="missing", Payload=b"{}"),
        ]

    with mock.patch.object(LambdaFunction, "_invoke_lambda", lambda self, event=None: next(answers)):
        usual, fast = _both_ways(in_process, run)

    assert fast == usual
    assert fast[0]["Payload"] == b'{"ok": 1}' and fast[0]["StatusCode"] == 200
    assert fast[1]["FunctionError"] == "Handled" and "LogResult" in fast[1]
    assert fast[2][:2] == ("error", "ResourceNotFoundException")


def test_nothing_is_answered_in_process_while_disabled_or_while_dynamodb_faults_are_armed(
    in_process: InProcessCalls,
) -> None:
    dynamodb = _client("dynamodb", in_process)
    with _answered_in_process() as answered:
        dynamodb.list_tables()
        in_process.enabled = True
        dynamodb.list_tables()
        in_process.faults_armed = lambda: True
        dynamodb.list_tables()

    assert answered == ["ListTables"]
