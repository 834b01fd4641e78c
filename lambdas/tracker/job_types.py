"""The table of job types the tracker follows.

Reference import, variant import and read-set export differ only in data: which Get operation to
call, which ids it takes, where the per-item statuses are, and how the job's EventBridge event
names them. Adding a job type is adding one entry here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

NUMERIC_ID = re.compile(r"^[0-9]{10,36}$")
UUID_ID = re.compile(r"^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$")


class JobTypeName(StrEnum):
    REFERENCE_IMPORT = "REFERENCE_IMPORT"
    VARIANT_IMPORT = "VARIANT_IMPORT"
    READ_SET_EXPORT = "READ_SET_EXPORT"


@dataclass(frozen=True)
class IdField:
    """One id a job is addressed by: its name in the tracker's input and in the Get request."""

    name: str
    api_param: str
    pattern: re.Pattern[str]
    example: str


@dataclass(frozen=True)
class JobType:
    name: JobTypeName
    get_operation: str  # boto3 method name
    ids: tuple[IdField, ...]  # the job id is last: keys read "store#job"
    items_field: str  # list of per-source / per-item results in the Get response
    item_key_field: str
    item_status_field: str
    event_detail_type: str
    event_ids: tuple[tuple[str, str], ...]  # (id name, field of the aws.omics event's detail)
    statuses: frozenset[str]

    @property
    def id_names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.ids)

    def get_request(self, ids: dict[str, str]) -> dict[str, str]:
        return {field.api_param: ids[field.name] for field in self.ids}

    def items_from(self, response: dict[str, Any]) -> dict[str, str]:
        """Per-item statuses keyed by the item's identity (source file, read set id)."""
        return {
            str(item[self.item_key_field]): str(item[self.item_status_field])
            for item in response.get(self.items_field) or []
            if item.get(self.item_key_field) and item.get(self.item_status_field)
        }


_STORE_JOB_STATUSES = frozenset(
    {"SUBMITTED", "IN_PROGRESS", "CANCELLING", "CANCELLED", "FAILED", "COMPLETED", "COMPLETED_WITH_FAILURES"}
)
_VARIANT_JOB_STATUSES = _STORE_JOB_STATUSES - {"CANCELLING"}

JOB_TYPES: dict[JobTypeName, JobType] = {
    JobTypeName.REFERENCE_IMPORT: JobType(
        name=JobTypeName.REFERENCE_IMPORT,
        get_operation="get_reference_import_job",
        ids=(
            IdField("referenceStoreId", "referenceStoreId", NUMERIC_ID, "1234567890"),
            IdField("jobId", "id", NUMERIC_ID, "9876543210"),
        ),
        items_field="sources",
        item_key_field="sourceFile",
        item_status_field="status",
        event_detail_type="Reference Import Job Status Change",
        event_ids=(("referenceStoreId", "referenceStoreId"), ("jobId", "id")),
        statuses=_STORE_JOB_STATUSES,
    ),
    JobTypeName.VARIANT_IMPORT: JobType(
        name=JobTypeName.VARIANT_IMPORT,
        get_operation="get_variant_import_job",
        ids=(IdField("jobId", "jobId", UUID_ID, "0f0e0d0c-0b0a-4909-8807-060504030201"),),
        items_field="items",
        item_key_field="source",
        item_status_field="jobStatus",
        event_detail_type="Variant Import Job Status Change",
        event_ids=(("jobId", "jobId"),),
        statuses=_VARIANT_JOB_STATUSES,
    ),
    JobTypeName.READ_SET_EXPORT: JobType(
        name=JobTypeName.READ_SET_EXPORT,
        get_operation="get_read_set_export_job",
        ids=(
            IdField("sequenceStoreId", "sequenceStoreId", NUMERIC_ID, "1234567890"),
            IdField("jobId", "id", NUMERIC_ID, "9876543210"),
        ),
        items_field="readSets",
        item_key_field="id",
        item_status_field="status",
        event_detail_type="Read Set Export Job Status Change",
        event_ids=(("sequenceStoreId", "sequenceStoreId"), ("jobId", "id")),
        statuses=_STORE_JOB_STATUSES,
    ),
}


def job_type(name: str) -> JobType:
    return JOB_TYPES[JobTypeName(name)]


def job_type_for_event(detail_type: str) -> JobType | None:
    return next((spec for spec in JOB_TYPES.values() if spec.event_detail_type == detail_type), None)
