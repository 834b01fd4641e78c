"""The one place the handlers read the time, so the local cloud can run them on a simulated clock."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
