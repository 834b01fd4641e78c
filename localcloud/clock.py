"""A simulated clock: Wait states and Retry intervals advance it instead of sleeping.

Every wait is "wake me at start + seconds"; the clock jumps forward to the latest wake-up asked for,
so concurrent executions see a consistent, monotonic time and a 7-day job runs in seconds.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


class SimClock:
    def __init__(self, start: datetime = EPOCH) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        """What a Wait state or a retry interval does here: move time on, return at once."""
        seconds = max(float(seconds), 0.0)
        with self._lock:
            self.waited_seconds += seconds
        self.advance_to(self.now() + timedelta(seconds=seconds))

    def advance_to(self, moment: datetime) -> None:
        with self._lock:
            if moment > self._now:
                self._now = moment

    def advance(self, seconds: float) -> None:
        self.advance_to(self.now() + timedelta(seconds=seconds))
