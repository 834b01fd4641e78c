"""Status logic: what is terminal, what counts as a change, and how long to wait before the next poll.

Pure functions on plain values; no AWS here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

TERMINAL_STATUSES = frozenset({"COMPLETED", "COMPLETED_WITH_FAILURES", "FAILED", "CANCELLED"})
SUCCESS_STATUS = "COMPLETED"

# Progress order of every status the job and item enums use. A status never moves backwards, so an
# observation that ranks lower than what is recorded is stale (a late event, a lagging read).
_RANK = {
    "NOT_STARTED": 0,
    "SUBMITTED": 0,
    "IN_PROGRESS": 1,
    "CANCELLING": 2,
    "FINISHED": 3,
    "FAILED": 3,
    "COMPLETED": 3,
    "COMPLETED_WITH_FAILURES": 3,
    "CANCELLED": 3,
}


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES


def rank(status: str) -> int:
    return _RANK.get(status, 0)


@dataclass(frozen=True)
class Snapshot:
    """What one observation of a job says: its status and each item's status."""

    status: str
    status_message: str = ""
    items: dict[str, str] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return is_terminal(self.status)

    def same_progress(self, other: Snapshot) -> bool:
        """Equal for history purposes: a message-only difference is not a change."""
        return self.status == other.status and self.items == other.items


def merge(recorded: Snapshot | None, observed: Snapshot) -> Snapshot:
    """The state after an observation: each status moves forward only, never back."""
    if recorded is None:
        return observed
    if rank(observed.status) >= rank(recorded.status):
        # A message belongs to its status: keep the old one only while the status stays the same.
        same = observed.status == recorded.status
        status, message = observed.status, observed.status_message or (recorded.status_message if same else "")
    else:
        status, message = recorded.status, recorded.status_message
    items = dict(recorded.items)
    for key, item_status in observed.items.items():
        if key not in items or rank(item_status) >= rank(items[key]):
            items[key] = item_status
    return Snapshot(status=status, status_message=message, items=items)


def describe_changes(before: Snapshot | None, after: Snapshot) -> list[str]:
    """Human-readable list of what moved, stored with each history entry."""
    changes = []
    if before is None or before.status != after.status:
        changes.append(f"status {before.status if before else '-'} -> {after.status}")
    previous_items = before.items if before else {}
    for key, item_status in sorted(after.items.items()):
        if previous_items.get(key) != item_status:
            changes.append(f"item {key} {previous_items.get(key, '-')} -> {item_status}")
    return changes


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
    wait_with_events_seconds: int = 3600

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
        else:
            wait = float(self.first_wait_seconds)
            for _ in range(max(unchanged_polls, 0)):  # stops at the cap: large counts cannot overflow
                wait *= self.factor
                if wait >= self.max_wait_seconds:
                    break
            wait = min(wait, self.max_wait_seconds)
        return max(int(wait * (1 - _SPREAD * _fraction(spread_key))), 1)
