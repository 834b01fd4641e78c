"""An account-wide budget for HealthOmics API calls, shared by every Lambda invocation.

HealthOmics limits each operation per account and region (e.g. 5 or 1 calls per second); the tracker
takes a share of that limit and leaves the rest to the account's other users. Every invocation draws on
the same budget, so it is kept in DynamoDB, not in memory.

The algorithm is GCRA (generic cell rate algorithm) without burst: one number per operation, the
theoretical arrival time ``tat`` at which the next call may go. A caller takes the slot
``start = max(tat, now)``, moves ``tat`` on to ``start + interval`` (interval = 1 / calls per second) and
sleeps until ``start``. Granted calls are thus at least one interval apart, and at N calls per second no
1-second window holds more than N. A caller whose slot is further away than it may wait takes nothing:
``BudgetExhausted`` tells it how long to wait, so the polls of many jobs slow down together instead of
being throttled. Times are whole microseconds (integers), so the spacing is exact and never rounds below
the interval.

A caller that can come back later (a poll: its state machine waits) may instead *book* a slot up to
``book_within_seconds`` away: it takes the slot as any caller does, makes no call, and ``SlotBooked`` says
when the slot is. Coming back just before it with the ``Slot``, it sleeps until the slot and calls without
another write. A booked slot is used at most once and never after its moment (late, it is dropped and a new
one taken): calls stay one interval apart. So a queue of polls costs one write per poll, not one per retry.

Taking a slot is one conditional UpdateItem, with no read before it. While calls queue (``tat > now``)
it is relative, ``tat = tat + interval`` if ``tat <= now + max delay``: DynamoDB applies concurrent updates
of an item one after the other, so no caller loses a race and none starves. When the queue is empty it is
``tat = now + interval`` if ``tat <= now``. A failed condition returns the item as it found it, which says
which of the two to try next (or that the queue is too long); only a queue that empties or fills just then
makes a caller try again.

The item lives in the history table (``pk = BUDGET#<operation>``, ``sk = RATE``, attribute ``tat``,
epoch seconds): the handlers already have the table and its UpdateItem grant, it is on demand, and one
small item per operation costs nothing to keep. Nothing that reads jobs sees it: its key is not ``JOB#…``,
it has no ``currentStatus`` (the sparse ``ByStatus`` index skips it), and its sort key is not ``EVENT#…``
(the stream filter of the Notify function skips it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from tracker import clock
from tracker.contract import OMICS_RATE_LIMITS, BudgetExhausted, Table

BUDGET_PK_PREFIX = "BUDGET#"
RATE_SK = "RATE"
TAT = "tat"
# Tries are lost only when the queue empties or fills between two of them; more than this is contention.
MAX_ATTEMPTS = 10

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_PER_SECOND = 1_000_000


@dataclass(frozen=True)
class Slot:
    """A booked slot: the moment (epoch microseconds) an operation's call may go."""

    operation: str
    at: int

    def to_json(self) -> dict[str, Any]:
        return {"operation": self.operation, "at": self.at}

    @classmethod
    def from_json(cls, data: Any) -> Slot | None:
        """The slot a state carries back, or None (absent or not a slot: a new one is taken)."""
        if not isinstance(data, dict):
            return None
        operation, at = data.get("operation"), data.get("at")
        if not isinstance(operation, str) or type(at) is not int:
            return None
        return cls(operation, at)


class SlotBooked(Exception):
    """No call was made: the caller's slot is `slot`, `wait_seconds` from now; it comes back then."""

    def __init__(self, slot: Slot, wait_seconds: float) -> None:
        super().__init__(f"{slot.operation}: slot booked {wait_seconds:.3f} s from now")
        self.slot = slot
        self.wait_seconds = wait_seconds


@dataclass(frozen=True)
class BudgetRate:
    calls_per_second: float

    def __post_init__(self) -> None:
        if not (self.calls_per_second > 0 and math.isfinite(self.calls_per_second)):
            raise ValueError(f"calls per second must be positive, not {self.calls_per_second}")

    @classmethod
    def for_share(cls, limit_per_second: float, share: float) -> BudgetRate:
        """The tracker's part of an account limit: whole calls per second, or a fraction of one."""
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], not {share}")
        if not (limit_per_second > 0 and math.isfinite(limit_per_second)):
            raise ValueError(f"limit must be a positive number of calls per second, not {limit_per_second}")
        allowed = limit_per_second * share
        # Whole calls when there is at least one: 2.5 calls per second, 0.4 s apart, would put 3 calls
        # into some 1-second windows. The epsilon keeps 100 * 0.29 (28.999999999999996) at 29.
        whole = math.floor(allowed + 1e-9)
        return cls(float(whole) if whole >= 1 else allowed)

    @property
    def interval_seconds(self) -> float:
        return 1 / self.calls_per_second

    @property
    def interval_microseconds(self) -> int:
        # Rounded up, so calls are never closer than the rate allows (round() drops float noise first).
        return math.ceil(round(_PER_SECOND / self.calls_per_second, 3))


class CallBudget:
    def __init__(self, dynamodb: Any, table_name: str, rates: dict[str, BudgetRate]) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._rates = dict(rates)
        # The tat this container last saw per operation: which write to try first. A queue seen empty is
        # likely still empty (calls are sparse when events flow), so restart first and spare the failed append.
        self._seen: dict[str, int] = {}

    def acquire(
        self,
        operation: str,
        max_delay_seconds: float,
        book_within_seconds: float = 0,
        booked: Slot | None = None,
    ) -> float:
        """Waits for the operation's next slot and returns the seconds waited (0 for an operation without
        a rate). A slot more than ``max_delay_seconds`` away is booked if it is at most
        ``book_within_seconds`` away (``SlotBooked``), else ``BudgetExhausted``. ``booked``: a slot booked
        before, used (waited for, no write) if it is this operation's and still ahead within the delay."""
        rate = self._rates.get(operation)
        if rate is None:
            return 0.0
        now = _microseconds(clock.utc_now())
        if booked is not None and booked.operation == operation and now <= booked.at <= now + _micro(max_delay_seconds):
            wait = (booked.at - now) / _PER_SECOND
        else:
            start, now = self._reserve(operation, rate, max(max_delay_seconds, book_within_seconds))
            wait = (start - now) / _PER_SECOND
            if wait > max_delay_seconds:
                raise SlotBooked(Slot(operation, start), wait)
        if wait > 0:
            clock.sleep(wait)
        return wait

    def _reserve(self, operation: str, rate: BudgetRate, max_delay_seconds: float) -> tuple[int, int]:
        """Takes the next slot: (its moment, now), in epoch microseconds."""
        key = {Table.PK: {"S": f"{BUDGET_PK_PREFIX}{operation}"}, Table.SK: {"S": RATE_SK}}
        interval = rate.interval_microseconds
        # Under load the queue is seldom empty, so without a hint the first try appends (one write, no read).
        seen, tat = self._seen.get(operation), None
        queued = seen is None or seen > _microseconds(clock.utc_now())
        for _ in range(MAX_ATTEMPTS):
            now = _microseconds(clock.utc_now())
            latest = now + _micro(max_delay_seconds)
            taken, tat = self._append(key, now, latest, interval) if queued else self._restart(key, now, interval)
            if tat is not None:
                self._seen[operation] = tat
            if taken and tat is not None:
                return tat - interval, now
            # Not taken: tat is as the failed write found it, and says which write to try next.
            if tat is not None and tat > latest:
                raise BudgetExhausted(operation, (tat - now) / _PER_SECOND)
            queued = tat is not None and tat > now
        raise BudgetExhausted(operation, interval / _PER_SECOND)

    def _append(self, key: dict[str, Any], now: int, latest: int, interval: int) -> tuple[bool, int | None]:
        """A slot at the end of a queue that is waiting (now < tat) and short enough (tat <= latest).

        Relative (tat + interval), so concurrent callers never lose to each other: DynamoDB applies
        the updates to the item one after the other, and each gets its own slot."""
        return self._update(
            key,
            "SET #tat = #tat + :interval",
            "#tat > :now AND #tat <= :latest",
            {":interval": _seconds(interval), ":now": _seconds(now), ":latest": _seconds(latest)},
        )

    def _restart(self, key: dict[str, Any], now: int, interval: int) -> tuple[bool, int | None]:
        """The slot ``now``, if the queue is empty (no tat yet, or tat not after now)."""
        return self._update(
            key,
            "SET #tat = :tat",
            "attribute_not_exists(#tat) OR #tat <= :now",
            {":tat": _seconds(now + interval), ":now": _seconds(now)},
        )

    def _update(
        self, key: dict[str, Any], expression: str, condition: str, values: dict[str, str]
    ) -> tuple[bool, int | None]:
        """(taken, tat): the new tat if the condition held, else the tat the condition failed on."""
        try:
            response = self._dynamodb.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#tat": TAT},
                ExpressionAttributeValues={name: {"N": value} for name, value in values.items()},
                ReturnValues="UPDATED_NEW",
                # The item as the failed condition saw it: no read needed to decide what to do next.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False, _tat_of(error.response.get("Item"))
        return True, _tat_of(response.get("Attributes"))


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _micro(seconds: float) -> int:
    return max(0, math.floor(seconds * _PER_SECOND))


def _seconds(microseconds: int) -> str:
    """Epoch seconds as a DynamoDB number, exact to the microsecond."""
    return str(Decimal(microseconds).scaleb(-6))


def _tat_of(item: dict[str, Any] | None) -> int | None:
    if not item or TAT not in item:
        return None
    return math.ceil(Decimal(item[TAT]["N"]).scaleb(6))


def budget_rates(share: float) -> dict[str, BudgetRate]:
    """The tracker's rate of every HealthOmics operation it calls: `share` of its documented limit."""
    return {operation: BudgetRate.for_share(limit, share) for operation, limit in OMICS_RATE_LIMITS.items()}


class BudgetedClient:
    """A boto3 client whose every call first takes its slot in the budget (waiting at most `max_delay_seconds`,
    else BudgetExhausted and no call). `booking`: the same client for a caller that books far slots."""

    def __init__(
        self,
        client: Any,
        budget: CallBudget,
        max_delay_seconds: float,
        book_within_seconds: float = 0,
        booked: Slot | None = None,
    ) -> None:
        self._client = client
        self._budget = budget
        self._max_delay = max_delay_seconds
        self._book_within = book_within_seconds
        self._booked = booked
        self._operations: dict[str, str] = client.meta.method_to_api_mapping

    def booking(self, within_seconds: float, booked: Slot | None) -> BudgetedClient:
        """This client, booking slots up to `within_seconds` away (SlotBooked) and using `booked` if it fits."""
        return BudgetedClient(self._client, self._budget, self._max_delay, within_seconds, booked)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        operation = self._operations.get(name)
        if operation is None:
            return attribute

        def call(**kwargs: Any) -> Any:
            self._budget.acquire(operation, self._max_delay, self._book_within, self._booked)
            return attribute(**kwargs)

        return call
