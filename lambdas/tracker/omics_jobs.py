"""Reading a job's status from HealthOmics, through the job-type table."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from tracker.errors import (
    AccessDenied,
    JobNotFound,
    RequestRejected,
    ServiceThrottled,
    ServiceUnavailable,
    TrackerError,
)
from tracker.job_types import JobType
from tracker.status import Snapshot

_ERRORS: dict[str, type[TrackerError]] = {
    "ResourceNotFoundException": JobNotFound,
    "AccessDeniedException": AccessDenied,
    "ValidationException": RequestRejected,
    "ThrottlingException": ServiceThrottled,
    "TooManyRequestsException": ServiceThrottled,
    "InternalServerException": ServiceUnavailable,
    "ServiceUnavailableException": ServiceUnavailable,
    "RequestTimeoutException": ServiceUnavailable,
}


def describe_job(omics: Any, spec: JobType, ids: dict[str, str]) -> Snapshot:
    """The job's current status and item statuses; HealthOmics errors become the tracker's errors."""
    request = spec.get_request(ids)
    try:
        response = getattr(omics, spec.get_operation)(**request)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        raise _ERRORS.get(code, ServiceUnavailable)(
            f"{spec.name} job {_describe_ids(ids)}: {spec.get_operation} failed with {code}: {message}"
        ) from None
    except (ConnectionError, ReadTimeoutError, BotoCoreError) as error:
        raise ServiceUnavailable(
            f"{spec.name} job {_describe_ids(ids)}: {spec.get_operation} failed: {error}"
        ) from None
    return Snapshot(
        status=str(response["status"]),
        status_message=str(response.get("statusMessage") or ""),
        items=spec.items_from(response),
    )


def _describe_ids(ids: dict[str, str]) -> str:
    return ", ".join(f"{name}={value}" for name, value in ids.items())
