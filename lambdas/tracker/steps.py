"""What the Lambda functions hand the state machine: typed models of the fields its states read.

The CDK app builds the definition's paths from these models (`path`), so a renamed field fails
synthesis instead of an execution.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)

    @classmethod
    def path(cls, root: str, field: str) -> str:
        """The JSONPath of `field` (its Python name) under `root`, e.g. ``$.poll.waitSeconds``."""
        info = cls.model_fields[field]  # KeyError: the definition reads a field the handler does not return
        return f"{root}.{info.alias or field}"


class PollCounters(_Output):
    """Where the poll loop stands; the first poll starts from zero."""

    attempt: int = Field(default=0, ge=0)
    unchanged_polls: int = Field(default=0, ge=0, alias="unchangedPolls")


class PollOutcome(PollCounters):
    """The PollJob state's result (``$.poll``): what the job did and what the execution does next."""

    status: str
    status_message: str = Field(alias="statusMessage")
    terminal: bool
    succeeded: bool
    wait_seconds: int = Field(alias="waitSeconds")
    history_version: int = Field(alias="historyVersion")
    job_key: str = Field(alias="jobKey")  # where the wait keeps its task token
    continue_as_new: bool = Field(alias="continueAsNew")
    next_input: dict[str, Any] | None = Field(default=None, alias="nextInput")


class StartImport(_Output):
    """StartReferenceImportJob's parameters as the Step Functions SDK integration takes them."""

    reference_store_id: str = Field(alias="ReferenceStoreId")
    client_token: str = Field(alias="ClientToken")
    sources: list[dict[str, Any]] = Field(alias="Sources")


class Prepared(_Output):
    """The Prepare state's result, the execution's state from then on."""

    job: dict[str, str]  # a JobRef; a started import gets its job id from its store's queue (TakeTurn)
    start: StartImport | None = None
    # An import request as given (without continuedFrom): what a hand-over to a new execution starts with.
    resume: dict[str, Any] | None = None
    poll: PollCounters
    continued_from: str | None = Field(default=None, alias="continuedFrom")


class Turn(_Output):
    """The TakeTurn state's result (``$.turn``): where the request stands in its store's import queue.

    ``action``: ``follow`` (this request leads its import: follow the job), ``wait`` (park on the queue
    entry until woken or ``waitSeconds``), ``done`` (``outcome`` says how the request's own sources ended)
    or ``handover`` (continue as a new execution with ``nextInput``).
    """

    action: str
    entry_pk: str = Field(alias="entryPk")
    entry_sk: str = Field(alias="entrySk")
    turn_version: int = Field(alias="turnVersion")  # the wait parks only if the entry has not moved since
    wait_seconds: int = Field(default=1, alias="waitSeconds", ge=1)
    checks: int = Field(default=0, ge=0)
    job: dict[str, str] | None = None
    outcome: dict[str, Any] | None = None
    next_input: dict[str, Any] | None = Field(default=None, alias="nextInput")


class TurnRequest(BaseModel):
    """What TakeTurn reads from the execution's state."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    start: StartImport
    resume: dict[str, Any]
    execution_arn: str = Field(alias="executionArn")
    checks: int = 0  # earlier turns of this execution
    polls: int = 0  # polls of this execution (they add to the same history)
    wants_handover: bool = False  # the leader's poll loop reached its limit

    @classmethod
    def from_state(cls, state: dict[str, Any], execution_arn: str) -> TurnRequest:
        turn = state.get("turn") or {}
        poll = state.get("poll") or {}
        return cls(
            start=StartImport.model_validate(state["start"]),
            resume=state["resume"],
            execution_arn=execution_arn,
            checks=int(turn.get("checks", 0)),
            polls=int(poll.get("attempt", 0)),
            wants_handover=bool(poll.get("continueAsNew", False)),
        )
