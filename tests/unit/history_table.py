"""The history table's key schema, for unit tests that run the tracker's DynamoDB modules on moto."""

from __future__ import annotations

from typing import Any

from tracker.contract import Table


def create_history_table(dynamodb: Any, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": Table.PK, "KeyType": "HASH"}, {"AttributeName": Table.SK, "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": Table.PK, "AttributeType": "S"},
            {"AttributeName": Table.SK, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
