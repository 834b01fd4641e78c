"""How long to wait before the next poll: exponential backoff, spread across jobs, rare once events flow."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

_SPREAD = 0.1


def _fraction(key: str) -> float:
    """A stable number in [0, 1) for a key (hash() is salted per process, so not that)."""
    if not key:
        return 0.0
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") / 2**32


@dataclass(frozen=True)
class PollSchedule:
    """Exponential backoff between polls, reset whenever the job moves."""

    first_wait_seconds: int
    factor: float
    max_wait_seconds: int
    # Once HealthOmics' events have been seen for a job they make detection fast: the poll is then
    # only the safety net for a lost event, and runs this rarely.
    wait_with_events_seconds: int

    def __post_init__(self) -> None:
        if self.first_wait_seconds < 1 or self.factor < 1 or self.max_wait_seconds < self.first_wait_seconds:
            raise ValueError(f"invalid poll schedule: {self}")

    def wait_after(self, unchanged_polls: int, events_seen: bool = False, spread_key: str = "") -> int:
        """Seconds to wait after a poll that followed `unchanged_polls` polls without a change.

        `spread_key` (the job and poll number) shortens the wait by up to 10 %, the same way every time
        for the same poll but differently across jobs: jobs started together do not poll together,
        which matters where the Get quota is 1 call per second (variant import). The hourly safety
        net once events flow is not spread (it is rare, and its length is the point).
        """
        if events_seen:
            return self.wait_with_events_seconds
        wait = float(self.first_wait_seconds)
        for _ in range(max(unchanged_polls, 0)):  # stops at the cap: large counts cannot overflow
            wait *= self.factor
            if wait >= self.max_wait_seconds:
                break
        wait = min(wait, self.max_wait_seconds)
        return max(int(wait * (1 - _SPREAD * _fraction(spread_key))), 1)
