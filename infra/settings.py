"""All deploy-time configuration, read once from cdk.json context (or ``cdk deploy -c key=value``).

Every context key the user set is checked by name and by value; a problem stops synthesis with a
``SettingsError``: one line per problem, which ``app.py`` prints instead of a traceback.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from constructs import Node
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from tracker.contract import DEFAULT_STALL_LIMITS, DEFAULTS, JOB_TYPES, NUMERIC_ID, Env

# Events one poll round adds to an execution's history: PollJob (5), JobFinished? (2) and
# WaitForChangeOrTimeout (6), with room for the odd retry.
EVENTS_PER_POLL = 15
HISTORY_EVENT_BUDGET = 20_000

CONTEXT = "cdk.json context"  # how messages name the context, whether a key came from cdk.json or `-c`
# Context keys that belong to the CDK, not to this app (checked against aws-cdk-lib 2.275.0 and CLI 2.1148.1):
# feature flags ("@aws-cdk/..."), the CLI's and the library's settings ("aws:cdk:...", "aws-cdk:..."), cached
# lookups in cdk.context.json ("availability-zones:account=...:region=..."), and the few plain names that the
# CLI (`cdk acknowledge`, `cdk cli-telemetry`, `cdk migrate`) or aws-cdk-lib (asset repository) read.
CDK_CONTEXT_KEYS = frozenset(
    {"acknowledged-issue-numbers", "cli-telemetry", "cdk-migrate", "assets-ecr-repository-name"}
)


def is_cdk_context_key(key: str) -> bool:
    return key.startswith(("@", "$")) or ":" in key or key in CDK_CONTEXT_KEYS


class SettingsError(ValueError):
    """Configuration that cannot be deployed: one line per problem, each naming the key."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(" ".join(problem.split()) for problem in problems)
        super().__init__("\n".join(self.problems))


class TrackerSettings(BaseModel):
    """Every key is a cdk.json context key with the same name; see docs/reference.md#configuration."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    stack_name: str = Field(default="OmicsJobTracker", alias="stackName")
    upload_prefix: str = Field(default="references/", alias="uploadPrefix")
    reference_store_id: str | None = Field(default=None, alias="referenceStoreId")
    reference_store_name: str = Field(default="omics-job-tracker", alias="referenceStoreName")
    # Other S3 locations ("bucket/prefix/") console-started imports may read; uploads need none of them.
    import_sources: tuple[str, ...] = Field(default=(), alias="importSources")
    # An existing bucket to watch instead of creating one; the import role reads only its uploadPrefix.
    existing_upload_bucket: str | None = Field(
        default=None, alias="existingUploadBucket", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
    )
    poll_first_wait_seconds: int = Field(
        default=DEFAULTS.poll_first_wait_seconds, ge=1, le=3600, alias="pollFirstWaitSeconds"
    )
    poll_backoff_factor: float = Field(default=DEFAULTS.poll_backoff_factor, ge=1, le=10, alias="pollBackoffFactor")
    poll_max_wait_seconds: int = Field(
        default=DEFAULTS.poll_max_wait_seconds, ge=1, le=86400, alias="pollMaxWaitSeconds"
    )
    poll_wait_with_events_seconds: int = Field(
        default=DEFAULTS.poll_wait_with_events_seconds, ge=1, le=86400, alias="pollWaitWithEventsSeconds"
    )
    execution_timeout_days: int = Field(
        default=DEFAULTS.execution_timeout_days, ge=1, le=365, alias="executionTimeoutDays"
    )
    max_polls_per_execution: int = Field(default=DEFAULTS.max_polls_per_execution, ge=2, alias="maxPollsPerExecution")
    # Uploads to one store are imported one job at a time; a free store waits this long for more to join.
    import_batch_window_seconds: int = Field(
        default=DEFAULTS.import_batch_window_seconds, ge=0, le=3600, alias="importBatchWindowSeconds"
    )
    # The share of each HealthOmics API rate limit the tracker may use (all its functions together); the rest is
    # left to the account's other users.
    omics_call_share: float = Field(default=DEFAULTS.omics_call_share, gt=0, le=1, alias="omicsCallShare")
    store_queue_check_seconds: int = Field(
        default=DEFAULTS.store_queue_check_seconds, ge=10, le=86400, alias="storeQueueCheckSeconds"
    )
    log_retention_days: int = Field(default=90, ge=1, alias="logRetentionDays")
    # Subscribed to the notification topic (jobs that ended, alarms); SNS asks the address to confirm first.
    notification_email: str | None = Field(
        default=None, alias="notificationEmail", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254
    )
    # HealthOmics calls throttled in 5 minutes (OmicsThrottled, all operations) above which the alarm fires;
    # a few are retried and harmless, a steady stream means the account's Get*Job quota is too low.
    omics_throttle_alarm_threshold: int = Field(default=30, ge=1, alias="omicsThrottleAlarmThreshold")
    # How long a job may stay in a non-terminal status before it is reported stalled, in seconds (0: never):
    # {"default": {status: seconds}, "<JOB_TYPE>": {status: seconds}}; each overrides DEFAULT_STALL_LIMITS.
    stalled_after_seconds: dict[str, dict[str, int]] = Field(default_factory=dict, alias="stalledAfterSeconds")
    # Account-wide mode: every job of these kinds in the account and Region is followed, without anyone starting
    # an execution (true: every kind; false or []: off). docs/operating.md#following-every-job
    follow_all_jobs: tuple[str, ...] = Field(default=(), alias="followAllJobs")
    # How often the account-wide sweep lists the followed kinds' jobs, for jobs whose events were lost.
    all_jobs_sweep_minutes: int = Field(default=15, ge=5, le=1440, alias="allJobsSweepMinutes")

    @field_validator("reference_store_id")
    @classmethod
    def _numeric_store_id(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not NUMERIC_ID.match(str(value)):
            raise ValueError(f"must be a HealthOmics reference store id (10-36 digits), got '{value}'")
        return str(value)

    @field_validator("import_sources", mode="before")
    @classmethod
    def _locations(cls, value: Any) -> Any:
        """A list, or one comma-separated string (as `-c importSources=a/x/,b/y/` passes it)."""
        locations = [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value
        for location in locations or []:
            bucket = str(location).partition("/")[0]
            if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket) or "*" in str(location):
                raise ValueError(f"each must be 'bucket/prefix/' (no '*'), got {location!r}")
        return locations

    @field_validator("follow_all_jobs", mode="before")
    @classmethod
    def _followed_kinds(cls, value: Any) -> Any:
        """true/false, a list of job types, or (as ``-c followAllJobs=RUN,READ_SET_IMPORT`` passes it) a string."""
        if isinstance(value, str):
            value = {"true": True, "false": False}.get(value.strip().lower(), [v.strip() for v in value.split(",")])
        if isinstance(value, bool):
            return tuple(JOB_TYPES) if value else ()
        if not isinstance(value, list) or not all(isinstance(kind, str) for kind in value):
            raise ValueError(f"must be true, false or a list of job types, got {value!r}")
        unknown = [kind for kind in value if kind and kind not in JOB_TYPES]
        if unknown:
            raise ValueError(f"{', '.join(map(repr, unknown))}: not a job type ({', '.join(JOB_TYPES)})")
        return tuple(kind for kind in JOB_TYPES if kind in value)  # the table's order, each once

    @field_validator("stalled_after_seconds", mode="before")
    @classmethod
    def _stall_limits(cls, value: Any) -> Any:
        """Known job types (or "default"), their non-terminal statuses, whole seconds up to a year."""
        if isinstance(value, str):  # `-c stalledAfterSeconds='{"default": {"IN_PROGRESS": 7200}}'`
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError(f"must be a JSON object, got {value!r}") from None
        if not isinstance(value, dict):
            raise ValueError(f'must be an object like {{"default": {{"IN_PROGRESS": 86400}}}}, got {value!r}')
        return {str(scope): _stall_scope(str(scope), limits) for scope, limits in value.items()}

    def stall_limits(self) -> dict[str, dict[str, int]]:
        """Every job type's limit for each of its non-terminal statuses (0 where never stalled)."""
        given = self.stalled_after_seconds
        limits = {}
        for name, spec in JOB_TYPES.items():
            # The job type's own limit, else the default one given, else the tracker's default.
            chain = (given.get(name, {}), given.get(STALL_SCOPE_DEFAULT, {}), DEFAULT_STALL_LIMITS)
            statuses = sorted(spec.open_statuses)
            limits[name] = {status: next((c[status] for c in chain if status in c), 0) for status in statuses}
        return limits

    @field_validator("existing_upload_bucket", "notification_email", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

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
        # A Standard execution holds at most 25,000 history events. After maxPollsPerExecution polls
        # the job is handed to a new execution, which must happen inside the budget and the timeout.
        events = self.max_polls_per_execution * EVENTS_PER_POLL
        if events > HISTORY_EVENT_BUDGET:
            raise ValueError(
                f"maxPollsPerExecution={self.max_polls_per_execution} could need ~{events} history events in one "
                f"execution (limit 25,000, budget {HISTORY_EVENT_BUDGET}); keep it <= "
                f"{HISTORY_EVENT_BUDGET // EVENTS_PER_POLL}"
            )
        # A request waiting for its store turns as often as it polls: at most storeQueueCheckSeconds apart.
        longest_wait = max(
            self.poll_max_wait_seconds, self.poll_wait_with_events_seconds, self.store_queue_check_seconds
        )
        longest = self.max_polls_per_execution * longest_wait
        if longest >= self.execution_timeout_days * 86_400:
            raise ValueError(
                f"maxPollsPerExecution={self.max_polls_per_execution} polls {longest_wait} s apart "
                f"(pollMaxWaitSeconds / pollWaitWithEventsSeconds / storeQueueCheckSeconds) can take "
                f"{longest / 86_400:.1f} days, longer than "
                f"executionTimeoutDays={self.execution_timeout_days}: the execution would time out before handing over"
            )
        return self

    def poll_environment(self) -> dict[str, str]:
        """The poll schedule as the Poll function reads it (tracker.settings.PollSettings)."""
        return {
            Env.POLL_FIRST_WAIT_SECONDS: str(self.poll_first_wait_seconds),
            Env.POLL_BACKOFF_FACTOR: str(self.poll_backoff_factor),
            Env.POLL_MAX_WAIT_SECONDS: str(self.poll_max_wait_seconds),
            Env.POLL_WAIT_WITH_EVENTS_SECONDS: str(self.poll_wait_with_events_seconds),
            Env.MAX_POLLS_PER_EXECUTION: str(self.max_polls_per_execution),
            Env.STALL_LIMITS: json.dumps(self.stall_limits(), sort_keys=True),
            **self.omics_environment(),
        }

    def account_wide_environment(self) -> dict[str, str]:
        """The followed kinds, as JobEvents and the sweep read them (tracker.settings.AccountWideSettings)."""
        return {Env.FOLLOW_ALL_JOBS: json.dumps(list(self.follow_all_jobs))}

    def omics_environment(self) -> dict[str, str]:
        """The call budget share, as each function calling HealthOmics reads it (tracker.settings.OmicsSettings)."""
        return {Env.OMICS_CALL_SHARE: str(self.omics_call_share)}

    def queue_environment(self) -> dict[str, str]:
        """The store queue's rules as the TakeTurn function reads them (tracker.settings.QueueSettings)."""
        return {
            **self.poll_environment(),
            Env.IMPORT_BATCH_WINDOW_SECONDS: str(self.import_batch_window_seconds),
            Env.STORE_QUEUE_CHECK_SECONDS: str(self.store_queue_check_seconds),
        }

    @classmethod
    def context_keys(cls) -> list[str]:
        """The context keys the app reads, in the order the model declares them."""
        return [str(field.alias) for field in cls.model_fields.values()]

    @classmethod
    def from_context(cls, node: Node) -> TrackerSettings:
        """Every context key the user set (cdk.json, cdk.context.json, ``-c``), checked by name and by value."""
        given = {key: value for key, value in node.get_all_context().items() if not is_cdk_context_key(key)}
        known = cls.context_keys()
        problems = [_unknown_key(key, known) for key in given if key not in known]
        values = {key: value for key, value in given.items() if key in known and value is not None}
        try:
            settings = cls.model_validate(values)
        except ValidationError as error:
            raise SettingsError([*problems, *(_invalid_value(detail) for detail in error.errors())]) from None
        if problems:
            raise SettingsError(problems)
        return settings


MAX_STALL_SECONDS = 365 * 86_400
STALL_SCOPE_DEFAULT = "default"


def _stall_scope(scope: str, limits: Any) -> dict[str, int]:
    """One entry of stalledAfterSeconds: "default" or a job type, to {non-terminal status: seconds}."""
    if scope == STALL_SCOPE_DEFAULT:
        statuses = frozenset().union(*(spec.open_statuses for spec in JOB_TYPES.values()))
    elif scope in JOB_TYPES:
        statuses = JOB_TYPES[scope].open_statuses
    else:
        raise ValueError(f"{scope!r} is neither 'default' nor a job type ({', '.join(JOB_TYPES)})")
    if not isinstance(limits, dict):
        raise ValueError(f"{scope}: must map statuses to seconds, got {limits!r}")
    checked = {}
    for status, seconds in limits.items():
        if status not in statuses:
            raise ValueError(f"{scope}: {status!r} is not a non-terminal status ({', '.join(sorted(statuses))})")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= MAX_STALL_SECONDS:
            raise ValueError(
                f"{scope}.{status}: must be whole seconds from 0 (never) to {MAX_STALL_SECONDS}, got {seconds!r}"
            )
        checked[status] = seconds
    return checked


def _unknown_key(key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(known)}"
    return f"{CONTEXT}: unknown key '{key}' ({hint})"


def _invalid_value(detail: ErrorDetails) -> str:
    key = ".".join(str(part) for part in detail["loc"])
    message = detail["msg"].removeprefix("Value error, ")
    if detail["type"] != "value_error":  # our own validators already quote what they got
        message = f"{message} (got {detail['input']!r})"
    return f"{CONTEXT}: invalid value for '{key}': {message}" if key else f"{CONTEXT}: {message}"
