"""What the Lambda functions hand the state machine: typed records of the fields its states read.

The CDK app builds the definition's paths from these records (`path`), so a renamed field fails
synthesis instead of an execution.
"""

from __future__ import annotations

from typing import Any

from tracker.records import Record, spec


class PollCounters(Record):
    """Where the poll loop stands; the first poll starts from zero."""

    attempt: int = spec(default=0, ge=0)
    unchanged_polls: int = spec(default=0, ge=0, key="unchangedPolls")
    # The call-budget slot the last poll booked for this one (tracker.call_budget.Slot): the execution waited
    # for it (WaitForSlot) instead of retrying.
    booked_slot: dict[str, Any] | None = spec(default=None, key="bookedSlot")


class PollOutcome(PollCounters):
    """The PollJob state's result (``$.poll``): what the job did and what the execution does next."""

    status: str
    status_message: str = spec(key="statusMessage")
    terminal: bool
    succeeded: bool
    wait_seconds: int = spec(key="waitSeconds")
    history_version: int = spec(key="historyVersion")
    job_key: str = spec(key="jobKey")  # where the wait keeps its task token
    continue_as_new: bool = spec(key="continueAsNew")
    next_input: dict[str, Any] | None = spec(default=None, key="nextInput")


class StartImport(Record):
    """StartReferenceImportJob's parameters as the Step Functions SDK integration takes them."""

    reference_store_id: str = spec(key="ReferenceStoreId")
    client_token: str = spec(key="ClientToken")
    sources: list[dict[str, Any]] = spec(key="Sources")


class Prepared(Record):
    """The Prepare state's result, the execution's state from then on."""

    job: dict[str, str]  # a JobRef; a started import gets its job id from its store's queue (TakeTurn)
    start: StartImport | None = None
    # An import request as given (without continuedFrom): what a hand-over to a new execution starts with.
    resume: dict[str, Any] | None = None
    poll: PollCounters
    continued_from: str | None = spec(default=None, key="continuedFrom")


class Turn(Record):
    """The TakeTurn state's result (``$.turn``): where the request stands in its store's import queue.

    ``action``: ``follow`` (this request leads its import: follow the job), ``wait`` (park on the queue
    entry until woken or ``waitSeconds``), ``done`` (``outcome`` says how the request's own sources ended)
    or ``handover`` (continue as a new execution with ``nextInput``).
    """

    action: str
    entry_pk: str = spec(key="entryPk")
    entry_sk: str = spec(key="entrySk")
    # The wait parks only if the entry has not moved since.
    turn_version: int = spec(key="turnVersion")
    wait_seconds: int = spec(default=1, key="waitSeconds", ge=1)
    checks: int = spec(default=0, ge=0)
    job: dict[str, str] | None = None
    outcome: dict[str, Any] | None = None
    next_input: dict[str, Any] | None = spec(default=None, key="nextInput")


class TurnRequest(Record):
    """What TakeTurn reads from the execution's state."""

    start: StartImport
    resume: dict[str, Any]
    execution_arn: str = spec(key="executionArn")
    checks: int = 0  # earlier turns of this execution
    polls: int = 0  # polls of this execution (they add to the same history)
    wants_handover: bool = False  # the leader's poll loop reached its limit

    @classmethod
    def from_state(cls, state: dict[str, Any], execution_arn: str) -> TurnRequest:
        turn = state.get("turn") or {}
        poll = state.get("poll") or {}
        return cls.from_dict(
            {
                "start": state["start"],
                "resume": state["resume"],
                "executionArn": execution_arn,
                "checks": int(turn.get("checks", 0)),
                "polls": int(poll.get("attempt", 0)),
                "wants_handover": bool(poll.get("continueAsNew", False)),
            }
        )
