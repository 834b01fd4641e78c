"""record_event: which status events are recorded, which cost a Get, and how the waiting execution is woken.

The history table is moto's; HealthOmics and Step Functions are in-memory fakes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tracker.contract import BudgetExhausted, JobRef, ObservedBy
from tracker.history import record
from tracker.history_table import HistoryTable
from tracker.job_events import EventResult, WakeRules, record_event
from tracker.schedule import PollSchedule
from tracker.status import Snapshot
from tracker.task_tokens import POLL_NOW

EVENT = json.loads(
    (Path(__file__).resolve().parent.parent / "events" / "omics_reference_import_status.json").read_text()
)
JOB = JobRef("REFERENCE_IMPORT", {"referenceStoreId": "1234567890", "jobId": "9876543210"})
SOURCE = "s3://uploads/a.fa"
RULES = WakeRules(PollSchedule(30, 2, 600, 3600), max_polls=300)


def _event(status: str) -> dict[str, Any]:
    return {**EVENT, "detail": {**EVENT["detail"], "status": status, "statusMessage": ""}}


class FakeJobs:
    def __init__(self, *answers: Snapshot | Exception) -> None:
        self.answers = list(answers)
        self.reads = 0

    def describe(self, job: JobRef) -> Snapshot:
        self.reads += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeStepFunctions:
    class exceptions:
        class TaskTimedOut(Exception): ...

        class InvalidToken(Exception): ...

        class TaskDoesNotExist(Exception): ...

    def __init__(self) -> None:
        self.successes: list[tuple[str, dict[str, Any]]] = []
        self.failures: list[tuple[str, str]] = []

    def send_task_success(self, taskToken: str, output: str) -> None:
        self.successes.append((taskToken, json.loads(output)))

    def send_task_failure(self, taskToken: str, error: str, cause: str) -> None:
        self.failures.append((taskToken, error))


def _park(history: HistoryTable, token: str, attempt: int) -> None:
    """What WaitForChangeOrTimeout writes: the token and the execution's poll count."""
    history._dynamodb.update_item(
        TableName="history",
        Key={"pk": {"S": JOB.pk}, "sk": {"S": "STATE"}},
        UpdateExpression="SET waitToken = :token, waitAttempt = :attempt",
        ExpressionAttributeValues={":token": {"S": token}, ":attempt": {"N": str(attempt)}},
    )


def _entries(history: HistoryTable) -> list[tuple[int, str, str, dict[str, str]]]:
    return [(e["sequence"], e["status"], e["observedBy"], e["items"]) for e in history.entries(JOB)]


def test_first_event_of_a_followed_job_is_its_first_entry_and_wakes_it_with_the_outcome(history: HistoryTable) -> None:
    # Given a job Prepare marked followed, its execution parked on the marker (no poll yet)
    history.follow(JOB, "arn:e1")
    _park(history, "token-1", attempt=0)
    sfn = FakeStepFunctions()

    # When its first status event arrives
    outcome = record_event(
        _event("SUBMITTED"), history, FakeJobs(Snapshot("SUBMITTED", items={SOURCE: "NOT_STARTED"})), sfn, RULES
    )

    # Then it is recorded as the first entry, and the execution is woken with what its poll would have returned
    assert (outcome.result, outcome.reason) == (EventResult.RECORDED, "woke the execution with the outcome")
    assert _entries(history) == [(1, "SUBMITTED", "event", {SOURCE: "NOT_STARTED"})]
    assert sfn.successes == [
        (
            "token-1",
            {
                "attempt": 1,
                "unchangedPolls": 0,
                "status": "SUBMITTED",
                "statusMessage": "",
                "terminal": False,
                "succeeded": False,
                "waitSeconds": 3600,  # events flow: only the hourly safety net
                "historyVersion": 1,
                "jobKey": JOB.pk,
                "continueAsNew": False,
                "stalled": False,  # stalls are found by polls
            },
        )
    ]


def test_event_for_a_job_nobody_follows_is_untracked_and_costs_no_get(history: HistoryTable) -> None:
    jobs = FakeJobs()

    outcome = record_event(_event("SUBMITTED"), history, jobs, FakeStepFunctions(), RULES)

    assert outcome.result is EventResult.UNTRACKED
    assert (jobs.reads, history.entries(JOB)) == (0, [])


def test_event_with_no_new_status_costs_no_get_and_wakes_no_one(history: HistoryTable) -> None:
    record(history, JOB, Snapshot("IN_PROGRESS", items={SOURCE: "IN_PROGRESS"}), ObservedBy.POLL, "arn:e1")
    _park(history, "token-1", attempt=3)
    jobs, sfn = FakeJobs(), FakeStepFunctions()

    late = record_event(_event("SUBMITTED"), history, jobs, sfn, RULES)
    again = record_event(_event("IN_PROGRESS"), history, jobs, sfn, RULES)

    assert (late.result, again.result) == (EventResult.UNCHANGED, EventResult.UNCHANGED)
    assert (jobs.reads, sfn.successes, sfn.failures) == (0, [], [])


def test_an_end_recorded_without_its_items_makes_the_execution_poll(history: HistoryTable) -> None:
    # Given a running import, its execution parked, and no room in the call budget for the event's read
    record(history, JOB, Snapshot("IN_PROGRESS", items={SOURCE: "IN_PROGRESS"}), ObservedBy.POLL, "arn:e1")
    _park(history, "token-1", attempt=3)
    sfn = FakeStepFunctions()

    outcome = record_event(
        _event("COMPLETED"), history, FakeJobs(BudgetExhausted("GetReferenceImportJob", 5)), sfn, RULES
    )

    # Then the end is recorded from the event alone, and the execution polls for the sources' final statuses
    assert _entries(history)[-1] == (2, "COMPLETED", "event", {SOURCE: "IN_PROGRESS"})
    assert (outcome.reason, sfn.successes, sfn.failures) == ("woke the execution to poll", [], [("token-1", POLL_NOW)])


def test_a_running_job_recorded_without_its_items_is_left_to_its_next_poll(history: HistoryTable) -> None:
    # Given an execution parked until its booked first poll, and no room in the call budget for the event's read
    history.follow(JOB, "arn:e1")
    _park(history, "token-1", attempt=0)
    sfn = FakeStepFunctions()

    outcome = record_event(
        _event("SUBMITTED"), history, FakeJobs(BudgetExhausted("GetReferenceImportJob", 300)), sfn, RULES
    )

    # Then the status is recorded (the first entry, no items) and the execution keeps waiting for its poll
    assert _entries(history) == [(1, "SUBMITTED", "event", {})]
    assert (outcome.reason, sfn.successes, sfn.failures) == ("left the execution to its next poll", [], [])


def test_a_wake_at_the_poll_limit_makes_the_execution_poll_and_hand_over(history: HistoryTable) -> None:
    record(history, JOB, Snapshot("SUBMITTED"), ObservedBy.POLL, "arn:e1")
    _park(history, "token-1", attempt=299)
    sfn = FakeStepFunctions()

    record_event(_event("IN_PROGRESS"), history, FakeJobs(Snapshot("IN_PROGRESS")), sfn, RULES)

    assert (sfn.successes, sfn.failures) == ([], [("token-1", POLL_NOW)])
