"""localcloud.fixes: what moto does differently from AWS, corrected (transactions, running executions, clients)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast
from unittest import mock

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb import models as dynamodb_models

from localcloud import debts, fixes
from localcloud.executions import RunningExecutions
from tests.localcloud.conftest import REGION, TABLE


class Records:
    """Stands in for the StreamPoller: the stream records handed over, in order."""

    def __init__(self) -> None:
        self.added: list[tuple[str, dict[str, Any]]] = []

    def add(self, table: str, record: dict[str, Any]) -> None:
        self.added.append((table, record))


@pytest.mark.parametrize(
    "speed_up",
    [[], ["moto.dynamodb.models:copy", "moto.dynamodb.models:DynamoDBBackend.transact_write_items"]],
    ids=["moto's table copies", "items put back one by one"],
)
def test_a_cancelled_transaction_leaves_items_and_stream_as_they_were(dynamodb: Any, speed_up: list[str]) -> None:
    records = Records()
    cloud = SimpleNamespace(streams=records, dynamodb_requests=[], clock=SimpleNamespace(now=lambda: datetime.now(UTC)))
    stream_and_requests = [
        "moto.dynamodb.models.table:StreamShard.add",
        "moto.dynamodb.responses:DynamoHandler.call_action",
    ]
    with debts.applied(cast(Any, cloud), [*stream_and_requests, *speed_up]):
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "A"}, "sk": {"S": "STATE"}, "version": {"N": "1"}})
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "B"}, "sk": {"S": "X"}, "v": {"S": "kept"}})
        before = dynamodb.scan(TableName=TABLE)["Items"]
        records.added.clear()

        with pytest.raises(ClientError, match="TransactionCanceledException"):
            dynamodb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "A"}, "sk": {"S": "HISTORY#1"}}}},
                    {
                        "Update": {
                            "TableName": TABLE,
                            "Key": {"pk": {"S": "A"}, "sk": {"S": "STATE"}},
                            "UpdateExpression": "SET version = :two",
                            "ExpressionAttributeValues": {":two": {"N": "2"}},
                        }
                    },
                    {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "B"}, "sk": {"S": "X"}}}},
                    {
                        "ConditionCheck": {
                            "TableName": TABLE,
                            "Key": {"pk": {"S": "C"}, "sk": {"S": "LOCK"}},
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                ]
            )

        assert sorted(dynamodb.scan(TableName=TABLE)["Items"], key=str) == sorted(before, key=str)
        assert records.added == []  # nothing of the cancelled writes reaches the stream's reader
        table = dynamodb_models.dynamodb_backends["123456789012"][REGION].tables[TABLE]
        assert table.stream_shard is not None
        assert len(table.stream_shard.items) == 2  # the two puts before

        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "A"}, "sk": {"S": "HISTORY#1"}}}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "A"}, "sk": {"S": "STATE"}},
                        "UpdateExpression": "SET version = :two",
                        "ConditionExpression": "version = :one",
                        "ExpressionAttributeValues": {":two": {"N": "2"}, ":one": {"N": "1"}},
                    }
                },
            ]
        )
        assert [record["eventName"] for _, record in records.added] == ["INSERT", "MODIFY"]
        state = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "A"}, "sk": {"S": "STATE"}})["Item"]
        assert state["version"] == {"N": "2"}


def test_running_executions_are_counted_and_waited_for() -> None:
    ended: list[str] = []
    running = RunningExecutions(on_end=lambda: ended.append("told"))
    running.started("arn:1")
    running.started("arn:2")
    assert len(running) == 2 and "arn:1" in running

    threading.Timer(0.05, running.ended, args=("arn:1",)).start()
    assert running.wait_until_ended("arn:1", timeout=5)
    assert not running.wait_until_none(timeout=0.05)
    running.ended("arn:2")
    running.ended("arn:unknown")  # an execution of an earlier cloud: ignored

    assert running.wait_until_none(timeout=0)
    assert ended == ["told", "told"]


def test_clients_are_created_one_at_a_time_across_threads() -> None:
    boto3.DEFAULT_SESSION = None
    active, most, errors = [0], [0], []
    lock = threading.Lock()
    original = botocore.session.Session.create_client

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            return original(self, *args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    def create(service: str) -> None:
        try:
            boto3.client(service, region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b")
        except Exception as error:  # pragma: no cover - what the lock prevents
            errors.append(error)

    with mock.patch("botocore.session.Session.create_client", fixes.clients_in_turn(cast(Any, None), counting)):
        threads = [threading.Thread(target=create, args=(s,)) for s in ["dynamodb", "stepfunctions", "lambda"] * 8]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert errors == []
    assert most[0] == 1
