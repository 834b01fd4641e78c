"""A fourth job type, defined only in the tests: HealthOmics read-set imports.

It proves that adding a job type is adding one entry to the contract's table: the stack (event rule,
IAM grants, cdk-nag), the handlers and the simulator pick it up with no other change.
"""

from __future__ import annotations

import importlib

from tracker.contract import NUMERIC_ID, STORE_JOB_STATUSES, IdField, JobType

READ_SET_IMPORT = JobType(
    name="READ_SET_IMPORT",
    get_operation="GetReadSetImportJob",
    ids=(
        IdField("sequenceStoreId", "sequenceStoreId", NUMERIC_ID, "1234567890", "sequenceStoreId"),
        IdField("jobId", "id", NUMERIC_ID, "9876543210", "id"),
    ),
    items_field="sources",
    item_key_path="sourceFiles.source1",
    item_status_field="status",
    event_detail_type="Read Set Import Job Status Change",
    statuses=STORE_JOB_STATUSES,
    iam_resource="sequenceStore/{sequenceStoreId}",
)


def add_to_contract() -> None:
    """Add the entry to the contract module imported now (the local cloud re-imports it at a cold start)."""
    importlib.import_module("tracker.contract").JOB_TYPES[READ_SET_IMPORT.name] = READ_SET_IMPORT


def remove_from_contract() -> None:
    importlib.import_module("tracker.contract").JOB_TYPES.pop(READ_SET_IMPORT.name, None)
