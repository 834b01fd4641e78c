"""Times as the tool reads and shows them: UTC, ISO 8601 in the table and in --json, seconds on screen."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def utc_now() -> datetime:
    """The one place the tool reads the time (tests set it to the local cloud's simulated clock)."""
    return datetime.now(UTC)


def parse_moment(value: str) -> datetime:
    """A stored ISO time (``2026-01-05T09:00:20+00:00``, or ``Z``); a time without a zone is UTC."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_since(value: str, now: datetime) -> datetime:
    """``--since``: an age (``90s``, ``30m``, ``2h``, ``3d``, ``1w``) or an ISO time; ValueError otherwise."""
    match = _RELATIVE.match(value.strip().lower())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        return parse_moment(value)
    except ValueError:
        raise ValueError(f"--since: expected an age like 2h, 3d or 30m, or an ISO time, got {value!r}") from None


def shown_time(value: str | datetime | None) -> str:
    """``2026-01-05 09:00:20`` (UTC, to the second), or "" when there is none."""
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else parse_moment(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def shown_duration(seconds: float) -> str:
    """``45s``, ``5m 20s``, ``2h 05m``, ``3d 4h``: two units at most, whole seconds."""
    total = max(int(seconds), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
