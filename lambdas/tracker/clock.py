"""The one place the handlers read the time and sleep, so the local cloud can run them on a simulated clock."""

import time
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def sleep(seconds: float) -> None:
    time.sleep(seconds)
