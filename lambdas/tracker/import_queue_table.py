"""A reference store's import queue in the history table: reads and conditional writes, nothing decided here.

One item collection per store (``pk = STORE#<storeId>``):
- ``sk = LOCK``: the import that holds the store (``jobId``, its batch of entries), the batch being started
  (``claim``), the last entry served (``cursor``) and a ``version`` every change is conditional on;
- ``sk = QUEUE#<arrival>#<token>``: one waiting request (its sources, its execution), marked ``queued`` until
  an import takes it, then holding its ``jobId`` and finally its ``outcome``; ``turnVersion`` counts the
  changes its execution must hear about (it parks its task token conditional on it);
- ``sk = TICKET#<token>``: where a request's entry is, so a repeated or handed-over request keeps its place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError

from tracker.contract import Table
from tracker.dynamodb_items import from_item, to_item


def store_pk(store_id: str) -> str:
    return f"{Table.STORE_PK_PREFIX}{store_id}"


def _conflict(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in {
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    }


@dataclass(frozen=True)
class Outcome:
    """How a request's import ended for its own sources (the execution ends with it)."""

    succeeded: bool
    error: str = ""
    cause: str = ""
    job_status: str = ""
    sources: dict[str, str] = field(default_factory=dict)  # source file -> its final status
    superseded_by: str = ""  # the later request (its execution) that imports the same files instead

    def to_json(self) -> dict[str, Any]:
        return {
            "succeeded": self.succeeded,
            "error": self.error,
            "cause": self.cause,
            "jobStatus": self.job_status,
            "sources": self.sources,
            **({"supersededBy": self.superseded_by} if self.superseded_by else {}),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Outcome:
        return cls(
            bool(value["succeeded"]),
            str(value.get("error", "")),
            str(value.get("cause", "")),
            str(value.get("jobStatus", "")),
            dict(value.get("sources") or {}),
            str(value.get("supersededBy", "")),
        )


@dataclass(frozen=True)
class Entry:
    store_id: str
    key: str  # its sort key: QUEUE#<arrival>#<token>
    token: str
    sources: list[dict[str, Any]]  # as StartReferenceImportJob takes them (boto3 names)
    arrived_at: str
    execution_arn: str
    queued: bool
    job_id: str | None
    leader: bool
    outcome: Outcome | None
    turn_version: int

    @property
    def source_files(self) -> list[str]:
        return [str(source["sourceFile"]) for source in self.sources]


def arrival_of(key: str) -> str:
    """The arrival time in an entry's key (QUEUE#<arrival>#<token>)."""
    return key.removeprefix(Table.ENTRY_SK_PREFIX).rsplit("#", 1)[0]


@dataclass(frozen=True)
class Claim:
    """A batch being started: the client token of its import and its entries' sources."""

    token: str
    entries: dict[str, list[dict[str, Any]]]  # entry key -> its sources, in arrival order
    tried_at: str  # when a dispatcher last set out to start it

    @property
    def sources(self) -> list[dict[str, Any]]:
        return [source for sources in self.entries.values() for source in sources]


@dataclass(frozen=True)
class Lock:
    store_id: str
    version: int  # 0: no item yet
    job_id: str | None = None  # the import holding the store (the tracker's, or one started outside it)
    batch: dict[str, list[str]] = field(default_factory=dict)  # its entries -> their source files
    settled: bool = False  # every entry of the batch has its outcome
    checked_at: str = ""  # when the holding import was last looked at by the queue itself
    cursor: str = ""  # the key of the last entry served
    claim: Claim | None = None
    isolate: bool = False  # the last multi-request batch was refused: start the next request alone


class ImportQueueTable:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    # ---- entries ---------------------------------------------------------------------------
    def enqueue(
        self, store_id: str, token: str, sources: list[dict[str, Any]], execution_arn: str, arrived_at: str
    ) -> Entry:
        """The request's entry: a new one at the end of the queue, or the one a request with its token holds."""
        pk = store_pk(store_id)
        key = f"{Table.ENTRY_SK_PREFIX}{arrived_at}#{token}"
        entry = {
            Table.PK: pk,
            Table.SK: key,
            "token": token,
            "sources": sources,
            "arrivedAt": arrived_at,
            "executionArn": execution_arn,
            "queued": True,
            Table.TURN_VERSION: 0,
        }
        ticket = {Table.PK: pk, Table.SK: f"{Table.TICKET_SK_PREFIX}{token}", "entry": key}
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[
                    {"Put": self._put(ticket)},
                    {"Put": self._put(entry)},
                ]
            )
        except ClientError as error:
            if not _conflict(error):
                raise
            existing = self.entry_for_token(store_id, token)
            if existing is None:
                raise
            return existing
        return self._entry(entry)

    def entry_for_token(self, store_id: str, token: str) -> Entry | None:
        ticket = self._get(store_id, f"{Table.TICKET_SK_PREFIX}{token}")
        return self.entry(store_id, str(ticket["entry"])) if ticket else None

    def entry(self, store_id: str, key: str) -> Entry | None:
        item = self._get(store_id, key)
        return self._entry(item) if item else None

    def waiting(self, store_id: str, arrived_since: str, limit: int) -> list[Entry]:
        """Up to `limit` queued entries in arrival order, from those that arrived at `arrived_since` on."""
        start = f"{Table.ENTRY_SK_PREFIX}{arrived_since}"
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :from AND :to",
            "FilterExpression": "attribute_exists(queued)",
            "ExpressionAttributeNames": {"#pk": Table.PK, "#sk": Table.SK},
            "ExpressionAttributeValues": to_item(
                {":pk": store_pk(store_id), ":from": start, ":to": f"{Table.ENTRY_SK_PREFIX}\uffff"}
            ),
            "ConsistentRead": True,
        }
        found: list[Entry] = []
        while len(found) < limit:
            page = self._dynamodb.query(**kwargs)
            found.extend(self._entry(from_item(item)) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found[:limit]

    def settle(self, store_id: str, key: str, outcome: Outcome) -> str | None:
        """Give the entry its outcome (once); the task token of its execution, if one is parked."""
        return self._bump(
            store_id,
            key,
            "SET outcome = :outcome REMOVE queued",
            "attribute_exists(#sk) AND attribute_not_exists(outcome)",
            {":outcome": outcome.to_json()},
        )

    # ---- the lock ------------------------------------------------------------------------------
    def lock(self, store_id: str) -> Lock:
        item = self._get(store_id, Table.LOCK_SK)
        if item is None:
            return Lock(store_id, 0)
        claim = item.get("claim")
        return Lock(
            store_id=store_id,
            version=int(item["version"]),
            job_id=item.get("jobId"),
            batch={key: list(files) for key, files in (item.get("batch") or {}).items()},
            settled=bool(item.get("settled", False)),
            checked_at=str(item.get("checkedAt", "")),
            cursor=str(item.get("cursor", "")),
            # A map's keys come back in no particular order: the claim keeps its entries as a list.
            claim=(
                Claim(str(claim["token"]), {e["key"]: list(e["sources"]) for e in claim["entries"]}, str(claim["at"]))
                if claim
                else None
            ),
            isolate=bool(item.get("isolate", False)),
        )

    def hold(self, lock: Lock, job_id: str, checked_at: str, keep_claim: bool = True) -> Lock | None:
        """The store is held by an import the tracker did not start (nobody waits on it in this queue). A claimed
        batch that was never sent may be let go (`keep_claim` False)."""
        held = replace(lock, job_id=job_id, batch={}, settled=False, checked_at=checked_at)
        return self._write_lock(lock, held if keep_claim else replace(held, claim=None))

    def checked(self, lock: Lock, checked_at: str) -> Lock | None:
        return self._write_lock(lock, replace(lock, checked_at=checked_at))

    def mark_settled(self, lock: Lock) -> Lock | None:
        return self._write_lock(lock, replace(lock, settled=True))

    def claim(self, lock: Lock, claim: Claim) -> Lock | None:
        """Reserve the next batch (only one dispatcher wins); None if the lock moved since it was read."""
        return self._write_lock(lock, replace(lock, claim=claim))

    def split(self, lock: Lock) -> Lock | None:
        """HealthOmics refused the batch: forget it and start its first request alone next time."""
        return self._write_lock(lock, replace(lock, claim=None, isolate=True))

    def refuse(self, lock: Lock, key: str, outcome: Outcome) -> str | None:
        """HealthOmics refused a batch of one request: that request ends with the refusal, the queue moves on."""
        token = self.settle(lock.store_id, key, outcome)
        self._write_lock(lock, replace(lock, claim=None, isolate=False, cursor=max(lock.cursor, key)))
        return token

    def assign(self, lock: Lock, job_id: str, checked_at: str) -> tuple[Lock | None, str | None]:
        """The claimed batch's import started: each entry learns its job, the first one leads (it follows the
        job for the batch). The lock then names the job. Returns the lock and the leader's parked task token."""
        assert lock.claim is not None
        keys = list(lock.claim.entries)
        leader_token = None
        for index, key in enumerate(keys):
            leads = index == 0
            token = self._bump(
                lock.store_id,
                key,
                "SET jobId = :job, leader = :leads REMOVE queued",
                "attribute_exists(queued) OR jobId = :job",
                {":job": job_id, ":leads": leads},
                bump=leads,
            )
            if leads:
                leader_token = token
        updated = Lock(
            store_id=lock.store_id,
            version=lock.version,
            job_id=job_id,
            batch={key: [str(s["sourceFile"]) for s in sources] for key, sources in lock.claim.entries.items()},
            settled=False,
            checked_at=checked_at,
            cursor=max(lock.cursor, keys[-1]),
            claim=None,
            isolate=False,
        )
        return self._write_lock(lock, updated), leader_token

    # ---- plumbing ---------------------------------------------------------------------------
    def _write_lock(self, expected: Lock, updated: Lock) -> Lock | None:
        """Write `updated` if the lock is still `expected`: the lock as written, or None if it moved."""
        item = {
            Table.PK: store_pk(expected.store_id),
            Table.SK: Table.LOCK_SK,
            "version": expected.version + 1,
            "jobId": updated.job_id,
            "batch": updated.batch or None,
            "settled": updated.settled,
            "checkedAt": updated.checked_at or None,
            "cursor": updated.cursor or None,
            "claim": (
                {
                    "token": updated.claim.token,
                    "at": updated.claim.tried_at,
                    "entries": [{"key": key, "sources": sources} for key, sources in updated.claim.entries.items()],
                }
                if updated.claim
                else None
            ),
            "isolate": updated.isolate,
        }
        condition = "attribute_not_exists(#sk)" if expected.version == 0 else "version = :expected"
        values = {} if expected.version == 0 else to_item({":expected": expected.version})
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#sk": Table.SK} if expected.version == 0 else {},
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except ClientError as error:
            if _conflict(error):
                return None
            raise
        return replace(updated, version=expected.version + 1)

    def _bump(
        self, store_id: str, key: str, update: str, condition: str, values: dict[str, Any], bump: bool = True
    ) -> str | None:
        """Update an entry; with `bump`, also tell its execution (turnVersion + 1): the parked token, if any."""
        set_clause, _, removed = update.partition(" REMOVE ")
        if bump:
            set_clause += f", {Table.TURN_VERSION} = {Table.TURN_VERSION} + :one"
            values = {**values, ":one": 1}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item({Table.PK: store_pk(store_id), Table.SK: key}),
            "UpdateExpression": set_clause + (f" REMOVE {removed}" if removed else ""),
            "ConditionExpression": condition,
            "ExpressionAttributeValues": to_item(values),
            "ReturnValues": "ALL_NEW",
        }
        if "#sk" in condition:
            kwargs["ExpressionAttributeNames"] = {"#sk": Table.SK}
        try:
            response = self._dynamodb.update_item(**kwargs)
        except ClientError as error:
            if _conflict(error):
                return None
            raise
        token = from_item(response.get("Attributes", {})).get(Table.WAIT_TOKEN)
        return str(token) if bump and token else None

    def _put(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(#sk)",
            "ExpressionAttributeNames": {"#sk": Table.SK},
        }

    def _get(self, store_id: str, key: str) -> dict[str, Any] | None:
        response = self._dynamodb.get_item(
            TableName=self._table, Key=to_item({Table.PK: store_pk(store_id), Table.SK: key}), ConsistentRead=True
        )
        return from_item(response["Item"]) if "Item" in response else None

    @staticmethod
    def _entry(item: dict[str, Any]) -> Entry:
        outcome = item.get("outcome")
        return Entry(
            store_id=str(item[Table.PK]).removeprefix(Table.STORE_PK_PREFIX),
            key=str(item[Table.SK]),
            token=str(item["token"]),
            sources=[dict(source) for source in item.get("sources", [])],
            arrived_at=str(item["arrivedAt"]),
            execution_arn=str(item.get("executionArn", "")),
            queued=bool(item.get("queued", False)),
            job_id=item.get("jobId"),
            leader=bool(item.get("leader", False)),
            outcome=Outcome.from_json(outcome) if outcome else None,
            turn_version=int(item.get(Table.TURN_VERSION, 0)),
        )
