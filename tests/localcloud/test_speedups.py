"""localcloud.speedups: the faster paths through moto's DynamoDB and Step Functions give the answers moto gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from localcloud import debts
from tests.localcloud.conftest import TABLE

NO_CLOUD = cast(Any, None)  # these replacements use nothing of a running cloud
PARSING = "moto.dynamodb.parsing"
CHECKED_ONCE = [f"{PARSING}.validators:UpdateExpressionValidator.{name}" for name in ("__init__", "validate")]
LEXED_ONCE = "moto.dynamodb.comparisons:ConditionExpressionParser._lex_condition_expression"


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
    with debts.applied(NO_CLOUD, ["moto.core.serialize:AttributePicker.__call__"]):
        fast = answers()

    assert fast == as_moto_does


@pytest.fixture
def checked_once() -> Iterator[None]:
    """Update expressions parsed once and copied by pickle, their checks made once per expression, names and keys;
    conditions lexed once per text."""
    parsed_once = [f"{PARSING}.expressions:UpdateExpressionParser.make", f"{PARSING}.validators:deepcopy"]
    with debts.applied(NO_CLOUD, [*parsed_once, *CHECKED_ONCE, LEXED_ONCE]):
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
    with debts.applied(NO_CLOUD, [f"{PARSING}.ast_nodes:DepthFirstTraverser.traverse"]):
        walked = outcomes()

    assert walked == as_moto_does
    assert ["Code" in result for result in walked] == [False] * 4 + [True] * 3
    assert walked[3]["tags"] == {"SS": ["b", "c"]} and walked[1]["items"]["M"]["b"] == {"S": "COMPLETED"}
