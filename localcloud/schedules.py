"""EventBridge schedule rules on the local cloud: the rate expressions it runs, and the event a firing sends.

The clock runs them (``every`` of TurnClock and ScaledClock); LocalCloud delivers each firing to the rule's targets.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

_RATE = re.compile(r"rate\((\d+) (minute|hour|day)(s?)\)")
_UNIT = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


class UnsupportedSchedule(ValueError):
    """A schedule expression the local cloud does not run (a cron expression): the deploy fails."""


def rate(rule: str, expression: str) -> timedelta:
    """The period of a rate expression. The unit is singular for 1 and plural above ("rate(1 minute)",
    "rate(5 minutes)": EventBridge user guide, "Using cron and rate expressions to schedule rules")."""
    match = _RATE.fullmatch(expression)
    if match and int(match[1]) > 0 and (match[3] == "s") == (int(match[1]) > 1):
        return int(match[1]) * _UNIT[match[2]]
    raise UnsupportedSchedule(
        f"rule {rule}: the local cloud cannot run the schedule expression {expression!r}; "
        "it runs rate(1 minute|hour|day) and rate(N minutes|hours|days)"
    )


def scheduled_event(rule_arn: str, moment: datetime) -> dict[str, Any]:
    """What EventBridge sends a schedule rule's targets that have no Input ("Scheduled Event" in the EventBridge
    user guide's events detail reference, https://docs.aws.amazon.com/eventbridge/latest/userguide/event-reference.html)."""
    _, _, _, region, account, _ = rule_arn.split(":", 5)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }
