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

    job: dict[str, str]  # a JobRef; a started import gets its job id from StartReferenceImportJob
    start: StartImport | None = None
    poll: PollCounters
    continued_from: str | None = Field(default=None, alias="continuedFrom")
