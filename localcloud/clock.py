"""A simulated clock for the local cloud: Wait states, Retry intervals and task-token waits move it
instead of sleeping, so a 7-day job runs in seconds.

It is a small discrete-event scheduler. A thread that waits registers the moment it wants to wake
and blocks; time only moves when every actor (each running execution, each asynchronous Lambda
invocation) is waiting, and then it jumps to the earliest wake-up. So concurrent executions see one
consistent time, and no execution's wait can skip over what another is still doing.

`make local` uses a ScaledClock instead: wall time, sped up, so a person can watch a job move.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
_RECHECK_SECONDS = 0.002  # how often a waiting thread looks whether time may move (real seconds)


class Clock(Protocol):
    """What the local cloud's parts need of a clock: SimClock (tests) and ScaledClock (`make local`)."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float, interrupt: threading.Event | None = None) -> None: ...

    def sleep_until(self, moment: datetime, interrupt: threading.Event | None = None) -> None: ...


class SimClock:
    def __init__(self, start: datetime = EPOCH, actors: Callable[[], int] = lambda: 0) -> None:
        self._now = start
        self._actors = actors
        self._wakeups: list[list[datetime]] = []
        self._changed = threading.Condition()

    def now(self) -> datetime:
        with self._changed:
            return self._now

    def sleep(self, seconds: float, interrupt: threading.Event | None = None) -> None:
        self.sleep_until(self.now() + timedelta(seconds=max(float(seconds), 0.0)), interrupt)

    def sleep_until(self, moment: datetime, interrupt: threading.Event | None = None) -> None:
        """Block until simulated time reaches `moment`, or `interrupt` is set (a task token answered)."""
        wakeup = [moment]
        with self._changed:
            self._wakeups.append(wakeup)
            try:
                while self._now < moment and not (interrupt is not None and interrupt.is_set()):
                    self._advance_if_all_wait()
                    if self._now < moment:
                        self._changed.wait(_RECHECK_SECONDS)
            finally:
                self._wakeups.remove(wakeup)
                self._changed.notify_all()

    def _advance_if_all_wait(self) -> None:
        if self._wakeups and len(self._wakeups) >= self._actors():
            earliest = min(wakeup[0] for wakeup in self._wakeups)
            if earliest > self._now:
                self._now = earliest
                self._changed.notify_all()


class ScaledClock:
    """Wall time sped up `speed` times (1: real time), from the current UTC time so timestamps look current.

    Nothing waits for anyone here: a sleep of n simulated seconds lasts n / speed real seconds, so a
    person can watch a job move through its statuses (a 10-minute job at speed 60 takes 10 s)."""

    def __init__(
        self, speed: float = 60, start: datetime | None = None, wall: Callable[[], float] = time.monotonic
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._start = start or datetime.now(UTC)
        self._wall = wall
        self._wall_start = wall()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(self._wall() - self._wall_start) * self.speed)

    def sleep(self, seconds: float, interrupt: threading.Event | None = None) -> None:
        self.sleep_until(self.now() + timedelta(seconds=max(float(seconds), 0.0)), interrupt)

    def sleep_until(self, moment: datetime, interrupt: threading.Event | None = None) -> None:
        """Block until `moment` (simulated), or `interrupt` is set (a task token answered)."""
        wake = interrupt or threading.Event()  # never set: a plain sleep
        # A loop, not one wait: a wait may end a little early (timer resolution, microsecond rounding).
        while (remaining := (moment - self.now()).total_seconds()) > 0:
            if wake.wait(remaining / self.speed):
                return
