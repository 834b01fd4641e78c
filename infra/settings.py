"""All deploy-time configuration, read once from cdk.json context (or ``cdk deploy -c key=value``)."""

from __future__ import annotations

import re
from typing import Any

from constructs import Node
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# Events one poll round adds to an execution's history: Task (scheduled, started, succeeded, state
# entered/exited), Choice (entered/exited) and Wait (entered/exited).
EVENTS_PER_POLL = 9
HISTORY_EVENT_BUDGET = 20_000


class TrackerSettings(BaseModel):
    """Every key is a cdk.json context key with the same name; see README "Configuration"."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    stack_name: str = Field(default="OmicsJobTracker", alias="stackName")
    upload_prefix: str = Field(default="references/", alias="uploadPrefix")
    reference_store_id: str | None = Field(default=None, alias="referenceStoreId")
    reference_store_name: str = Field(default="omics-job-tracker", alias="referenceStoreName")
    poll_first_wait_seconds: int = Field(default=30, ge=1, le=3600, alias="pollFirstWaitSeconds")
    poll_backoff_factor: float = Field(default=1.5, ge=1, le=10, alias="pollBackoffFactor")
    poll_max_wait_seconds: int = Field(default=600, ge=1, le=86400, alias="pollMaxWaitSeconds")
    execution_timeout_days: int = Field(default=14, ge=1, le=365, alias="executionTimeoutDays")
    powertools_layer_version: int = Field(default=27, ge=1, alias="powertoolsLayerVersion")
    log_retention_days: int = Field(default=90, ge=1, alias="logRetentionDays")

    @field_validator("reference_store_id")
    @classmethod
    def _numeric_store_id(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.fullmatch(r"[0-9]{10,36}", str(value)):
            raise ValueError(f"must be a HealthOmics reference store id (10-36 digits), got '{value}'")
        return str(value)

    @field_validator("upload_prefix")
    @classmethod
    def _prefix_without_leading_slash(cls, value: str) -> str:
        if value.startswith("/") or "*" in value:
            raise ValueError(f"must be a key prefix like 'references/' (no leading '/', no '*'), got '{value}'")
        return value

    @field_validator("poll_max_wait_seconds")
    @classmethod
    def _cap_not_below_first_wait(cls, value: int, info: Any) -> int:
        first = info.data.get("poll_first_wait_seconds", 1)
        if value < first:
            raise ValueError(f"must be at least pollFirstWaitSeconds ({first}), got {value}")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _supported_retention(cls, value: int) -> int:
        allowed = (7, 14, 30, 90, 180, 365, 731, 3653)
        if value not in allowed:
            raise ValueError(f"must be one of {allowed}, got {value}")
        return value

    @model_validator(mode="after")
    def _fits_in_one_execution(self) -> TrackerSettings:
        # A Standard execution holds at most 25,000 history events and one poll round adds about
        # EVENTS_PER_POLL of them: a job polled at the cap until the timeout must stay well below that.
        polls = self.execution_timeout_days * 86_400 / self.poll_max_wait_seconds
        if polls * EVENTS_PER_POLL > HISTORY_EVENT_BUDGET:
            longest = int(HISTORY_EVENT_BUDGET / EVENTS_PER_POLL * self.poll_max_wait_seconds / 86_400)
            raise ValueError(
                f"executionTimeoutDays={self.execution_timeout_days} with "
                f"pollMaxWaitSeconds={self.poll_max_wait_seconds} "
                f"could need ~{int(polls * EVENTS_PER_POLL)} history events in one execution (limit 25,000, budget "
                f"{HISTORY_EVENT_BUDGET}); raise pollMaxWaitSeconds or keep executionTimeoutDays <= {longest}"
            )
        return self

    @classmethod
    def from_context(cls, node: Node) -> TrackerSettings:
        values = {
            field.alias: node.try_get_context(field.alias)
            for field in cls.model_fields.values()
            if field.alias and node.try_get_context(field.alias) is not None
        }
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise ValueError(f"invalid cdk.json context: {error}") from None
