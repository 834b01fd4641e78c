"""Each handler's environment, as a pydantic model read once, at cold start.

A handler reads only the settings it needs; a missing or malformed one fails the cold start with
the variable's name, not the first call. The stack sets every one (defaults live in the CDK app).
"""

from __future__ import annotations

import os
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, Json, ValidationError, model_validator

from tracker.contract import Env
from tracker.schedule import PollSchedule


class Settings(BaseModel):
    """Fields read by the variable's name (their alias); the rest of the environment is ignored."""

    model_config = ConfigDict(frozen=True)


class HistorySettings(Settings):
    table_name: str = Field(alias=Env.TABLE_NAME, min_length=1)


class OmicsSettings(HistorySettings):
    """A function that calls HealthOmics: within the account-wide budget kept in the history table."""

    omics_call_share: float = Field(alias=Env.OMICS_CALL_SHARE, gt=0, le=1)


class PollSettings(OmicsSettings):
    poll_first_wait_seconds: int = Field(alias=Env.POLL_FIRST_WAIT_SECONDS, ge=1)
    poll_backoff_factor: float = Field(alias=Env.POLL_BACKOFF_FACTOR, ge=1)
    poll_max_wait_seconds: int = Field(alias=Env.POLL_MAX_WAIT_SECONDS, ge=1)
    poll_wait_with_events_seconds: int = Field(alias=Env.POLL_WAIT_WITH_EVENTS_SECONDS, ge=1)
    max_polls_per_execution: int = Field(alias=Env.MAX_POLLS_PER_EXECUTION, ge=2)
    # job type -> status -> seconds (tracker.stalls.StallLimits), every job type's, resolved by the CDK app
    stall_limits: Json[dict[str, dict[str, int]]] = Field(alias=Env.STALL_LIMITS)

    @property
    def poll_schedule(self) -> PollSchedule:
        return PollSchedule(
            self.poll_first_wait_seconds,
            self.poll_backoff_factor,
            self.poll_max_wait_seconds,
            self.poll_wait_with_events_seconds,
        )


class AccountWideSettings(Settings):
    """Account-wide mode (off where no kind is followed): JobEvents and the sweep start executions for jobs."""

    follow_all_jobs: Json[tuple[str, ...]] = Field(default=(), alias=Env.FOLLOW_ALL_JOBS)
    state_machine_arn: str = Field(default="", alias=Env.STATE_MACHINE_ARN)

    @model_validator(mode="after")
    def _executions_to_start(self) -> AccountWideSettings:
        if self.follow_all_jobs and not self.state_machine_arn:
            raise ValueError(f"{Env.STATE_MACHINE_ARN} is required with {Env.FOLLOW_ALL_JOBS}")
        return self


class JobEventSettings(PollSettings, AccountWideSettings):
    pass


class SweepSettings(OmicsSettings, AccountWideSettings):
    sweep_lookback_seconds: int = Field(alias=Env.SWEEP_LOOKBACK_SECONDS, ge=60)


class QueueSettings(PollSettings):
    import_role_arn: str = Field(alias=Env.IMPORT_ROLE_ARN, min_length=1)
    import_batch_window_seconds: int = Field(alias=Env.IMPORT_BATCH_WINDOW_SECONDS, ge=0)
    store_queue_check_seconds: int = Field(alias=Env.STORE_QUEUE_CHECK_SECONDS, ge=1)


class PrepareSettings(PollSettings):
    """Prepare marks a job to follow in the history and sets its first wait by the poll schedule."""

    # May be empty: then every import request must name its store.
    reference_store_id: str = Field(alias=Env.REFERENCE_STORE_ID)


class TriggerSettings(Settings):
    state_machine_arn: str = Field(alias=Env.STATE_MACHINE_ARN, min_length=1)


class NotifySettings(HistorySettings):
    topic_arn: str = Field(alias=Env.TOPIC_ARN, min_length=1)


SettingsT = TypeVar("SettingsT", bound=Settings)


def load_settings(model: type[SettingsT]) -> SettingsT:
    try:
        return model.model_validate(dict(os.environ))
    except ValidationError as error:  # a deployment mistake: say which variable
        problems = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in error.errors())
        raise RuntimeError(f"invalid Lambda environment for {model.__name__}: {problems}") from None
