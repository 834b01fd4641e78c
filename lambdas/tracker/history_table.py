"""The status history in DynamoDB: reads and conditional writes, nothing decided here.

Layout (one item collection per job, see docs/reference.md#status-history-table):
- ``pk = JOB#<jobType>#<ids…>``, ``sk = STATE``: the job's current status, item statuses and version;
- ``pk = JOB#…``, ``sk = EVENT#000001…``: one entry per change, numbered from 1 without gaps.

A change is one transaction: the new EVENT item (must not exist yet) and the STATE item (must still
have the version, and the parked task token, that were read).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Self

from botocore.exceptions import ClientError

from tracker import clock
from tracker.contract import TERMINAL_STATUSES, JobRef, ObservedBy, ServiceUnavailable, Table
from tracker.dynamodb_items import from_item, to_item
from tracker.history import Change, JobState
from tracker.stalls import Stall
from tracker.status import Snapshot

_BATCH_GET_MAX = 100  # keys one BatchGetItem reads
_MAX_BATCH_ROUNDS = 5  # rounds of unprocessed keys (throttled reads) before giving up


def event_sk(sequence: int) -> str:
    return f"{Table.EVENT_SK_PREFIX}{sequence:06d}"


def _status_attributes(snapshot: Snapshot) -> dict[str, Any]:
    """A status as the STATE item and each EVENT# entry hold it; an empty message or time is no attribute."""
    return {
        Table.STATUS: snapshot.status,
        Table.STATUS_MESSAGE: snapshot.status_message or None,
        Table.ITEMS: snapshot.items,
        Table.ITEM_MESSAGES: snapshot.item_messages or None,
        Table.CREATION_TIME: snapshot.creation_time or None,
        Table.COMPLETION_TIME: snapshot.completion_time or None,
    }


@dataclass(frozen=True)
class HistoryEntry:
    """One EVENT# item: a change the tracker recorded."""

    job: JobRef
    sequence: int
    status: str
    observed_at: str
    observed_by: str
    status_message: str = ""
    items: dict[str, str] = field(default_factory=dict)
    item_messages: dict[str, str] = field(default_factory=dict)
    changes: tuple[str, ...] = ()
    creation_time: str = ""
    completion_time: str = ""
    execution_arn: str = ""

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Self:
        def text(name: str) -> str:
            return "" if item.get(name) is None else str(item[name])

        def by_item(name: str) -> dict[str, str]:
            return {str(key): str(value) for key, value in (item.get(name) or {}).items()}

        return cls(
            job=JobRef.from_pk(text(Table.PK)),
            sequence=int(item[Table.SEQUENCE]),
            status=text(Table.STATUS),
            observed_at=text(Table.OBSERVED_AT),
            observed_by=text(Table.OBSERVED_BY),
            status_message=text(Table.STATUS_MESSAGE),
            items=by_item(Table.ITEMS),
            item_messages=by_item(Table.ITEM_MESSAGES),
            changes=tuple(str(change) for change in item.get(Table.CHANGES) or []),
            creation_time=text(Table.CREATION_TIME),
            completion_time=text(Table.COMPLETION_TIME),
            execution_arn=text(Table.EXECUTION_ARN),
        )


class HistoryTable:
    """The HistoryStore of the tracker: the history table's reads and conditional writes."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def _state_key(self, job: JobRef) -> dict[str, Any]:
        return to_item({Table.PK: job.pk, Table.SK: Table.STATE_SK})

    def state_item(self, job: JobRef) -> dict[str, Any] | None:
        """The job's STATE item, every attribute."""
        response = self._dynamodb.get_item(TableName=self._table, Key=self._state_key(job), ConsistentRead=True)
        return from_item(response["Item"]) if "Item" in response else None

    def published(self, job: JobRef) -> frozenset[str]:
        """The marks of what the Notify function has published of this job's changes."""
        response = self._dynamodb.get_item(
            TableName=self._table,
            Key=to_item({Table.PK: job.pk, Table.SK: Table.PUBLISHED_SK}),
            ConsistentRead=True,
            ProjectionExpression="#published",
            ExpressionAttributeNames={"#published": Table.PUBLISHED},
        )
        return frozenset(from_item(response.get("Item", {})).get(Table.PUBLISHED, ()))

    def mark_published(self, job: JobRef, mark: str) -> None:
        self._dynamodb.update_item(
            TableName=self._table,
            Key=to_item({Table.PK: job.pk, Table.SK: Table.PUBLISHED_SK}),
            UpdateExpression="ADD #published :mark",
            ExpressionAttributeNames={"#published": Table.PUBLISHED},
            ExpressionAttributeValues=to_item({":mark": {mark}}),
        )

    def read(self, job: JobRef) -> JobState | None:
        state = self.state_item(job)
        return None if state is None else _job_state(state)

    def known(self, jobs: Iterable[JobRef]) -> set[str]:
        """The partition keys of `jobs` that have a STATE item (followed, or marked to be): 100 keys a call."""
        keys = [self._state_key(job) for job in jobs]
        found: set[str] = set()
        for start in range(0, len(keys), _BATCH_GET_MAX):
            request = {self._table: {"Keys": keys[start : start + _BATCH_GET_MAX], "ProjectionExpression": Table.PK}}
            for attempt in range(_MAX_BATCH_ROUNDS):
                if attempt:
                    clock.sleep(0.05 * 2**attempt)  # unprocessed keys: the table throttled us, back off
                response = self._dynamodb.batch_get_item(RequestItems=request)
                found.update(item[Table.PK]["S"] for item in response.get("Responses", {}).get(self._table, []))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise ServiceUnavailable(f"history table: {len(request[self._table]['Keys'])} keys left unread")
        return found

    def write(self, job: JobRef, change: Change, expected: JobState | None) -> bool:
        entry = {
            Table.PK: job.pk,
            Table.SK: event_sk(change.sequence),
            Table.SEQUENCE: change.sequence,
            **_status_attributes(change.after),
            Table.CHANGES: change.descriptions,
            Table.OBSERVED_AT: change.observed_at,
            Table.OBSERVED_BY: str(change.observed_by),
            Table.EXECUTION_ARN: change.execution_arn,
        }
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item(entry),
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
            Table.JOB_TYPE: job.job_type,
            Table.IDS: job.ids,
            **_status_attributes(after),
            Table.TERMINAL: after.terminal,
            Table.VERSION: change.sequence,
            Table.STATUS_INDEX_SK: change.observed_at,
            Table.LAST_EVENT_AT: change.observed_at if change.observed_by is ObservedBy.EVENT else None,
            Table.EXECUTION_ARN: change.execution_arn,
            # Sparse index key: only STATE items carry it, so the index lists jobs, not entries.
            Table.STATUS_INDEX_PK: after.status,
        }
        if change.new_status:  # its time in the status starts now, and a stall of the status before is over
            fields[Table.STATUS_SINCE] = change.observed_at
        # An empty statusMessage is removed; lastEventAt and executionArn are only ever set.
        kept = {name: value for name, value in fields.items() if value is not None}
        assignments = [f"#{name} = :{name}" for name in kept]
        first = f"#{Table.FIRST_OBSERVED_AT}"
        assignments.append(f"{first} = if_not_exists({first}, :{Table.STATUS_INDEX_SK})")
        expression = "SET " + ", ".join(assignments)
        removed = [
            name
            for name, gone in ((Table.STATUS_MESSAGE, not after.status_message), (Table.STALLED, change.new_status))
            if gone
        ]
        if removed:
            expression += " REMOVE " + ", ".join(f"#{name}" for name in removed)
        names = [*kept, Table.FIRST_OBSERVED_AT, *removed]
        values: dict[str, Any] = {f":{name}": value for name, value in kept.items()}
        if change.execution_arn:
            expression += f" ADD #{Table.EXECUTION_ARNS} :{Table.EXECUTION_ARNS}"
            names.append(Table.EXECUTION_ARNS)
            values[f":{Table.EXECUTION_ARNS}"] = {change.execution_arn}
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
            "ExpressionAttributeValues": to_item(values),
        }

    def follow(self, job: JobRef, execution_arn: str) -> JobState:
        # A marker only where nothing is recorded: version and terminal are what a parked wait is conditional on.
        response = self._dynamodb.update_item(
            TableName=self._table,
            Key=self._state_key(job),
            UpdateExpression="SET #type = :type, #ids = :ids, #version = if_not_exists(#version, :zero), "
            "#terminal = if_not_exists(#terminal, :false), #arn = :arn ADD #arns :arns",
            ExpressionAttributeNames={
                "#type": Table.JOB_TYPE,
                "#ids": Table.IDS,
                "#version": Table.VERSION,
                "#terminal": Table.TERMINAL,
                "#arn": Table.EXECUTION_ARN,
                "#arns": Table.EXECUTION_ARNS,
            },
            ExpressionAttributeValues=to_item(
                {
                    ":type": job.job_type,
                    ":ids": job.ids,
                    ":zero": 0,
                    ":false": False,
                    ":arn": execution_arn,
                    ":arns": {execution_arn},
                }
            ),
            ReturnValues="ALL_NEW",
        )
        return _job_state(from_item(response["Attributes"]))

    def report_stall(self, job: JobRef, stall: Stall, version: int, execution_arn: str | None) -> bool:
        """The STALLED# item (once per status) and the STATE's ``stalled`` map, if the state is still `version`
        with the stalled status: a change recorded meanwhile wins, and the next poll decides again."""
        report = stall.to_item()
        item = {
            Table.PK: job.pk,
            Table.SK: f"{Table.STALLED_SK_PREFIX}{stall.status}",
            **report,
            Table.EXECUTION_ARN: execution_arn,
        }
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item({name: value for name, value in item.items() if value is not None}),
                            "ConditionExpression": f"attribute_not_exists({Table.SK})",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": self._state_key(job),
                            "UpdateExpression": "SET #stalled = :stalled",
                            "ConditionExpression": "#version = :version AND #status = :status",
                            "ExpressionAttributeNames": {
                                "#stalled": Table.STALLED,
                                "#version": Table.VERSION,
                                "#status": Table.STATUS,
                            },
                            "ExpressionAttributeValues": to_item(
                                {":stalled": report, ":version": version, ":status": stall.status}
                            ),
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise
        return True

    def link_execution(self, job: JobRef, execution_arn: str) -> None:
        self._dynamodb.update_item(
            TableName=self._table,
            Key=self._state_key(job),
            UpdateExpression=f"SET {Table.EXECUTION_ARN} = :arn ADD {Table.EXECUTION_ARNS} :arns",
            ConditionExpression=f"attribute_exists({Table.PK})",
            ExpressionAttributeValues=to_item({":arn": execution_arn, ":arns": {execution_arn}}),
        )

    def entries(self, job: JobRef, after: int = 0) -> list[dict[str, Any]]:
        """The job's history entries in order; with `after`, only the entries numbered after it."""
        items: list[dict[str, Any]] = []
        last = f"{Table.EVENT_SK_PREFIX}\uffff"  # after every entry's key, before STATE
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": f"{Table.PK} = :pk AND {Table.SK} BETWEEN :first AND :last",
            "ExpressionAttributeValues": to_item({":pk": job.pk, ":first": event_sk(after + 1), ":last": last}),
            "ConsistentRead": True,
        }
        while True:
            page = self._dynamodb.query(**kwargs)
            items.extend(from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _job_state(state: dict[str, Any]) -> JobState:
    return JobState(
        snapshot=None
        if Table.STATUS not in state
        else Snapshot(
            status=state[Table.STATUS],
            status_message=state.get(Table.STATUS_MESSAGE, ""),
            items=dict(state.get(Table.ITEMS, {})),
            item_messages=dict(state.get(Table.ITEM_MESSAGES, {})),
            creation_time=state.get(Table.CREATION_TIME, ""),
            completion_time=state.get(Table.COMPLETION_TIME, ""),
        ),
        version=int(state[Table.VERSION]),
        events_seen=Table.LAST_EVENT_AT in state,
        execution_arns=frozenset(state.get(Table.EXECUTION_ARNS, set())),
        wait_token=state.get(Table.WAIT_TOKEN),
        # A state written before statusSince existed: its last change is the latest the status can have begun.
        status_since=str(state.get(Table.STATUS_SINCE) or state.get(Table.STATUS_INDEX_SK, "")),
        stalled=Table.STALLED in state,
        wait_attempt=int(state.get(Table.WAIT_ATTEMPT, 0)),
    )
