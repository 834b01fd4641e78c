"""localcloud.concurrency: the corrections to moto that let a thousand executions run at once give the answers
moto gives, only cheaper (serialization, transactions) or without races (client creation, executions)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import serialize as moto_serialize
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import StreamShard
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.dynamodb.parsing.validators import UpdateExpressionValidator

from localcloud import concurrency, patches
from localcloud.executions import RunningExecutions

REGION = "us-east-1"
TABLE = "jobs"


class Records:
    """Stands in for the StreamPoller: the stream records handed over, in order."""

    def __init__(self) -> None:
        self.added: list[tuple[str, dict[str, Any]]] = []

    def add(self, table: str, record: dict[str, Any]) -> None:
        self.added.append((table, record))


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield client


RICH_ITEM = {
    "pk": {"S": "JOB#1"},
    "sk": {"S": "STATE"},
    "version": {"N": "3"},
    "terminal": {"BOOL": False},
    "nothing": {"NULL": True},
    "items": {"M": {"s3://a/b.fa": {"S": "IN_PROGRESS"}, "n": {"N": "1.5"}}},
    "history": {"L": [{"S": "SUBMITTED"}, {"M": {"status": {"S": "IN_PROGRESS"}}}]},
    "tags": {"SS": ["a", "b"]},
    "blob": {"B": b"\x00\x01"},
}


def test_the_fast_member_lookup_serializes_as_moto_does(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item=RICH_ITEM)
    dynamodb.put_item(TableName=TABLE, Item={**RICH_ITEM, "sk": {"S": "HISTORY#0001"}})
    calls = [
        lambda: dynamodb.get_item(TableName=TABLE, Key={"pk": RICH_ITEM["pk"], "sk": RICH_ITEM["sk"]}),
        lambda: dynamodb.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": RICH_ITEM["pk"]},
            ReturnConsumedCapacity="TOTAL",
        ),
        lambda: dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": RICH_ITEM["pk"], "sk": RICH_ITEM["sk"]},
            UpdateExpression="SET version = version + :one",
            ExpressionAttributeValues={":one": {"N": "0"}},
            ReturnValues="ALL_NEW",
        ),
        lambda: dynamodb.describe_table(TableName=TABLE),
        lambda: dynamodb.scan(TableName=TABLE, Limit=1),
    ]

    def answers() -> list[Any]:
        results = []
        for call in calls:
            answer = call()
            answer.pop("ResponseMetadata")
            answer.get("Table", {}).pop("CreationDateTime", None)
            results.append(answer)
        return results

    as_moto_does = answers()
    with mock.patch.object(moto_serialize.AttributePicker, "__call__", concurrency._pick):
        fast = answers()

    assert fast == as_moto_does


@pytest.fixture
def checked_once() -> Iterator[None]:
    """The update-expression checks made once per expression, names and keys; conditions lexed once per text."""
    with (
        mock.patch.object(UpdateExpressionParser, "make", staticmethod(concurrency._parse_update_expression)),
        mock.patch.object(
            UpdateExpressionValidator, "__init__", concurrency._remember_expression(UpdateExpressionValidator.__init__)
        ),
        mock.patch.object(UpdateExpressionValidator, "validate", concurrency._validate_checking_once),
        mock.patch.object(ConditionExpressionParser, "_lex_condition_expression", concurrency._lex_once),
    ):
        yield


@pytest.mark.parametrize(
    ("names", "refused"),
    [
        ({"#a": "status", "#b": "status"}, "Two document paths overlap"),
        ({"#a": "sk", "#b": "status"}, "Cannot update attribute sk"),
    ],
)
@pytest.mark.usefixtures("checked_once")
def test_an_expression_checked_once_is_still_refused_with_other_names(
    dynamodb: Any, names: dict[str, str], refused: str
) -> None:
    """Given an update expression that passed moto's checks with some attribute names, when the same expression
    comes with names that overlap or name a key, then it is refused as moto refuses it (the checks remembered
    are per expression *and* names)."""
    key = {"pk": {"S": "JOB#1"}, "sk": {"S": "STATE"}}
    dynamodb.put_item(TableName=TABLE, Item={**key, "version": {"N": "1"}})

    def update(attribute_names: dict[str, str]) -> Any:
        return dynamodb.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="SET #a = :x, #b = :y",
            ConditionExpression="version = :one",
            ExpressionAttributeNames=attribute_names,
            ExpressionAttributeValues={":x": {"S": "x"}, ":y": {"S": "y"}, ":one": {"N": "1"}},
        )

    update({"#a": "status", "#b": "message"})  # passes: the expression's checks are now remembered
    with pytest.raises(ClientError, match=refused):
        update(names)
    update({"#a": "status", "#b": "message"})  # and the names that passed still pass
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        dynamodb.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="SET #a = :x",
            ConditionExpression="version = :one",  # a text lexed before, with another value
            ExpressionAttributeNames={"#a": "status"},
            ExpressionAttributeValues={":x": {"S": "x"}, ":one": {"N": "2"}},
        )


def test_the_faster_walk_of_update_expressions_updates_and_refuses_as_moto_does(dynamodb: Any) -> None:
    key = {"pk": {"S": "JOB#1"}, "sk": {"S": "STATE"}}
    start = {
        **key,
        "version": {"N": "3"},
        "items": {"M": {"a": {"S": "IN_PROGRESS"}}},
        "log": {"L": [{"S": "x"}]},
        "tags": {"SS": ["a", "b"]},
        "message": {"S": "m"},
    }
    updates = [
        "SET version = version + :one, #items.#a = :done, #log = list_append(#log, :more)",
        "SET firstSeen = if_not_exists(firstSeen, :now), #items.b = :done REMOVE message",
        "ADD tags :c, hits :one",
        "DELETE tags :a",
        "SET version = :text + :one",  # refused: a string in arithmetic
        "SET #a = :one, #a = :done",  # refused: two paths overlap
        "REMOVE pk",  # refused: a key attribute
    ]
    values = {
        ":one": {"N": "1"},
        ":done": {"S": "COMPLETED"},
        ":more": {"L": [{"S": "y"}]},
        ":now": {"S": "2026-11-28T00:00:00Z"},
        ":c": {"SS": ["c"]},
        ":a": {"SS": ["a"]},
        ":text": {"S": "t"},
    }

    def outcomes() -> list[Any]:
        dynamodb.put_item(TableName=TABLE, Item=start)
        results: list[Any] = []
        for expression in updates:
            used = {name: value for name, value in values.items() if name in expression}
            names = {name: name[1:] for name in ("#items", "#a", "#log") if name in expression}
            try:
                dynamodb.update_item(
                    TableName=TABLE,
                    Key=key,
                    UpdateExpression=expression,
                    **({"ExpressionAttributeValues": used} if used else {}),
                    **({"ExpressionAttributeNames": names} if names else {}),
                )
                results.append(dynamodb.get_item(TableName=TABLE, Key=key)["Item"])
            except ClientError as error:
                results.append(error.response["Error"])
        return results

    as_moto_does = outcomes()
    with mock.patch.object(DepthFirstTraverser, "traverse", concurrency._traverse):
        walked = outcomes()

    assert walked == as_moto_does
    assert ["Code" in result for result in walked] == [False] * 4 + [True] * 3
    assert walked[3]["tags"] == {"SS": ["b", "c"]} and walked[1]["items"]["M"]["b"] == {"S": "COMPLETED"}


def test_the_json_copy_copies_as_deepcopy_does() -> None:
    data: dict[str, Any] = {
        "a": [1, 2.5, {"b": None, "c": True}],
        "d": "text",
        "when": datetime(2026, 1, 1, tzinfo=UTC),
    }
    copied = concurrency._json_copy(data)
    assert copied == copy.deepcopy(data)
    assert copied["a"] is not data["a"] and copied["a"][2] is not data["a"][2]
    copied["a"][2]["b"] = "changed"
    assert data["a"][2]["b"] is None


def test_a_cancelled_transaction_leaves_items_and_stream_as_they_were(dynamodb: Any) -> None:
    records = Records()
    with (
        mock.patch.object(StreamShard, "add", patches._stream_add(records)),  # type: ignore[arg-type]
        mock.patch.object(dynamodb_models, "copy", concurrency._TablesNotCopied),
        mock.patch.object(
            DynamoDBBackend,
            "transact_write_items",
            concurrency._transact_write_items(DynamoDBBackend.transact_write_items),
        ),
        mock.patch.object(records, "add", concurrency._held_while_in_transaction(records)),  # type: ignore[arg-type]
    ):
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
    original = concurrency._original_create_client

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

    with (
        mock.patch.object(concurrency, "_original_create_client", counting),
        mock.patch.object(boto3.session.Session, "client", boto3.session.Session.client),
        mock.patch("botocore.session.Session.create_client", concurrency._create_client_in_turn),
    ):
        threads = [threading.Thread(target=create, args=(s,)) for s in ["dynamodb", "stepfunctions", "lambda"] * 8]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert errors == []
    assert most[0] == 1
