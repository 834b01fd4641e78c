"""The status history in DynamoDB. Every write of the tracker goes through `HistoryStore.record`.

Layout (one item collection per job, see README "Status history table"):
- ``pk = JOB#<jobType>#<ids…>``, ``sk = STATE``: the job's current status, item statuses and version;
- ``pk = JOB#…``, ``sk = EVENT#000001…``: one entry per change, numbered from 1 without gaps.

A change is written as one transaction: the new EVENT item (must not exist yet) and the STATE item
(must still have the version that was read). A retried Lambda, a duplicate trigger or a repeated
poll finds nothing new and writes nothing; two writers racing cannot both take the same number;
a terminal status is never changed (its item statuses may still catch up).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from tracker import clock
from tracker.errors import ServiceUnavailable
from tracker.job_types import JOB_TYPES, JobTypeName
from tracker.status import Snapshot, describe_changes, merge

STATE_SK = "STATE"
EVENT_PREFIX = "EVENT#"
STATUS_INDEX = "ByStatus"
_MAX_WRITE_ATTEMPTS = 5

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class JobRef:
    job_type: JobTypeName
    ids: dict[str, str]

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> JobRef:
        job_type = JobTypeName(payload["jobType"])
        return cls(job_type, {name: str(payload[name]) for name in JOB_TYPES[job_type].id_names})

    @property
    def pk(self) -> str:
        return "#".join(["JOB", self.job_type, *(self.ids[name] for name in JOB_TYPES[self.job_type].id_names)])

    def to_dict(self) -> dict[str, str]:
        return {"jobType": str(self.job_type), **self.ids}


@dataclass(frozen=True)
class Recorded:
    """The job's state after an observation, and whether the observation added a history entry."""

    snapshot: Snapshot
    changed: bool
    version: int
    events_seen: bool = False  # a HealthOmics status event has recorded a change of this job


def _event_sk(sequence: int) -> str:
    return f"{EVENT_PREFIX}{sequence:06d}"


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


class HistoryStore:
    def __init__(self, dynamodb: Any, table_name: str, now: Callable[[], datetime] | None = None) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._now = now or clock.utc_now

    def current(self, job: JobRef) -> tuple[Snapshot | None, int, dict[str, Any]]:
        response = self._dynamodb.get_item(
            TableName=self._table, Key=_to_item({"pk": job.pk, "sk": STATE_SK}), ConsistentRead=True
        )
        if "Item" not in response:
            return None, 0, {}
        state = _from_item(response["Item"])
        snapshot = Snapshot(
            status=state["status"], status_message=state.get("statusMessage", ""), items=dict(state.get("items", {}))
        )
        return snapshot, int(state["version"]), state

    def record(
        self,
        job: JobRef,
        observed: Snapshot,
        observed_by: str,
        execution_arn: str | None = None,
        only_if_tracked: bool = False,
    ) -> Recorded | None:
        """Record an observation if it moves the job forward; otherwise write nothing.

        With `only_if_tracked`, a job without history yet (one nobody follows) is left alone: None.
        """
        for _ in range(_MAX_WRITE_ATTEMPTS):
            recorded, version, state = self.current(job)
            if recorded is None and only_if_tracked:
                return None
            merged = merge(recorded, observed)
            if recorded is not None:
                nothing_new = merged.same_progress(recorded)
                # A terminal status is final; only item statuses may still catch up (events carry none).
                overwrites_end = recorded.terminal and merged.status != recorded.status
                if nothing_new or overwrites_end:
                    if execution_arn and execution_arn not in state.get("executionArns", set()):
                        self._link_execution(job, execution_arn)
                    return Recorded(recorded, changed=False, version=version, events_seen="lastEventAt" in state)
            if self._write(job, recorded, merged, version, state, observed_by, execution_arn):
                events_seen = observed_by == "event" or "lastEventAt" in state
                return Recorded(merged, changed=True, version=version + 1, events_seen=events_seen)
        raise ServiceUnavailable(f"history of {job.pk}: too many concurrent writers, try again")

    def _write(
        self,
        job: JobRef,
        before: Snapshot | None,
        after: Snapshot,
        version: int,
        state: dict[str, Any],
        observed_by: str,
        execution_arn: str | None,
    ) -> bool:
        observed_at = self._now().isoformat()
        sequence = version + 1
        entry = {
            "pk": job.pk,
            "sk": _event_sk(sequence),
            "sequence": sequence,
            "status": after.status,
            "statusMessage": after.status_message or None,
            "items": after.items,
            "changes": describe_changes(before, after),
            "observedAt": observed_at,
            "observedBy": observed_by,
            "executionArn": execution_arn,
        }
        # STATE is updated, not replaced: a task token parked by a waiting execution stays put.
        changes = {
            "jobType": str(job.job_type),
            "ids": job.ids,
            "status": after.status,
            "statusMessage": after.status_message or None,
            "items": after.items,
            "terminal": after.terminal,
            "version": sequence,
            "lastChangedAt": observed_at,
            "lastEventAt": observed_at if observed_by == "event" else None,
            "executionArn": execution_arn or state.get("executionArn"),
            # Sparse index key: only STATE items carry it, so the index lists jobs, not entries.
            "currentStatus": after.status,
        }
        # Attributes set to None are removed, except lastEventAt, which only ever gets set.
        kept = {name: value for name, value in changes.items() if value is not None}
        removed = [name for name, value in changes.items() if value is None and name != "lastEventAt"]
        names = [*kept, *removed, "firstObservedAt"]
        assignments = [f"#{name} = :{name}" for name in kept]
        assignments.append("#firstObservedAt = if_not_exists(#firstObservedAt, :lastChangedAt)")
        expression = "SET " + ", ".join(assignments)
        if removed:
            expression += " REMOVE " + ", ".join(f"#{name}" for name in removed)
        values = {f":{name}": value for name, value in kept.items()}
        if execution_arn:
            expression += " ADD #executionArns :executionArns"
            names.append("executionArns")
            values[":executionArns"] = {execution_arn}
        condition = "attribute_not_exists(pk)"
        if before is not None:
            condition = "version = :expectedVersion"  # the read decided; nobody may have written since
            values[":expectedVersion"] = version
        state_update = {
            "TableName": self._table,
            "Key": _to_item({"pk": job.pk, "sk": STATE_SK}),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {f"#{name}": name for name in names},
            "ExpressionAttributeValues": _to_item(values),
        }
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _to_item(entry),
                            "ConditionExpression": "attribute_not_exists(sk)",
                        }
                    },
                    {"Update": state_update},
                ]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False  # someone else wrote first: read again and decide again
            raise
        return True

    def _link_execution(self, job: JobRef, execution_arn: str) -> None:
        """Note an execution that follows the job (a hand-over to a new one, a second console start)."""
        self._dynamodb.update_item(
            TableName=self._table,
            Key=_to_item({"pk": job.pk, "sk": STATE_SK}),
            UpdateExpression="SET executionArn = :arn ADD executionArns :arns",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=_to_item({":arn": execution_arn, ":arns": {execution_arn}}),
        )

    def wait_token(self, job: JobRef) -> str | None:
        """The task token of the execution waiting on this job, if one is parked."""
        response = self._dynamodb.get_item(
            TableName=self._table,
            Key=_to_item({"pk": job.pk, "sk": STATE_SK}),
            ProjectionExpression="waitToken",
            ConsistentRead=True,
        )
        token = response.get("Item", {}).get("waitToken", {}).get("S")
        return str(token) if token else None

    def entries(self, job: JobRef) -> list[dict[str, Any]]:
        """The job's history entries in order."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": _to_item({":pk": job.pk, ":prefix": EVENT_PREFIX}),
            "ConsistentRead": True,
        }
        while True:
            page = self._dynamodb.query(**kwargs)
            items.extend(_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
