"""call_budget: the GCRA call budget over a moto table, on a fake clock that advances when callers sleep."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler

from tests.unit.history_table import create_history_table
from tracker import call_budget, clock
from tracker.call_budget import BudgetExhausted, BudgetRate, CallBudget
from tracker.contract import Table

REGION = "us-east-1"
TABLE = "history"
OPERATION = "GetReferenceImportJob"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)


class FakeClock:
    """Time moves only when a caller sleeps. Each thread keeps its own time (when it last read the clock, plus
    what it slept since): the moment its call goes out. The shared time is the latest any thread reached."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    def utc_now(self) -> datetime:
        with self._lock:
            self._local.at = self.now
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._local.at = self._local.at + timedelta(seconds=seconds)
            self.now = max(self.now, self._local.at)

    def thread_time(self) -> datetime:
        at: datetime = self._local.at
        return at


def _locked(method: Callable[..., Any], lock: threading.RLock) -> Callable[..., Any]:
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return locked


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    """A moto table keyed like the history table. DynamoDB applies each request atomically, and the item a
    write returns (UPDATED_NEW, or ALL_OLD when its condition failed) is the item as that write saw it. moto's
    in-memory backend does neither across threads: its answer serializes the live item after the lock of a
    backend call is gone, so two writes could both report the other's result. Each request is handled under
    one lock here, as the local cloud does (localcloud/fixes.py)."""
    lock = threading.RLock()
    with mock_aws(), mock.patch.object(DynamoHandler, "call_action", _locked(DynamoHandler.call_action, lock)):
        client = boto3.client("dynamodb", region_name=REGION)
        create_history_table(client, TABLE)
        yield client


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    fake = FakeClock(T0)
    with mock.patch.object(clock, "utc_now", fake.utc_now), mock.patch.object(clock, "sleep", fake.sleep):
        yield fake


def _stored_tat(dynamodb: Any, operation: str = OPERATION) -> str | None:
    key = {Table.PK: {"S": f"BUDGET#{operation}"}, Table.SK: {"S": "RATE"}}
    item = dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")
    return None if item is None else str(item["tat"]["N"])


# ---- Rates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "share", "per_second", "interval"),
    [
        (5, 0.5, 2, 0.5),  # 2.5 rounds down: 0.4 s apart would put 3 calls into some seconds
        (1, 0.5, 0.5, 2.0),  # less than one call per second: one call every 2 s
        (1, 1.0, 1, 1.0),
        (100, 0.29, 29, 1 / 29),  # float noise (28.999999999999996) does not lose a call
        (3, 0.1, 0.3, 1 / 0.3),
    ],
)
def test_rate_is_the_share_of_the_limit(limit: float, share: float, per_second: float, interval: float) -> None:
    rate = BudgetRate.for_share(limit, share)

    assert rate.calls_per_second == pytest.approx(per_second)
    assert rate.interval_seconds == pytest.approx(interval)
    assert rate.interval_microseconds >= rate.interval_seconds * 1_000_000


@pytest.mark.parametrize("share", [0, -0.5, 1.01, float("nan")])
def test_share_outside_zero_to_one_is_rejected(share: float) -> None:
    with pytest.raises(ValueError, match="share"):
        BudgetRate.for_share(5, share)


@pytest.mark.parametrize("limit", [0, -1, float("inf")])
def test_limit_must_be_a_positive_number(limit: float) -> None:
    with pytest.raises(ValueError, match="limit"):
        BudgetRate.for_share(limit, 0.5)


# ---- One caller -------------------------------------------------------------------------------


def test_calls_are_spaced_by_the_interval(dynamodb: Any, fake_clock: FakeClock) -> None:
    budget = CallBudget(dynamodb, TABLE, {OPERATION: BudgetRate.for_share(5, 0.5)})

    waits, granted = [], []
    for _ in range(4):
        waits.append(budget.acquire(OPERATION, max_delay_seconds=10))
        granted.append(fake_clock.thread_time())

    assert waits == [0.0, 0.5, 0.5, 0.5]
    assert granted == [T0 + timedelta(seconds=0.5 * n) for n in range(4)]
    assert fake_clock.sleeps == [0.5, 0.5, 0.5]  # the first call does not sleep at all
    # tat is the next free slot, in epoch seconds
    assert _stored_tat(dynamodb) == f"{(T0 + timedelta(seconds=2)).timestamp():.6f}"


def test_idle_time_is_not_saved_up_for_a_burst(dynamodb: Any, fake_clock: FakeClock) -> None:
    budget = CallBudget(dynamodb, TABLE, {OPERATION: BudgetRate.for_share(5, 0.5)})
    budget.acquire(OPERATION, max_delay_seconds=10)
    fake_clock.now += timedelta(minutes=5)

    assert [budget.acquire(OPERATION, max_delay_seconds=10) for _ in range(3)] == [0.0, 0.5, 0.5]


def _counting_updates(dynamodb: Any) -> tuple[Any, list[str]]:
    """The client, and the condition of every UpdateItem it sends (each one is a write, taken or not)."""
    conditions: list[str] = []

    def update_item(**kwargs: Any) -> Any:
        conditions.append(kwargs["ConditionExpression"])
        return dynamodb.update_item(**kwargs)

    return mock.Mock(wraps=dynamodb, update_item=update_item), conditions


def test_sparse_calls_cost_one_write_each_once_the_queue_was_seen_empty(dynamodb: Any, fake_clock: FakeClock) -> None:
    # Given a caller whose calls are minutes apart (events flow; polls are rare)
    counted, conditions = _counting_updates(dynamodb)
    budget = CallBudget(counted, TABLE, {OPERATION: BudgetRate.for_share(5, 0.5)})

    waits = []
    for _ in range(4):
        waits.append(budget.acquire(OPERATION, max_delay_seconds=10))
        fake_clock.now += timedelta(minutes=3)

    # Then only the first call tried to queue (the container knew nothing yet); every later one restarted the
    # empty queue at once: one write per call
    assert waits == [0.0] * 4
    appends, restarts = "#tat > :now AND #tat <= :latest", "attribute_not_exists(#tat) OR #tat <= :now"
    assert conditions == [appends, restarts, restarts, restarts, restarts]


def test_busy_calls_append_first_after_seeing_a_queue(dynamodb: Any, fake_clock: FakeClock) -> None:
    counted, conditions = _counting_updates(dynamodb)
    budget = CallBudget(counted, TABLE, {OPERATION: BudgetRate.for_share(5, 0.5)})
    budget.acquire(OPERATION, max_delay_seconds=10)
    conditions.clear()

    with mock.patch.object(clock, "sleep"):  # others hold the next slots: the clock does not reach them
        assert [budget.acquire(OPERATION, max_delay_seconds=10) for _ in range(3)] == [0.5, 1.0, 1.5]

    assert conditions == ["#tat > :now AND #tat <= :latest"] * 3


def test_a_queue_longer_than_the_caller_may_wait_is_exhausted(dynamodb: Any, fake_clock: FakeClock) -> None:
    # Given callers that each took a slot without the clock moving (others, still sleeping)
    budget = CallBudget(dynamodb, TABLE, {OPERATION: BudgetRate.for_share(1, 1.0)})
    with mock.patch.object(clock, "sleep"):
        assert [budget.acquire(OPERATION, max_delay_seconds=2) for _ in range(3)] == [0.0, 1.0, 2.0]
    tat = _stored_tat(dynamodb)

    # When the next slot is 3 s away and the caller may wait 2 s
    with pytest.raises(BudgetExhausted) as exhausted:
        budget.acquire(OPERATION, max_delay_seconds=2)

    # Then it is told to come back in 3 s, and took no slot
    assert (exhausted.value.operation, exhausted.value.retry_after_seconds) == (OPERATION, 3.0)
    assert _stored_tat(dynamodb) == tat
    fake_clock.now += timedelta(seconds=exhausted.value.retry_after_seconds)
    assert budget.acquire(OPERATION, max_delay_seconds=0) == 0.0


def _booked_behind_a_queue(dynamodb: Any) -> tuple[CallBudget, call_budget.SlotBooked]:
    """A queue 3 s long (callers still sleeping), then a caller that may wait 2 s but book up to 60 s asks."""
    budget = CallBudget(dynamodb, TABLE, {OPERATION: BudgetRate.for_share(1, 1.0)})
    with mock.patch.object(clock, "sleep"):
        [budget.acquire(OPERATION, max_delay_seconds=2) for _ in range(3)]
    with pytest.raises(call_budget.SlotBooked) as booked:
        budget.acquire(OPERATION, max_delay_seconds=2, book_within_seconds=60)
    return budget, booked.value


def test_a_slot_beyond_the_wait_is_booked_and_later_used_without_a_write(dynamodb: Any, fake_clock: FakeClock) -> None:
    # Given a queue 3 s long, when a caller that may wait 2 s but book up to 60 s asks for a slot
    budget, booked = _booked_behind_a_queue(dynamodb)

    # Then the slot 3 s away is its own (the queue moved on past it), and nothing was called or slept
    slot = booked.slot
    assert (slot.operation, booked.wait_seconds) == (OPERATION, 3.0)
    assert slot.at == call_budget._microseconds(T0 + 3 * ONE_SECOND)
    assert Decimal(str(_stored_tat(dynamodb))) == Decimal((T0 + 4 * ONE_SECOND).timestamp())
    assert fake_clock.sleeps == []

    # And coming back 1 s before it with the slot, it sleeps until the slot and writes nothing more
    fake_clock.now = T0 + 2 * ONE_SECOND
    tat = _stored_tat(dynamodb)
    assert budget.acquire(OPERATION, max_delay_seconds=2, book_within_seconds=60, booked=slot) == 1.0
    assert _stored_tat(dynamodb) == tat
    assert call_budget.Slot.from_json(slot.to_json()) == slot


@pytest.mark.parametrize(
    ("comes_back_after_seconds", "why"),
    [(3.5, "late: the slot has passed"), (-20, "early: beyond the wait (an event woke it)")],
)
def test_a_booked_slot_out_of_reach_is_dropped_for_a_new_one(
    dynamodb: Any, fake_clock: FakeClock, comes_back_after_seconds: float, why: str
) -> None:
    # Given a booked slot 3 s ahead
    budget, booked = _booked_behind_a_queue(dynamodb)
    slot = booked.slot
    fake_clock.now = T0 + timedelta(seconds=3 + comes_back_after_seconds)

    # When the caller comes back with it too late or too early, then it takes a new slot (a write): a slot is
    # used only at its moment, so calls stay an interval apart
    before = _stored_tat(dynamodb)
    try:
        budget.acquire(OPERATION, max_delay_seconds=2, book_within_seconds=60, booked=slot)
    except call_budget.SlotBooked as again:
        assert again.slot != slot
    assert _stored_tat(dynamodb) != before, why


def test_an_operation_without_a_rate_is_not_delayed(dynamodb: Any, fake_clock: FakeClock) -> None:
    budget = CallBudget(dynamodb, TABLE, {OPERATION: BudgetRate.for_share(1, 0.5)})

    assert [budget.acquire("GetVariantImportJob", max_delay_seconds=0) for _ in range(5)] == [0.0] * 5
    assert fake_clock.sleeps == []
    assert dynamodb.scan(TableName=TABLE)["Items"] == []


def test_operations_have_separate_budgets(dynamodb: Any, fake_clock: FakeClock) -> None:
    rate = BudgetRate.for_share(1, 1.0)
    budget = CallBudget(dynamodb, TABLE, {OPERATION: rate, "GetReadSetExportJob": rate})

    assert budget.acquire(OPERATION, max_delay_seconds=0) == 0.0
    assert budget.acquire("GetReadSetExportJob", max_delay_seconds=0) == 0.0


# ---- Races ------------------------------------------------------------------------------------


class Interfering:
    """A DynamoDB client on which another caller takes a slot just before each of our first `races` writes."""

    def __init__(self, client: Any, rival: CallBudget, races: int) -> None:
        self._client = client
        self._rival = rival
        self.races = races

    def get_item(self, **kwargs: Any) -> Any:
        return self._client.get_item(**kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        if self.races > 0:
            self.races -= 1
            with mock.patch.object(clock, "sleep"):
                self._rival.acquire(OPERATION, max_delay_seconds=60)
        return self._client.update_item(**kwargs)


def test_a_lost_race_takes_the_slot_after_the_winner(dynamodb: Any, fake_clock: FakeClock) -> None:
    rates = {OPERATION: BudgetRate.for_share(5, 0.5)}
    budget = CallBudget(Interfering(dynamodb, CallBudget(dynamodb, TABLE, rates), races=1), TABLE, rates)

    # The rival took T0; we take the next slot
    assert budget.acquire(OPERATION, max_delay_seconds=10) == 0.5
    assert _stored_tat(dynamodb) == f"{(T0 + ONE_SECOND).timestamp():.6f}"


class FlipFlop:
    """A DynamoDB client on which, before each write, the queue turns the other way from what the write expects:
    it empties before an append and fills before a restart."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.writes = 0

    def update_item(self, **kwargs: Any) -> Any:
        self.writes += 1
        now = clock.utc_now()
        appending = "#tat + :interval" in kwargs["UpdateExpression"]
        tat = now if appending else now + timedelta(seconds=1)
        self._client.put_item(TableName=TABLE, Item={**kwargs["Key"], "tat": {"N": f"{tat.timestamp():.6f}"}})
        return self._client.update_item(**kwargs)


def test_a_queue_that_keeps_flipping_gives_up_after_bounded_tries(dynamodb: Any, fake_clock: FakeClock) -> None:
    client = FlipFlop(dynamodb)

    with pytest.raises(BudgetExhausted) as exhausted:
        CallBudget(client, TABLE, {OPERATION: BudgetRate.for_share(1, 1.0)}).acquire(OPERATION, max_delay_seconds=60)

    assert client.writes == call_budget.MAX_ATTEMPTS
    assert exhausted.value.retry_after_seconds == 1.0


# ---- Many callers -----------------------------------------------------------------------------


def _granted_concurrently(rate: BudgetRate, fake_clock: FakeClock, threads: int, calls: int) -> list[datetime]:
    """Each thread is one Lambda invocation with its own client; the moments their calls went out, sorted."""
    clients = [boto3.session.Session().client("dynamodb", region_name=REGION) for _ in range(threads)]
    start = threading.Barrier(threads)
    granted: list[datetime] = []
    errors: list[BaseException] = []

    def caller(client: Any) -> None:
        budget = CallBudget(client, TABLE, {OPERATION: rate})
        start.wait()
        try:
            for _ in range(calls):
                budget.acquire(OPERATION, max_delay_seconds=3600)
                granted.append(fake_clock.thread_time())
        except BaseException as error:  # reported by the test thread
            errors.append(error)

    workers = [threading.Thread(target=caller, args=(client,)) for client in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    return sorted(granted)


@pytest.mark.parametrize(("limit", "share"), [(5, 0.5), (10, 0.3), (1, 1.0)])
def test_concurrent_callers_never_exceed_the_share_in_any_second(
    dynamodb: Any, fake_clock: FakeClock, limit: float, share: float
) -> None:
    rate = BudgetRate.for_share(limit, share)

    granted = _granted_concurrently(rate, fake_clock, threads=6, calls=5)

    assert len(granted) == 30
    busiest = max(sum(1 for other in granted if moment <= other < moment + ONE_SECOND) for moment in granted)
    assert busiest <= rate.calls_per_second  # never more than the share (how full depends on the threads' timing)
    # No slot given out twice: calls are at least one interval apart
    interval = timedelta(microseconds=rate.interval_microseconds)
    assert all(later - earlier >= interval for earlier, later in pairwise(granted))


def test_concurrent_callers_of_a_fractional_rate_are_an_interval_apart(dynamodb: Any, fake_clock: FakeClock) -> None:
    rate = BudgetRate.for_share(1, 0.5)

    granted = _granted_concurrently(rate, fake_clock, threads=6, calls=3)

    assert len(granted) == 18
    assert all(later - earlier >= timedelta(seconds=2) for earlier, later in pairwise(granted))
