"""Listing a kind's jobs in HealthOmics, through the job-type table and botocore's own model.

Each kind has a List operation (``ListRuns``, ``ListReadSetImportJobs``...); a kind whose jobs live in stores is
listed store by store (``ListSequenceStores``). How each operation filters (``status`` or ``filter.status``,
``filter.createdAfter``) and pages (``nextToken`` or ``startingToken``) is read from botocore's service and
paginator models, so no operation has code of its own. Every page is one call within the call budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import botocore.session

from tracker.contract import JobRef, JobType, client_method


@dataclass(frozen=True)
class ListedJob:
    job: JobRef
    status: str
    created: datetime | None


@cache
def _pagination(operation: str) -> dict[str, Any]:
    """botocore's paginator config of the operation: input_token, output_token, result_key, limit_key."""
    return dict(botocore.session.get_session().get_paginator_model("omics").get_paginator(operation))


def pages(omics: Any, operation: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """Each page's items of one List operation, the largest pages the operation allows."""
    config = _pagination(operation)
    call = getattr(omics, client_method(operation))
    request = {**params, config["limit_key"]: _max_results(omics, operation, config["limit_key"])}
    while True:
        response = call(**request)
        yield list(response.get(config["result_key"]) or [])
        token = response.get(config["output_token"])
        if not token:
            return
        request[config["input_token"]] = token


def _max_results(omics: Any, operation: str, limit_key: str) -> int:
    shape = omics.meta.service_model.operation_model(operation).input_shape.members[limit_key]
    return int(shape.metadata.get("max", 100))


def filters(omics: Any, operation: str, status: str | None, created_after: datetime | None) -> dict[str, Any]:
    """The request members that ask for jobs in `status` and created after `created_after`, where the operation
    has them (ListRuns takes ``status`` only; the store and analytics jobs a ``filter`` structure)."""
    members = omics.meta.service_model.operation_model(operation).input_shape.members
    wanted = {"status": status, "createdAfter": created_after}
    if "filter" in members:
        known = members["filter"].members
        given = {name: value for name, value in wanted.items() if value is not None and name in known}
        return {"filter": given} if given else {}
    return {name: value for name, value in wanted.items() if value is not None and name in members}


def can_filter_by_creation(omics: Any, spec: JobType) -> bool:
    members = omics.meta.service_model.operation_model(spec.list_operation).input_shape.members
    return "filter" in members and "createdAfter" in members["filter"].members


def store_ids(omics: Any, spec: JobType) -> list[dict[str, str]]:
    """The ids before the job id of every store the kind's jobs may be in (one empty scope for a kind without)."""
    if not spec.store_list_operation:
        return [{}]
    (store,) = spec.ids[:-1]  # a store job has one store id, then its own
    return [{store.name: str(item["id"])} for page in pages(omics, spec.store_list_operation, {}) for item in page]


def list_jobs(
    omics: Any, spec: JobType, scope: dict[str, str], status: str | None, created_after: datetime | None
) -> Iterator[ListedJob]:
    """The kind's jobs in the store `scope` names (by its ids), in `status` / created after `created_after`."""
    stores = {field.api_param: scope[field.name] for field in spec.ids[:-1]}
    request = {**stores, **filters(omics, spec.list_operation, status, created_after)}
    job_id = spec.ids[-1].name
    for page in pages(omics, spec.list_operation, request):
        for item in page:
            created = item.get("creationTime")
            yield ListedJob(
                JobRef(spec.name, {**scope, job_id: str(item["id"])}),
                str(item.get("status", "")),
                created if isinstance(created, datetime) else None,
            )
