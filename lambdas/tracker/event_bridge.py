"""EventBridge events, read with Powertools' parser and its models (EventBridgeModel is the envelope)."""

from __future__ import annotations

from typing import Any, TypeVar

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from pydantic import BaseModel

EventT = TypeVar("EventT", bound=BaseModel)


def parse_event(event: Any, model: type[EventT]) -> EventT | str:
    """The event as `model` reads it, or its first problem (``detail.status: Input should be a valid string``)."""
    try:
        return parse(event=event, model=model)
    except ValidationError as error:
        first = error.errors()[0]
        return f"{'.'.join(map(str, first['loc'])) or 'event'}: {first['msg']}"
