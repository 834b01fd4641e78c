"""`watch`: wait for a job to exist, then follow its history until it ends, reporting each change.

Plain loops over the table (and Step Functions, for executions that end without finishing their job),
with the waiting and the clock injectable, so the command is a thin shell around them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tracker.contract import SUCCESS_STATUS
from tracker_cli.jobs import Entry, Job, get_job, history, resolve, short_cause
from tracker_cli.stack import Aws, Tracker

EXIT_COMPLETED, EXIT_NOT_COMPLETED, EXIT_NOT_FOUND = 0, 1, 2
_STOPPED = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class Outcome:
    code: int
    message: str


@dataclass
class Watch:
    aws: Aws
    tracker: Tracker
    interval: float = 2.0
    timeout: float | None = None  # seconds in all, None: no limit
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._deadline = None if self.timeout is None else self.clock() + self.timeout

    def _timed_out(self) -> bool:
        return self._deadline is not None and self.clock() >= self._deadline

    def find(self, text: str, job_type: str | None, waiting: Callable[[str], None]) -> Job | Outcome:
        """The job JOB names, waiting while it may still appear (an upload, an execution preparing)."""
        told = ""
        while True:
            found = resolve(self.aws, self.tracker, text, job_type)
            if isinstance(found, Job):
                return found
            if not found.pending:
                return Outcome(EXIT_NOT_FOUND, found.reason)
            if found.reason != told:
                waiting(found.reason)
                told = found.reason
            if self._timed_out():
                return Outcome(EXIT_NOT_FOUND, f"timed out: {found.reason}")
            self.sleep(self.interval)

    def follow(self, job: Job, changed: Callable[[Entry], None], current: Callable[[Job], None]) -> Outcome:
        """Report each history entry as it is recorded, until the job is terminal (or nobody follows it)."""
        seen = 0
        while True:
            job = get_job(self.aws, self.tracker, job.ref) or job
            for entry in history(self.aws, self.tracker, job.ref, after=seen):
                changed(entry)
                seen = entry.sequence
            current(job)
            if job.terminal:
                code = EXIT_COMPLETED if job.status == SUCCESS_STATUS else EXIT_NOT_COMPLETED
                return Outcome(code, f"{job.label} ended {job.status}")
            stopped = self._stopped_execution(job)
            if stopped:
                return Outcome(EXIT_NOT_COMPLETED, stopped)
            if self._timed_out():
                return Outcome(EXIT_NOT_FOUND, f"timed out: {job.label} is still {job.status}")
            self.sleep(self.interval)

    def _stopped_execution(self, job: Job) -> str:
        """Why nobody follows the job any more, if its latest execution failed, timed out or was aborted.
        (One that succeeded without ending the job handed it over: the next one links itself shortly.)"""
        if not job.execution_arn:
            return ""
        described = self.aws.sfn.describe_execution(executionArn=job.execution_arn)
        if described["status"] not in _STOPPED:
            return ""
        why = ": ".join(part for part in (described.get("error"), short_cause(described.get("cause"))) if part)
        return (
            f"{job.label} is still {job.status}, but its execution {described['name']} ended {described['status']}"
            + (f" ({why})" if why else "")
            + "; start following it again with `omics-tracker follow`"
        )
