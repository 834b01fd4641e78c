"""ScaledClock, `make local`'s clock: wall time sped up, so a person can watch a job move."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from localcloud.clock import ScaledClock

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_now_advances_speed_times_wall_time() -> None:
    wall = [1000.0]
    clock = ScaledClock(60, start=START, wall=lambda: wall[0])

    assert clock.now() == START
    wall[0] += 2.5
    assert clock.now() == START + timedelta(seconds=150)


def test_it_starts_at_the_current_utc_time_by_default() -> None:
    before = datetime.now(UTC)
    now = ScaledClock(1).now()
    assert before <= now <= datetime.now(UTC)


@pytest.mark.parametrize("speed", [0, -1])
def test_speed_must_be_positive(speed: float) -> None:
    with pytest.raises(ValueError, match="speed must be positive"):
        ScaledClock(speed)


def test_sleep_lasts_the_simulated_seconds_divided_by_the_speed() -> None:
    clock = ScaledClock(100)
    started, simulated = time.monotonic(), clock.now()

    clock.sleep(30)  # 0.3 s of real time

    elapsed = time.monotonic() - started
    assert 0.29 <= elapsed < 1.0
    assert clock.now() - simulated >= timedelta(seconds=30)


def test_sleep_until_returns_at_the_moment() -> None:
    clock = ScaledClock(50)
    moment = clock.now() + timedelta(seconds=10)  # 0.2 s of real time
    started = time.monotonic()

    clock.sleep_until(moment)

    assert 0.19 <= time.monotonic() - started < 1.0
    assert clock.now() >= moment


def test_a_moment_already_past_returns_at_once() -> None:
    clock = ScaledClock(1)
    started = time.monotonic()

    clock.sleep_until(clock.now() - timedelta(hours=1))
    clock.sleep(-5)

    assert time.monotonic() - started < 0.05


def test_an_interrupt_wakes_a_sleeper() -> None:
    clock = ScaledClock(1)
    answered = threading.Event()
    threading.Timer(0.1, answered.set).start()  # a task token answered while the execution waits
    started = time.monotonic()

    clock.sleep(3600, interrupt=answered)

    assert 0.09 <= time.monotonic() - started < 1.0


def test_an_interrupt_already_set_returns_at_once() -> None:
    clock = ScaledClock(1)
    answered = threading.Event()
    answered.set()
    started = time.monotonic()

    clock.sleep_until(clock.now() + timedelta(hours=1), interrupt=answered)

    assert time.monotonic() - started < 0.05
