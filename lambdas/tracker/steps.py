"""What the Lambda functions hand the state machine: pydantic models of the fields its states read.

The CDK app builds the definition's paths from these models (`path`), so a renamed field fails
synthesis instead of an execution.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    """JSON the state machine passes on: camelCase keys (the Python names are read too), immutable."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    def to_json(self) -> dict[str, Any]:
        """By JSON key, without the fields that are None."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def path(cls, root: str, field: str) -> str:
        """The JSONPath of `field` (its Python name) under `root`, e.g. ``$.poll.waitSeconds``."""
        return f"{root}.{cls.model_fields[field].alias}"  # KeyError: the definition reads a field never returned


class PollCounters(CamelModel):
    """Where the poll loop stands; the first poll starts from zero."""

    attempt: int = Field(default=0, ge=0)
    unchanged_polls: int = Field(default=0, ge=0)
    # The call-budget slot the last poll booked for this one (tracker.call_budget.Slot): the execution waited
    # for it (WaitForSlot) instead of retrying.
    booked_slot: dict[str, Any] | None = None


class FirstPark(PollCounters):
    """A followed job's first wait (Prepare's ``$.poll``): on its follow marker (version 0), for its first event
    or the first poll's time, whichever comes first. The fields the wait reads, as PollOutcome names them."""

    wait_seconds: int
    history_version: int = 0
    job_key: str


class PollOutcome(PollCounters):
    """The PollJob state's result (``$.poll``): what the job did and what the execution does next."""

    status: str
    status_message: str
    terminal: bool
    succeeded: bool
    wait_seconds: int
    history_version: int
    job_key: str  # where the wait keeps its task token
    continue_as_new: bool
    stalled: bool = False  # this poll found the job stalled in its status, and reported it
    next_input: dict[str, Any] | None = None


class StartImport(CamelModel):
    """StartReferenceImportJob's parameters as boto3 takes them, but the role (TakeTurn's setting). The sources
    keep the shape of the input's (``sourceFile``, ``name``…), with every name filled in."""

    reference_store_id: str
    client_token: str
    sources: list[dict[str, Any]]


class Prepared(CamelModel):
    """The Prepare state's result, the execution's state from then on."""

    job: dict[str, str]  # a JobRef; a started import gets its job id from its store's queue (TakeTurn)
    start: StartImport | None = None
    # An import request as given (without continuedFrom): what a hand-over to a new execution starts with.
    resume: dict[str, Any] | None = None
    poll: FirstPark | PollCounters
    continued_from: str | None = None
    # Account-wide mode: the executions that began following the job between the start of this one (named after
    # the job) and its Prepare. This one then ends (FollowedElsewhere) and leaves the job to them.
    followed_elsewhere: list[str] | None = None


class TurnAction(StrEnum):
    """What an execution does after its turn in the store's queue (the ``Turn?`` choice routes on it)."""

    FOLLOW = "follow"  # this request leads its import: follow the job
    WAIT = "wait"  # park on the queue entry until woken or waitSeconds
    HANDOVER = "handover"  # continue as a new execution with nextInput
    DONE = "done"  # outcome says how the request's own sources ended


class Turn(CamelModel):
    """The TakeTurn state's result (``$.turn``): where the request stands in its store's import queue."""

    action: TurnAction
    entry_pk: str
    entry_sk: str
    # The wait parks only if the entry has not moved since.
    turn_version: int
    wait_seconds: int = Field(default=1, ge=1)
    checks: int = Field(default=0, ge=0)
    job: dict[str, str] | None = None
    outcome: dict[str, Any] | None = None
    next_input: dict[str, Any] | None = None


class TurnRequest(CamelModel):
    """What TakeTurn reads from the execution's state."""

    start: StartImport
    resume: dict[str, Any]
    execution_arn: str
    checks: int = 0  # earlier turns of this execution
    polls: int = 0  # polls of this execution (they add to the same history)
    wants_handover: bool = False  # the leader's poll loop reached its limit

    @classmethod
    def from_state(cls, state: dict[str, Any], execution_arn: str) -> TurnRequest:
        turn = state.get("turn") or {}
        poll = state.get("poll") or {}
        return cls(
            start=state["start"],
            resume=state["resume"],
            execution_arn=execution_arn,
            checks=int(turn.get("checks", 0)),
            polls=int(poll.get("attempt", 0)),
            wants_handover=bool(poll.get("continueAsNew", False)),
        )
