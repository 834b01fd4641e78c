"""SimClock: time moves only when every actor waits, to the earliest wake-up; waiters are woken when they are due,
interrupted, or told an actor stopped (recheck), not by polling. TurnClock, the local cloud's: the same, with the
actors acting one at a time, in an order that does not depend on how their threads run."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from localcloud.clock import EPOCH, Actor, SimClock, TurnClock


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

    def sleeper(seconds: int, label: str) -> Callable[[], None]:
        def sleep() -> None:
            clock.sleep(seconds)
            woke.append((label, clock.now()))

        return sleep

    first = in_thread(sleeper(30, "30 s"))
    time.sleep(0.05)
    assert clock.now() == EPOCH and not woke  # one actor of two waits: time stands still

    second = in_thread(sleeper(90, "90 s"))
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


# ---- TurnClock: the local cloud's clock, actors one at a time in a fixed order ---------------------------------


def run_actors(clock: TurnClock, bodies: list[Callable[[], None]]) -> None:
    """Start each body as an actor (made in this order, as a starter in its turn would), and wait for all."""
    threads = []
    with clock.acting():
        for body in bodies:
            actor = clock.actor("test")

            def run(actor: Actor = actor, body: Callable[[], None] = body) -> None:
                with clock.turn(actor):
                    body()

            threads.append(in_thread(run))
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


def napping(clock: TurnClock, seen: list[tuple[str, float]], name: str, naps: list[int]) -> Callable[[], None]:
    def act() -> None:
        for nap in naps:
            time.sleep(random.random() / 200)  # real time: threads run in any order
            seen.append((name, (clock.now() - EPOCH).total_seconds()))
            clock.sleep(nap)
        seen.append((name, (clock.now() - EPOCH).total_seconds()))

    return act


def test_actors_take_turns_in_the_order_they_were_made_whatever_their_threads_do() -> None:
    for _ in range(3):
        clock = TurnClock()
        seen: list[tuple[str, float]] = []

        run_actors(
            clock,
            [napping(clock, seen, "a", [10, 5]), napping(clock, seen, "b", [5, 10]), napping(clock, seen, "c", [15])],
        )

        assert seen == [
            ("a", 0), ("b", 0), ("c", 0),  # made in this order
            ("b", 5),
            ("a", 10),
            ("c", 15), ("b", 15), ("a", 15),  # due together: in the order they went to sleep
        ]  # fmt: skip


def test_an_interrupted_sleeper_acts_after_the_turn_that_interrupted_it() -> None:
    clock = TurnClock()
    answered = threading.Event()
    seen: list[str] = []

    def waiter() -> None:
        clock.sleep(3600, interrupt=answered)
        seen.append(f"waiter woke at {(clock.now() - EPOCH).total_seconds():.0f}")

    def answerer() -> None:
        clock.sleep(60)
        answered.set()
        clock.recheck()
        seen.append("answered")
        time.sleep(0.05)  # the waiter may not run while this turn lasts
        seen.append("answerer done")

    run_actors(clock, [waiter, answerer])

    assert seen == ["answered", "answerer done", "waiter woke at 60"]


def test_time_stands_still_while_an_actor_has_the_turn() -> None:
    clock = TurnClock()
    seen: list[float] = []

    def busy() -> None:
        time.sleep(0.1)
        seen.append((clock.now() - EPOCH).total_seconds())

    run_actors(clock, [lambda: clock.sleep(30), busy])

    assert seen == [0.0]
    assert clock.now() == EPOCH + timedelta(seconds=30)


def test_a_thread_outside_every_actor_sleeps_in_a_turn_of_its_own() -> None:
    clock = TurnClock()
    clock.sleep(45)  # the test driver (main thread) sleeping on the clock
    assert clock.now() == EPOCH + timedelta(seconds=45)


def test_a_held_turn_clock_moves_once_let_go() -> None:
    clock = TurnClock()
    original = clock._advance_if_all_wait
    until = EPOCH + timedelta(seconds=10)

    def held() -> None:
        if clock._wakeups and min(wakeup[0] for wakeup in clock._wakeups) > until:
            return
        original()

    clock._advance_if_all_wait = held  # type: ignore[method-assign]
    actor = clock.actor("sleeper")

    def sleeper() -> None:
        with clock.turn(actor):
            clock.sleep(60)

    thread = in_thread(sleeper)
    time.sleep(0.2)
    assert thread.is_alive() and clock.now() == EPOCH

    clock._advance_if_all_wait = original  # type: ignore[method-assign]
    thread.join(5)
    assert not thread.is_alive()
    assert clock.now() == EPOCH + timedelta(seconds=60)
