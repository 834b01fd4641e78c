"""Account-wide mode: every HealthOmics job of the followed kinds gets an execution, without anyone starting one.

Two ways in, one rule. A job's first status event starts its execution (JobEvents), and a scheduled sweep lists
each kind's jobs and starts one for every job the history does not know (its events were lost). Both name the
execution after the job (`follow_execution_name`) and give it the same input, so a job gets at most one: Step
Functions answers a second start of a running execution with that execution, and refuses a name already used
(ExecutionAlreadyExists) for 90 days.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from tracker import clock
from tracker.contract import JOB_TYPES, BudgetExhausted, JobRef
from tracker.observability import logger
from tracker.omics_lists import ListedJob, can_filter_by_creation, list_jobs, store_ids

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_EXECUTION_NAME_MAX = 80
NAME_PREFIX = "follow-"


def follow_execution_name(job: JobRef) -> str:
    """``follow-<TYPE>-<ids>``, or ``follow-<TYPE>-<hash of the ids>`` where that is over 80 characters."""
    name = _NAME_UNSAFE.sub("-", "-".join([NAME_PREFIX.rstrip("-"), job.job_type, *job.ids.values()]))
    if len(name) <= _EXECUTION_NAME_MAX:
        return name
    return f"{NAME_PREFIX}{job.job_type}-{hashlib.sha256(job.pk.encode()).hexdigest()[:32]}"


class ExecutionStarter:
    """Starts the one execution that follows a job account-wide."""

    def __init__(self, sfn: Any, state_machine_arn: str) -> None:
        self._sfn = sfn
        self._state_machine_arn = state_machine_arn

    def follow(self, job: JobRef) -> tuple[str, bool]:
        """(the execution's ARN, whether it runs: started now or before, as a running execution's second start
        answers; False if its name belongs to an execution that ended). Other errors raise."""
        name = follow_execution_name(job)
        try:
            response = self._sfn.start_execution(
                stateMachineArn=self._state_machine_arn, name=name, input=json.dumps(job.to_dict())
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
            return self._execution_arn(name), False
        return str(response["executionArn"]), True

    def _execution_arn(self, name: str) -> str:
        return f"{self._state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


class KnownJobs(Protocol):
    def known(self, jobs: Iterable[JobRef]) -> set[str]:
        """The partition keys of the jobs the history has a STATE item for."""
        ...


@dataclass(frozen=True)
class SweepRules:
    kinds: tuple[str, ...]
    # Jobs created this recently are also listed when ended (where the List operation filters by creation): a
    # job that ran between two sweeps with every event lost still gets its one entry.
    lookback_seconds: int
    # Jobs younger than this are left to their events (the next sweep lists them again if those were lost).
    settle_seconds: int = 120


@dataclass
class SweepReport:
    listed: int = 0
    untracked: int = 0
    started: int = 0  # (or found running: a running execution's second start answers as the first did)
    ended_before: int = 0  # the job's execution ended, yet the history lacks the job
    failures: list[str] = field(default_factory=list)  # listings and starts that failed, and why


def sweep(omics: Any, history: KnownJobs, starter: ExecutionStarter, rules: SweepRules) -> SweepReport:
    """List every followed kind's open (and recent) jobs, and start an execution for each the history lacks."""
    report = SweepReport()
    now = clock.utc_now()
    found: dict[str, JobRef] = {}
    for kind in rules.kinds:
        for listed in _kind_jobs(omics, kind, now - timedelta(seconds=rules.lookback_seconds), report):
            report.listed += 1
            if listed.created is None or listed.created <= now - timedelta(seconds=rules.settle_seconds):
                found[listed.job.pk] = listed.job
    known = history.known(found.values())
    for pk, job in found.items():
        if pk in known:
            continue
        report.untracked += 1
        try:
            _, running = starter.follow(job)
        except (ClientError, BotoCoreError) as error:  # throttled past the SDK's retries: the next sweep tries again
            report.failures.append(_failed(f"start {job.pk}", error))
            continue
        report.started += running
        report.ended_before += not running
    return report


def _kind_jobs(omics: Any, kind: str, recent: datetime, report: SweepReport) -> Iterator[ListedJob]:
    """The kind's jobs in an open status, and those created since `recent`; a kind that cannot be listed is
    reported and left to the next sweep."""
    spec = JOB_TYPES[kind]
    queries: list[tuple[str | None, datetime | None]] = [(status, None) for status in sorted(spec.open_statuses)]
    try:
        scopes = store_ids(omics, spec)
        if can_filter_by_creation(omics, spec):
            queries.append((None, recent))
    except _LISTING_ERRORS as error:
        report.failures.append(_failed(f"{kind} stores", error))
        return
    for scope in scopes:
        for status, created_after in queries:
            try:
                yield from list(list_jobs(omics, spec, scope, status, created_after))
            except _LISTING_ERRORS as error:  # denied, throttled, out of budget: the kind waits for the next sweep
                where = " ".join([kind, *scope.values(), status or "created recently"])
                report.failures.append(_failed(where, error))
                return


_LISTING_ERRORS = (ClientError, BotoCoreError, BudgetExhausted)


def _failed(where: str, error: Exception) -> str:
    logger.warning("Sweep step failed", extra={"where": where, "error": str(error)})
    return f"{where}: {error}"
