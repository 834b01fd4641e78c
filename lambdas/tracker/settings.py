"""The handlers' environment, as one typed model read once per cold start."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tracker.status import PollSchedule


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    reference_store_id: str = Field(alias="REFERENCE_STORE_ID", default="")
    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN", default="")
    poll_first_wait_seconds: int = Field(alias="POLL_FIRST_WAIT_SECONDS", default=30, ge=1)
    poll_backoff_factor: float = Field(alias="POLL_BACKOFF_FACTOR", default=2.0, ge=1)
    poll_max_wait_seconds: int = Field(alias="POLL_MAX_WAIT_SECONDS", default=600, ge=1)
    poll_wait_with_events_seconds: int = Field(alias="POLL_WAIT_WITH_EVENTS_SECONDS", default=3600, ge=1)
    max_polls_per_execution: int = Field(alias="MAX_POLLS_PER_EXECUTION", default=300, ge=2)

    @property
    def poll_schedule(self) -> PollSchedule:
        return PollSchedule(
            self.poll_first_wait_seconds,
            self.poll_backoff_factor,
            self.poll_max_wait_seconds,
            self.poll_wait_with_events_seconds,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings.model_validate(dict(os.environ))
    except ValidationError as error:  # a deployment mistake: say which variable
        raise RuntimeError(f"invalid Lambda environment: {error}") from error
