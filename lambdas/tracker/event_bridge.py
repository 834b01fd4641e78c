"""The EventBridge event envelope, as a record: the fields of Powertools' EventBridgeModel, without pydantic."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracker.records import Record, spec


class EventBridgeEvent(Record):
    """Subclasses narrow ``detail`` to the record of their event's detail."""

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = spec(key="detail-type")
    detail: Any
    replay_name: str | None = spec(default=None, key="replay-name")
