"""One poll of a job: read its status, record any change, and tell the state machine what to do next."""

from __future__ import annotations

from typing import Any

from tracker.history import HistoryStore, JobRef
from tracker.job_types import JOB_TYPES
from tracker.omics_jobs import describe_job
from tracker.status import SUCCESS_STATUS, PollSchedule


def poll_job(
    job: JobRef,
    previous: dict[str, Any],
    omics: Any,
    history: HistoryStore,
    schedule: PollSchedule,
    execution_arn: str | None,
    max_polls: int,
) -> dict[str, Any]:
    """The next poll state: ``status``, ``terminal``, ``succeeded``, ``waitSeconds`` and counters.

    After `max_polls` polls in one execution a running job is handed over (``continueAsNew``) to a
    new execution, before this one can approach Step Functions' 25,000-event history limit;
    ``nextInput`` is that execution's input: the same job, the backoff where it stands, and a link back.
    """
    observed = describe_job(omics, JOB_TYPES[job.job_type], job.ids)
    recorded = history.record(job, observed, observed_by="poll", execution_arn=execution_arn)
    assert recorded is not None  # a poll always records (only_if_tracked is off)
    unchanged_polls = 0 if recorded.changed else int(previous.get("unchangedPolls", 0)) + 1
    state = recorded.snapshot
    attempt = int(previous.get("attempt", 0)) + 1
    hand_over = not state.terminal and attempt >= max_polls
    outcome: dict[str, Any] = {
        "attempt": attempt,
        "unchangedPolls": unchanged_polls,
        "status": state.status,
        # A Fail state's CausePath must point at a string: an ended job always has a message.
        "statusMessage": state.status_message
        or (f"{job.job_type} job ended with status {state.status}" if state.terminal else ""),
        "terminal": state.terminal,
        "succeeded": state.status == SUCCESS_STATUS,
        "waitSeconds": schedule.wait_after(
            unchanged_polls, events_seen=recorded.events_seen, spread_key=f"{job.pk}#{attempt}"
        ),
        "historyVersion": recorded.version,
        "jobKey": job.pk,  # where the wait keeps its task token
        "continueAsNew": hand_over,
    }
    if hand_over:
        outcome["nextInput"] = {
            **job.to_dict(),
            "continuedFrom": execution_arn,
            "poll": {"unchangedPolls": unchanged_polls},
        }
    return outcome
