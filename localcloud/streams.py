"""DynamoDB stream → Lambda, as an event source mapping runs it (moto would invoke in the writer's thread).

What Lambda documents for stream sources and this module does: records of a shard are delivered in order,
in batches of at most ``BatchSize``, only those matching the mapping's filter criteria; a failed batch is
retried (the whole batch, or from the first record the function reported with ``batchItemFailures``)
until ``MaximumRetryAttempts`` is spent, and the on-failure destination then gets a record naming the
batch (``DDBStreamBatchInfo``), not the records themselves. Lambda does not document the backoff between
stream retries; here it doubles from one (simulated) second, capped at a minute.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from moto.events.models import EventPattern

from localcloud import iam

_RETRY_WAIT_FIRST, _RETRY_WAIT_MAX = 1.0, 60.0


@dataclass(frozen=True)
class StreamMapping:
    """An ``AWS::Lambda::EventSourceMapping`` reading a table's stream."""

    table: str
    stream_arn: str
    function_name: str
    batch_size: int = 100
    filters: list[dict[str, Any]] = field(default_factory=list)
    maximum_retry_attempts: int = -1  # -1: until the record expires
    report_item_failures: bool = False
    on_failure_queue: str | None = None  # queue name


class StreamPoller:
    """One ordered worker per mapping. A worker with records to deliver is an actor of the simulated clock, so
    time does not move past its records, and the cloud waits for it before shutting down. It is not work that
    publishing an event waits for (an execution delivering events would otherwise wait on a worker that waits
    for time to move)."""

    def __init__(
        self,
        invoke: Callable[[str, dict[str, Any]], tuple[str, bool]],
        sleep: Callable[[float], None],
        now: Callable[[], datetime],
        on_idle: Callable[[], None] = lambda: None,
        turns: Any = None,
    ) -> None:
        self._invoke, self._sleep, self._now = invoke, sleep, now
        self._on_idle = on_idle  # a worker delivered all it had: one actor fewer, the simulated clock may move
        self._turns = turns  # a TurnClock: a worker with records is one of its actors
        self._actors: dict[str, Any] = {}  # by function name, while its worker has records
        self._mappings: list[StreamMapping] = []
        self._queues: dict[str, deque[dict[str, Any]]] = {}
        self._ready = threading.Condition()
        self._busy: set[str] = set()  # mappings whose worker has records to deliver
        self.failed_batches: list[dict[str, Any]] = []

    def start(self, mappings: list[StreamMapping]) -> None:
        self._mappings = mappings
        for mapping in mappings:
            self._queues[mapping.function_name] = deque()
            threading.Thread(target=self._work, args=(mapping,), daemon=True).start()

    def add(self, table: str, record: dict[str, Any]) -> None:
        """A record the table's stream got (called from the DynamoDB write)."""
        for mapping in self._mappings:
            delivered = {
                **record,
                "eventVersion": "1.1",
                "eventSourceARN": mapping.stream_arn,
                "dynamodb": {**record["dynamodb"], "ApproximateCreationDateTime": self._now().timestamp()},
            }
            if mapping.table != table or not _matches(mapping.filters, delivered):
                continue
            with self._ready:
                if mapping.function_name not in self._busy and self._turns is not None:
                    self._actors[mapping.function_name] = self._turns.actor(f"stream {mapping.function_name}")
                self._busy.add(mapping.function_name)  # the worker has work: one more actor of the clock
                self._queues[mapping.function_name].append(delivered)
                self._ready.notify_all()

    @property
    def in_flight(self) -> int:
        """Workers with records to deliver (each may be waiting to retry on the simulated clock)."""
        with self._ready:
            return len(self._busy)

    def wait_idle(self, timeout: float) -> None:
        """Wait (real time) until every record is delivered or given up."""
        with self._ready:
            if not self._ready.wait_for(lambda: not self._busy, timeout=timeout):
                raise TimeoutError(f"stream records still to deliver to {sorted(self._busy)}")

    def _work(self, mapping: StreamMapping) -> None:
        queue = self._queues[mapping.function_name]
        while True:
            with self._ready:
                self._ready.wait_for(lambda: bool(queue))
                actor = self._actors.get(mapping.function_name)
            with self._turns.turn(actor) if actor is not None else contextlib.nullcontext():
                self._work_off(mapping, queue)

    def _work_off(self, mapping: StreamMapping, queue: deque[dict[str, Any]]) -> None:
        """Deliver batches until the queue is empty."""
        idle = False
        while not idle:
            with self._ready:
                batch = [queue.popleft() for _ in range(min(len(queue), mapping.batch_size))]
            try:
                self._deliver(mapping, batch)
            finally:
                with self._ready:
                    idle = not queue
                    if idle:
                        self._busy.discard(mapping.function_name)
                        self._actors.pop(mapping.function_name, None)
                        self._ready.notify_all()
                if idle:
                    self._on_idle()

    def _deliver(self, mapping: StreamMapping, batch: list[dict[str, Any]]) -> None:
        attempts, wait = 0, _RETRY_WAIT_FIRST
        while batch:
            result, errored = self._invoke(mapping.function_name, {"Records": batch})
            attempts += 1
            if not errored:
                batch = _from_first_failure(batch, result) if mapping.report_item_failures else []
                if not batch:
                    return
            if 0 <= mapping.maximum_retry_attempts < attempts:
                self._give_up(mapping, batch, attempts)
                return
            self._sleep(wait)
            wait = min(wait * 2, _RETRY_WAIT_MAX)

    def _give_up(self, mapping: StreamMapping, batch: list[dict[str, Any]], attempts: int) -> None:
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        function = boto3.client("lambda").get_function(FunctionName=mapping.function_name)["Configuration"]
        record = {
            "version": "1.0",
            "timestamp": self._now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": "",
                "functionArn": function["FunctionArn"],
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "DDBStreamBatchInfo": {
                "shardId": "shardId-local",
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": first["ApproximateCreationDateTime"],
                "approximateArrivalOfLastRecord": last["ApproximateCreationDateTime"],
                "batchSize": len(batch),
                "streamArn": mapping.stream_arn,
            },
        }
        self.failed_batches.append(record)
        if mapping.on_failure_queue:
            sqs = boto3.client("sqs")
            with iam.acting_as(function["Role"]):  # the mapping sends with the function's execution role
                url = sqs.get_queue_url(QueueName=mapping.on_failure_queue)["QueueUrl"]
                sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))


# Lambda's docs: "DynamoDB event source mappings only support filtering on the dynamodb key" (with-ddb-filtering),
# while the same pages show `eventName` in examples. Strict (the default): a pattern naming any other top-level
# key of a record matches nothing. Lenient: the whole record is matched. Tests run the stack under both.
STRICT_FILTER_KEYS = True


def _matches(filters: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    """Filter criteria use EventBridge's pattern syntax; any one filter that matches lets the record through."""
    return not filters or any(
        (not STRICT_FILTER_KEYS or set(pattern) <= {"dynamodb"})
        and _pattern(json.dumps(pattern, sort_keys=True)).matches_event(_pruned(record, pattern))
        for pattern in filters
    )


@functools.lru_cache(maxsize=64)
def _pattern(text: str) -> EventPattern:
    return EventPattern.load(text)


def _pruned(value: Any, pattern: Any) -> Any:
    """Only the fields the pattern names: moto's matcher copies the whole record through JSON first, and an item
    image can be large. What a pattern does not name cannot change whether it matches."""
    if not isinstance(pattern, dict) or not isinstance(value, dict):
        return value
    return {key: _pruned(value[key], pattern[key]) for key in pattern if key in value}


def _from_first_failure(batch: list[dict[str, Any]], result: str) -> list[dict[str, Any]]:
    """The records to retry after a partial batch response: from the first one reported, on."""
    failures = (json.loads(result) or {}).get("batchItemFailures") or []
    reported = {str(failure.get("itemIdentifier")) for failure in failures}
    for index, record in enumerate(batch):
        if record["dynamodb"]["SequenceNumber"] in reported:
            return batch[index:]
    return []
