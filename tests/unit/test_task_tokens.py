"""Waking an execution parked on a task token: the one way, for the queue and for job events."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tracker.task_tokens import TaskTokens


def _stubbed() -> tuple[TaskTokens, Stubber]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return TaskTokens(sfn), Stubber(sfn)


def test_waking_sends_the_output_as_json_to_the_parked_token() -> None:
    tokens, stubber = _stubbed()
    stubber.add_response("send_task_success", {}, {"taskToken": "token-1", "output": json.dumps({"wokenBy": "queue"})})

    with stubber:
        assert tokens.wake("token-1", {"wokenBy": "queue"}) is True
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"])
def test_a_token_no_longer_waited_on_wakes_nobody_and_is_no_error(code: str) -> None:
    tokens, stubber = _stubbed()
    stubber.add_client_error("send_task_success", service_error_code=code)

    with stubber:
        assert tokens.wake("token-1", {"wokenBy": "event"}) is False


def test_any_other_failure_to_wake_is_raised() -> None:
    tokens, stubber = _stubbed()
    stubber.add_client_error("send_task_success", service_error_code="ThrottlingException")

    with stubber, pytest.raises(ClientError):
        tokens.wake("token-1", {"wokenBy": "event"})
