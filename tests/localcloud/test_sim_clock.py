"""SimClock, the tests' clock: time moves only when every actor waits, to the earliest wake-up; waiters are woken
when they are due, interrupted, or told an actor stopped (recheck), not by polling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from localcloud.clock import EPOCH, SimClock


def in_thread(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def wait_until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.001)


def test_time_jumps_to_the_earliest_wakeup_once_every_actor_waits() -> None:
    clock = SimClock(actors=lambda: 2)
    woke: list[tuple[str, object]] = []
    first = in_thread(lambda: (clock.sleep(30), woke.append(("30 s", clock.now()))))
    time.sleep(0.05)
    assert clock.now() == EPOCH and not woke  # one actor of two waits: time stands still

    second = in_thread(lambda: (clock.sleep(90), woke.append(("90 s", clock.now()))))
    first.join(5)
    assert woke == [("30 s", EPOCH + timedelta(seconds=30))]
    second.join(0.1)
    assert second.is_alive()  # the first still counts as an actor, and it no longer waits


def test_an_actor_that_stops_lets_time_move_at_once_when_it_says_so() -> None:
    actors = [2]
    clock = SimClock(actors=lambda: actors[0])
    sleeper = in_thread(lambda: clock.sleep(60))
    time.sleep(0.05)
    assert sleeper.is_alive()

    actors[0] = 1  # the other actor ended
    started = time.monotonic()
    clock.recheck()
    sleeper.join(5)

    assert not sleeper.is_alive()
    assert time.monotonic() - started < 0.015  # told: not the watcher's next tick
    assert clock.now() == EPOCH + timedelta(seconds=60)


def test_the_watcher_moves_time_when_nobody_said_an_actor_stopped() -> None:
    actors = [2]
    clock = SimClock(actors=lambda: actors[0])
    sleeper = in_thread(lambda: clock.sleep(60))
    time.sleep(0.05)
    actors[0] = 1  # no recheck()

    sleeper.join(5)

    assert not sleeper.is_alive()
    assert clock.now() == EPOCH + timedelta(seconds=60)


def test_an_interrupted_waiter_no_longer_counts_as_waiting() -> None:
    # Two actors wait; one is interrupted (its task token answered) but has not run yet: time must not move
    # to the other's wake-up before the interrupted one has acted.
    clock = SimClock(actors=lambda: 2)
    answered = threading.Event()
    interrupted = in_thread(lambda: clock.sleep(3600, interrupt=answered))
    time.sleep(0.05)
    with clock._lock:  # hold the interrupted thread back after its interrupt is set
        answered.set()
        clock._advance_if_all_wait()
        assert clock.now() == EPOCH  # one waiting, two actors
    other = in_thread(lambda: clock.sleep(10))
    interrupted.join(5)
    assert not interrupted.is_alive()
    assert clock.now() == EPOCH
    other.join(0.1)
    assert other.is_alive()  # the interrupted actor still counts as one that acts


def test_a_held_clock_moves_once_let_go() -> None:
    # tests/cli's HeldClock replaces _advance_if_all_wait on the instance and reads _wakeups[i][0].
    clock = SimClock(actors=lambda: 1)
    original = clock._advance_if_all_wait
    until = EPOCH + timedelta(seconds=10)

    def held() -> None:
        if clock._wakeups and min(wakeup[0] for wakeup in clock._wakeups) > until:
            return
        original()

    clock._advance_if_all_wait = held  # type: ignore[method-assign]
    sleeper = in_thread(lambda: clock.sleep(60))
    time.sleep(0.1)
    assert sleeper.is_alive() and clock.now() == EPOCH

    clock._advance_if_all_wait = original  # type: ignore[method-assign]
    sleeper.join(5)
    assert not sleeper.is_alive()
    assert clock.now() == EPOCH + timedelta(seconds=60)


def test_many_waiters_wake_in_order_of_their_moments() -> None:
    count = 200
    remaining = [count]
    clock = SimClock(actors=lambda: remaining[0])
    woke: list[float] = []
    lock = threading.Lock()

    def sleeper(seconds: int) -> None:
        clock.sleep(seconds)
        with lock:
            woke.append((clock.now() - EPOCH).total_seconds())
            remaining[0] -= 1
        clock.recheck()

    threads = [in_thread(lambda s=s: sleeper(s)) for s in range(count, 0, -1)]  # type: ignore[misc]
    started = time.monotonic()
    for thread in threads:
        thread.join(10)

    assert woke == [float(s) for s in range(1, count + 1)]
    assert time.monotonic() - started < 5
    wait_until(lambda: not clock._watching)  # the watcher ends once nobody waits
