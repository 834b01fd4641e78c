"""ops.smoke, the opt-in check against a real account: the parts that need no AWS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops import smoke
from tracker.contract import JobRef
from tracker.steps import Turn

OUTPUTS = smoke.StackOutputs(
    UploadBucketName="tracker-uploads-abc123",
    UploadPrefix="references/",
    HistoryTableName="tracker-history",
    StateMachineArn="arn:aws:states:eu-west-1:123456789012:stateMachine:Tracker",
    ReferenceStoreId="1234567890",
)
KEY = "references/smoke-20260101T000000Z-0123abcd.fa"
ROLE = "arn:aws:iam::123456789012:role/TrackerStateMachineRole"
DEFINITION: dict[str, Any] = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "TakeTurn"},
        "TakeTurn": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "WaitForTurn"},
        "WaitForTurn": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken",
            "Parameters": {
                "TableName": "tracker-history",
                "Key": {"pk": {"S.$": "$.turn.entryPk"}, "sk": {"S.$": "$.turn.entrySk"}},
            },
            "TimeoutSecondsPath": "$.turn.waitSeconds",
            "ResultPath": "$.wake",
            "Next": "TakeTurn",
        },
        "WaitForChangeOrTimeout": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken",
            "Parameters": {"TableName": "tracker-history", "Key": {"pk": {"S.$": "$.poll.jobKey"}}},
            "Next": "PollJob",
        },
        "PollJob": {"Type": "Succeed"},
    },
}


def test_without_aws_credentials_it_skips_and_succeeds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(boto3.Session, "get_credentials", lambda self: None)
    monkeypatch.setattr(smoke.Aws, "connect", lambda session: pytest.fail("no AWS call without credentials"))

    assert smoke.main(["--region", "eu-west-1"]) == 0
    assert capsys.readouterr().out.startswith("skipped: no AWS credentials")


def test_the_default_stack_is_the_one_cdk_json_names(tmp_path: Path) -> None:
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(json.dumps({"context": {"stackName": "MyTracker"}}))

    assert smoke.default_stack_name(cdk_json) == "MyTracker"


def test_a_state_is_taken_from_the_state_machine_definition_as_deployed() -> None:
    state = smoke.state_definition(json.dumps(DEFINITION), "WaitForChangeOrTimeout")

    assert state == DEFINITION["States"]["WaitForChangeOrTimeout"]


def test_a_missing_state_fails_naming_the_states_there_are() -> None:
    with pytest.raises(smoke.SmokeFailure, match=r"no state 'Nope' \(states: Prepare, TakeTurn, WaitForTurn, "):
        smoke.state_definition(json.dumps(DEFINITION), "Nope")


def test_sample_inputs_are_what_the_states_get_for_the_upload() -> None:
    inputs = smoke.sample_inputs(OUTPUTS, KEY)

    # Given the upload's request queued in the store, when it waits for its turn,
    # then it parks on its own queue entry, found by the store and the request's client token.
    queued = inputs["WaitForTurn"]
    start = queued["start"]
    assert start["referenceStoreId"] == OUTPUTS.ReferenceStoreId
    assert [source["sourceFile"] for source in start["sources"]] == [f"s3://{OUTPUTS.UploadBucketName}/{KEY}"]
    turn = Turn.model_validate(queued["turn"])
    assert turn.action == "wait"
    assert turn.entry_pk == f"STORE#{OUTPUTS.ReferenceStoreId}"
    assert turn.entry_sk.startswith("QUEUE#") and turn.entry_sk.endswith(f"#{start['clientToken']}")
    assert turn.wait_seconds >= 1
    # and once it leads the import, the poll loop follows the job
    waiting = inputs["WaitForChangeOrTimeout"]
    assert waiting["poll"]["jobKey"] == JobRef.from_dict(waiting["job"]).pk
    assert waiting["job"]["jobId"] == smoke.SAMPLE_JOB_ID


def test_both_aws_sdk_states_run_through_test_state_mocked_with_the_deployed_role() -> None:
    client = boto3.client("stepfunctions", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    aws = smoke.Aws(cloudformation=None, s3=None, stepfunctions=client, dynamodb=None, lambda_=None)
    inputs = smoke.sample_inputs(OUTPUTS, KEY)
    with Stubber(client) as stubbed:  # the stubber checks every parameter against botocore's model
        stubbed.add_response(
            "describe_state_machine",
            _described_state_machine(),
            {"stateMachineArn": OUTPUTS.StateMachineArn},
        )
        assert smoke.SDK_TASK_STATES == ("WaitForTurn", "WaitForChangeOrTimeout")
        for name in smoke.SDK_TASK_STATES:
            state = DEFINITION["States"][name]
            stubbed.add_response(
                "test_state",
                {"status": "SUCCEEDED", "nextState": state["Next"], "inspectionData": {"afterParameters": "{}"}},
                {
                    "definition": json.dumps(state),
                    "roleArn": ROLE,
                    "input": json.dumps(inputs[name]),
                    "inspectionLevel": "DEBUG",
                    # the task token is answered instead of waiting: a wake-up, as the queue or a job event sends
                    "mock": {"result": json.dumps(smoke.mocked_results(OUTPUTS)[name]), "fieldValidationMode": "NONE"},
                },
            )

        smoke.check_sdk_task_states(aws, OUTPUTS, KEY)

        stubbed.assert_no_pending_responses()


def test_the_upload_is_found_by_the_execution_name_the_trigger_gives_it() -> None:
    class Executions:
        def list_executions(self, **kwargs: Any) -> dict[str, Any]:
            return {
                "executions": [
                    {"name": "other-genome-fa-0123", "executionArn": "arn:other"},
                    {"name": f"{KEY.rsplit('/', 1)[-1].replace('.', '-')}-" + "f" * 32, "executionArn": "arn:smoke"},
                ]
            }

    assert smoke.find_execution(Executions(), OUTPUTS.StateMachineArn, OUTPUTS.UploadBucketName, KEY) == "arn:smoke"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_waiting_backs_off_until_the_probe_finds_something() -> None:
    clock, answers = FakeClock(), iter([None, None, None, None, "found"])
    backoff = smoke.Backoff(first_seconds=2, factor=2, max_seconds=5)

    found = smoke.wait_for("it", lambda: next(answers), 100, backoff, clock=lambda: clock.now, sleep=clock.sleep)

    assert found == "found"
    assert clock.sleeps == [2, 4, 5, 5]


def test_waiting_gives_up_at_the_deadline() -> None:
    clock = FakeClock()

    with pytest.raises(smoke.SmokeFailure, match=r"gave up waiting for the execution after 10 s"):
        smoke.wait_for("the execution", lambda: None, 10, clock=lambda: clock.now, sleep=clock.sleep)

    assert sum(clock.sleeps) == 10


def _described_state_machine() -> dict[str, Any]:
    return {
        "stateMachineArn": OUTPUTS.StateMachineArn,
        "name": "Tracker",
        "definition": json.dumps(DEFINITION),
        "roleArn": ROLE,
        "type": "STANDARD",
        "creationDate": "2026-01-01T00:00:00Z",
    }
