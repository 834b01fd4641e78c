"""The one DynamoDB item codec and the one way to wake a parked execution."""

from __future__ import annotations

import json
from decimal import Decimal

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tracker.dynamodb_items import from_item, to_item
from tracker.task_tokens import TaskTokens


def test_numbers_come_back_as_int_when_whole_and_float_otherwise_at_any_depth() -> None:
    item = to_item({"version": 3, "rate": Decimal("0.5"), "nested": {"counts": [1, Decimal("2.25")]}})

    plain = from_item(item)

    assert plain == {"version": 3, "rate": 0.5, "nested": {"counts": [1, 2.25]}}
    assert [type(plain["version"]), type(plain["rate"])] == [int, float]


def test_a_none_value_is_no_attribute_and_a_string_set_stays_a_set() -> None:
    item = to_item({"statusMessage": None, "executionArns": {"arn:b", "arn:a"}, "items": {}})

    assert set(item) == {"executionArns", "items"}
    assert from_item(item) == {"executionArns": {"arn:a", "arn:b"}, "items": {}}


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
