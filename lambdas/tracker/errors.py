"""Errors the handlers raise on purpose.

The class name is the error name Step Functions sees (Lambda reports ``errorType``), so the state
machine's Retry and Catch match on these names. Keep them stable: they are part of the contract.
"""


class TrackerError(Exception):
    """Base class: a failure the state machine knows how to route."""


class InvalidInput(TrackerError):
    """The execution input is not one of the documented shapes."""


class JobNotFound(TrackerError):
    """HealthOmics has no such job (ResourceNotFoundException)."""


class AccessDenied(TrackerError):
    """The tracker's role may not read the job (AccessDeniedException)."""


class RequestRejected(TrackerError):
    """HealthOmics rejected the request as malformed (ValidationException)."""


class ServiceThrottled(TrackerError):
    """HealthOmics throttled the call; retried by the state machine with backoff and jitter."""


class ServiceUnavailable(TrackerError):
    """HealthOmics failed or timed out; retried by the state machine with backoff and jitter."""


# Error names the state machine retries, and the ones it reports as a clean failure.
RETRYABLE_ERRORS = (ServiceThrottled.__name__, ServiceUnavailable.__name__)
FATAL_ERRORS = (JobNotFound.__name__, AccessDenied.__name__, RequestRejected.__name__)
