"""The classic poller's "Get Job Status" function: one HealthOmics Get call, the status back."""

from typing import Any

import boto3

_GET = {
    "READ_SET_EXPORT": (
        "get_read_set_export_job",
        lambda e: {"sequenceStoreId": e["sequenceStoreId"], "id": e["jobId"]},
    ),
    "VARIANT_IMPORT": ("get_variant_import_job", lambda e: {"jobId": e["jobId"]}),
    "REFERENCE_IMPORT": (
        "get_reference_import_job",
        lambda e: {"referenceStoreId": e["referenceStoreId"], "id": e["jobId"]},
    ),
}
_omics = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _omics
    _omics = _omics or boto3.client("omics")
    operation, request = _GET[event["jobType"]]
    return {"status": getattr(_omics, operation)(**request(event))["status"]}
