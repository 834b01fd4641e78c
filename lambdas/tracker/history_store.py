"""The status history in DynamoDB: reads and conditional writes, nothing decided here.

Layout (one item collection per job, see docs/reference.md#status-history-table):
- ``pk = JOB#<jobType>#<ids…>``, ``sk = STATE``: the job's current status, item statuses and version;
- ``pk = JOB#…``, ``sk = EVENT#000001…``: one entry per change, numbered from 1 without gaps.

A change is one transaction: the new EVENT item (must not exist yet) and the STATE item (must still
have the version, and the parked task token, that were read).
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from tracker.contract import JobRef, Table
from tracker.history import Change, JobState, ObservedBy
from tracker.status import Snapshot

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def event_sk(sequence: int) -> str:
    return f"{Table.EVENT_SK_PREFIX}{sequence:06d}"


class DynamoHistoryStore:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def _state_key(self, job: JobRef) -> dict[str, Any]:
        return _to_item({Table.PK: job.pk, Table.SK: Table.STATE_SK})

    def read(self, job: JobRef) -> JobState | None:
        response = self._dynamodb.get_item(TableName=self._table, Key=self._state_key(job), ConsistentRead=True)
        if "Item" not in response:
            return None
        state = _from_item(response["Item"])
        return JobState(
            snapshot=Snapshot(
                status=state["status"],
                status_message=state.get("statusMessage", ""),
                items=dict(state.get("items", {})),
                item_messages=dict(state.get("itemMessages", {})),
                creation_time=state.get("creationTime", ""),
                completion_time=state.get("completionTime", ""),
            ),
            version=int(state[Table.VERSION]),
            events_seen="lastEventAt" in state,
            execution_arns=frozenset(state.get("executionArns", set())),
            wait_token=state.get(Table.WAIT_TOKEN),
        )

    def write(self, job: JobRef, change: Change, expected: JobState | None) -> bool:
        entry = {
            Table.PK: job.pk,
            Table.SK: event_sk(change.sequence),
            "sequence": change.sequence,
            "status": change.after.status,
            "statusMessage": change.after.status_message or None,
            "items": change.after.items,
            "itemMessages": change.after.item_messages or None,
            "creationTime": change.after.creation_time or None,
            "completionTime": change.after.completion_time or None,
            "changes": change.descriptions,
            "observedAt": change.observed_at,
            "observedBy": str(change.observed_by),
            "executionArn": change.execution_arn,
        }
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _to_item(entry),
                            "ConditionExpression": f"attribute_not_exists({Table.SK})",
                        }
                    },
                    {"Update": self._state_update(job, change, expected)},
                ]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise
        return True

    def _state_update(self, job: JobRef, change: Change, expected: JobState | None) -> dict[str, Any]:
        # STATE is updated, not replaced: a task token parked by a waiting execution stays put.
        after = change.after
        fields = {
            "jobType": job.job_type,
            "ids": job.ids,
            "status": after.status,
            "statusMessage": after.status_message or None,
            "items": after.items,
            "itemMessages": after.item_messages or None,
            "creationTime": after.creation_time or None,
            "completionTime": after.completion_time or None,
            Table.TERMINAL: after.terminal,
            Table.VERSION: change.sequence,
            Table.STATUS_INDEX_SK: change.observed_at,
            "lastEventAt": change.observed_at if change.observed_by is ObservedBy.EVENT else None,
            "executionArn": change.execution_arn,
            # Sparse index key: only STATE items carry it, so the index lists jobs, not entries.
            Table.STATUS_INDEX_PK: after.status,
        }
        # An empty statusMessage is removed; lastEventAt and executionArn are only ever set.
        kept = {name: value for name, value in fields.items() if value is not None}
        assignments = [f"#{name} = :{name}" for name in kept]
        assignments.append(f"#firstObservedAt = if_not_exists(#firstObservedAt, :{Table.STATUS_INDEX_SK})")
        expression = "SET " + ", ".join(assignments)
        names = [*kept, "firstObservedAt"]
        if not after.status_message:
            expression += " REMOVE #statusMessage"
            names.append("statusMessage")
        values: dict[str, Any] = {f":{name}": value for name, value in kept.items()}
        if change.execution_arn:
            expression += " ADD #executionArns :executionArns"
            names.append("executionArns")
            values[":executionArns"] = {change.execution_arn}
        if expected is None:
            condition = f"attribute_not_exists({Table.PK})"
        else:
            # The read decided: nobody may have written since, and no execution may have parked since
            # (its token would be missed by a writer that wakes the waiting execution).
            condition = f"#{Table.VERSION} = :expectedVersion AND "
            values[":expectedVersion"] = expected.version
            if expected.wait_token is None:
                condition += f"attribute_not_exists(#{Table.WAIT_TOKEN})"
            else:
                condition += f"#{Table.WAIT_TOKEN} = :expectedToken"
                values[":expectedToken"] = expected.wait_token
            names.append(Table.WAIT_TOKEN)
        return {
            "TableName": self._table,
            "Key": self._state_key(job),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {f"#{name}": name for name in dict.fromkeys(names)},
            "ExpressionAttributeValues": _to_item(values),
        }

    def link_execution(self, job: JobRef, execution_arn: str) -> None:
        self._dynamodb.update_item(
            TableName=self._table,
            Key=self._state_key(job),
            UpdateExpression="SET executionArn = :arn ADD executionArns :arns",
            ConditionExpression=f"attribute_exists({Table.PK})",
            ExpressionAttributeValues=_to_item({":arn": execution_arn, ":arns": {execution_arn}}),
        )

    def entries(self, job: JobRef) -> list[dict[str, Any]]:
        """The job's history entries in order."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": f"{Table.PK} = :pk AND begins_with({Table.SK}, :prefix)",
            "ExpressionAttributeValues": _to_item({":pk": job.pk, ":prefix": Table.EVENT_SK_PREFIX}),
            "ConsistentRead": True,
        }
        while True:
            page = self._dynamodb.query(**kwargs)
            items.extend(_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
