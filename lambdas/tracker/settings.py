"""Each handler's environment, as a typed record read once, at cold start.

A handler reads only the settings it needs; a missing or malformed one fails the cold start with
the variable's name, not the first call. The stack sets every one (defaults live in the CDK app).
"""

from __future__ import annotations

import os
from typing import TypeVar

from tracker.contract import Env
from tracker.records import Record, RecordError, spec
from tracker.schedule import PollSchedule


class HistorySettings(Record):
    table_name: str = spec(key=Env.TABLE_NAME, min_length=1)


class OmicsSettings(HistorySettings):
    """A function that calls HealthOmics: within the account-wide budget kept in the history table."""

    omics_call_share: float = spec(key=Env.OMICS_CALL_SHARE, gt=0, le=1)


class PollSettings(OmicsSettings):
    poll_first_wait_seconds: int = spec(key=Env.POLL_FIRST_WAIT_SECONDS, ge=1)
    poll_backoff_factor: float = spec(key=Env.POLL_BACKOFF_FACTOR, ge=1)
    poll_max_wait_seconds: int = spec(key=Env.POLL_MAX_WAIT_SECONDS, ge=1)
    poll_wait_with_events_seconds: int = spec(key=Env.POLL_WAIT_WITH_EVENTS_SECONDS, ge=1)
    max_polls_per_execution: int = spec(key=Env.MAX_POLLS_PER_EXECUTION, ge=2)

    @property
    def poll_schedule(self) -> PollSchedule:
        return PollSchedule(
            self.poll_first_wait_seconds,
            self.poll_backoff_factor,
            self.poll_max_wait_seconds,
            self.poll_wait_with_events_seconds,
        )


class QueueSettings(PollSettings):
    import_role_arn: str = spec(key=Env.IMPORT_ROLE_ARN, min_length=1)
    import_batch_window_seconds: int = spec(key=Env.IMPORT_BATCH_WINDOW_SECONDS, ge=0)
    store_queue_check_seconds: int = spec(key=Env.STORE_QUEUE_CHECK_SECONDS, ge=1)


class PrepareSettings(Record):
    # May be empty: then every import request must name its store.
    reference_store_id: str = spec(key=Env.REFERENCE_STORE_ID)


class TriggerSettings(Record):
    state_machine_arn: str = spec(key=Env.STATE_MACHINE_ARN, min_length=1)


class NotifySettings(HistorySettings):
    topic_arn: str = spec(key=Env.TOPIC_ARN, min_length=1)


SettingsT = TypeVar("SettingsT", bound=Record)


def load_settings(model: type[SettingsT]) -> SettingsT:
    try:
        return model.from_dict(dict(os.environ))
    except RecordError as error:  # a deployment mistake: say which variable
        problems = "; ".join(f"{'.'.join(map(str, p.loc))}: {p.msg}" for p in error.problems)
        raise RuntimeError(f"invalid Lambda environment for {model.__name__}: {problems}") from None
