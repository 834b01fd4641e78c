"""The tracker's contract, defined once: job types, the history table's layout, error names, defaults.

Standard library only, so that every part imports this one module: the Lambda handlers (it ships in
their asset), the CDK app (the state machine's paths, the IAM grants, the event rule), the local
cloud (the simulator) and the command-line tool. Adding a job type is adding one entry to JOB_TYPES.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# ---- Job types ------------------------------------------------------------------------------

NUMERIC_ID = re.compile(r"^[0-9]{10,36}$")
UUID_ID = re.compile(r"^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$")
RUN_ID = re.compile(r"^[0-9]{1,18}$")

# Statuses of the store jobs (botocore omics model); variant imports have no CANCELLING.
STORE_JOB_STATUSES = frozenset(
    {"SUBMITTED", "IN_PROGRESS", "CANCELLING", "CANCELLED", "FAILED", "COMPLETED", "COMPLETED_WITH_FAILURES"}
)
VARIANT_JOB_STATUSES = STORE_JOB_STATUSES - {"CANCELLING"}  # also annotation imports' (JobStatus)
# Workflow runs (RunStatus): a deleted run is gone, so it ends its tracking too.
RUN_STATUSES = frozenset({"PENDING", "STARTING", "RUNNING", "STOPPING", "COMPLETED", "DELETED", "CANCELLED", "FAILED"})
TERMINAL_STATUSES = frozenset({"COMPLETED", "COMPLETED_WITH_FAILURES", "FAILED", "CANCELLED", "DELETED"})
SUCCESS_STATUS = "COMPLETED"

EVENT_SOURCE = "aws.omics"


@dataclass(frozen=True)
class IdField:
    """One id a job is addressed by: its name in the tracker's input, in the Get request and in events."""

    name: str
    api_param: str
    pattern: re.Pattern[str]
    example: str
    event_field: str
    # The event may carry the id only inside its ``arn`` (".../run/<id>"): the ARN's resource type.
    arn_resource: str = ""

    def from_event(self, detail: dict[str, Any]) -> Any:
        """The id as an event's detail gives it: its own field, else the end of its ARN."""
        value = detail.get(self.event_field)
        arn = detail.get("arn")
        if not value and self.arn_resource and isinstance(arn, str) and f":{self.arn_resource}/" in arn:
            return arn.rsplit("/", 1)[-1]
        return value


@dataclass(frozen=True)
class JobType:
    name: str
    get_operation: str  # HealthOmics API operation, e.g. GetReferenceImportJob
    ids: tuple[IdField, ...]  # the job id is last: keys read "store#job"
    items_field: str  # the list of per-source / per-item results in the Get response ("": the job has none)
    item_key_path: str  # dotted path to an item's identity (source file, read set id)
    item_status_field: str
    event_detail_type: str  # the aws.omics EventBridge detail-type of its status changes
    statuses: frozenset[str]
    # The ARN resource the Get operation is authorised on ("*": no resource-level permissions).
    # ``{id name}`` placeholders are filled with what the stack knows, the rest with "*".
    iam_resource: str
    # Where the Get response says why (joined with ": " when both are there) and when the job ended.
    message_fields: tuple[str, ...] = ("statusMessage",)
    completion_time_field: str = "completionTime"
    # How the account-wide sweep finds jobs: the kind's List operation, and for a kind whose jobs live in stores
    # (its ids before the job id), the List operation of those stores.
    list_operation: str = ""
    store_list_operation: str = ""

    @property
    def has_items(self) -> bool:
        return bool(self.items_field)

    @property
    def open_statuses(self) -> frozenset[str]:
        """The statuses a job of this type may still leave (the ones it can stall in)."""
        return self.statuses - TERMINAL_STATUSES

    def message_from(self, response: dict[str, Any]) -> str:
        return ": ".join(str(response[name]) for name in self.message_fields if response.get(name))

    @property
    def id_names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.ids)

    @property
    def iam_action(self) -> str:
        return f"omics:{self.get_operation}"

    @property
    def client_method(self) -> str:
        """The boto3 method: GetReferenceImportJob -> get_reference_import_job."""
        return client_method(self.get_operation)

    @property
    def list_iam_resource(self) -> str:
        """What the List operation is authorised on: the kind's stores, any of them; "*" for a kind without stores
        (ListRuns, ListVariantImportJobs: no resource-level permissions)."""
        if len(self.ids) == 1:
            return "*"
        return re.sub(r"\{\w+\}", "*", self.iam_resource)

    def get_request(self, ids: dict[str, str]) -> dict[str, str]:
        return {field.api_param: ids[field.name] for field in self.ids}

    def item_key(self, item: dict[str, Any]) -> str | None:
        value: Any = item
        for part in self.item_key_path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return str(value) if value else None

    def items_from(self, response: dict[str, Any]) -> dict[str, str]:
        """Per-item statuses keyed by the item's identity."""
        return self._item_values(response, self.item_status_field)

    def item_messages_from(self, response: dict[str, Any]) -> dict[str, str]:
        """Per-item status messages (why a source failed), where HealthOmics gives one."""
        return self._item_values(response, "statusMessage")

    def _item_values(self, response: dict[str, Any], field: str) -> dict[str, str]:
        values = {}
        for item in response.get(self.items_field) or []:
            key, value = self.item_key(item), item.get(field)
            if key and value:
                values[key] = str(value)
        return values


REFERENCE_IMPORT = "REFERENCE_IMPORT"
VARIANT_IMPORT = "VARIANT_IMPORT"
READ_SET_EXPORT = "READ_SET_EXPORT"
READ_SET_IMPORT = "READ_SET_IMPORT"
ANNOTATION_IMPORT = "ANNOTATION_IMPORT"
RUN = "RUN"

JOB_TYPES: dict[str, JobType] = {
    REFERENCE_IMPORT: JobType(
        name=REFERENCE_IMPORT,
        get_operation="GetReferenceImportJob",
        ids=(
            IdField("referenceStoreId", "referenceStoreId", NUMERIC_ID, "1234567890", "referenceStoreId"),
            IdField("jobId", "id", NUMERIC_ID, "9876543210", "id"),
        ),
        items_field="sources",
        item_key_path="sourceFile",
        item_status_field="status",
        event_detail_type="Reference Import Job Status Change",
        statuses=STORE_JOB_STATUSES,
        iam_resource="referenceStore/{referenceStoreId}",
        list_operation="ListReferenceImportJobs",
        store_list_operation="ListReferenceStores",
    ),
    VARIANT_IMPORT: JobType(
        name=VARIANT_IMPORT,
        get_operation="GetVariantImportJob",
        ids=(IdField("jobId", "jobId", UUID_ID, "0f0e0d0c-0b0a-4909-8807-060504030201", "jobId"),),
        items_field="items",
        item_key_path="source",
        item_status_field="jobStatus",
        event_detail_type="Variant Import Job Status Change",
        statuses=VARIANT_JOB_STATUSES,
        iam_resource="*",
        list_operation="ListVariantImportJobs",
    ),
    READ_SET_EXPORT: JobType(
        name=READ_SET_EXPORT,
        get_operation="GetReadSetExportJob",
        ids=(
            IdField("sequenceStoreId", "sequenceStoreId", NUMERIC_ID, "1234567890", "sequenceStoreId"),
            IdField("jobId", "id", NUMERIC_ID, "9876543210", "id"),
        ),
        items_field="readSets",
        item_key_path="id",
        item_status_field="status",
        event_detail_type="Read Set Export Job Status Change",
        statuses=STORE_JOB_STATUSES,
        iam_resource="sequenceStore/{sequenceStoreId}",
        list_operation="ListReadSetExportJobs",
        store_list_operation="ListSequenceStores",
    ),
    READ_SET_IMPORT: JobType(
        name=READ_SET_IMPORT,
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
        list_operation="ListReadSetImportJobs",
        store_list_operation="ListSequenceStores",
    ),
    # Annotation stores, like variant stores, are closed to new customers (since 2025-11-07): followed where they exist.
    ANNOTATION_IMPORT: JobType(
        name=ANNOTATION_IMPORT,
        get_operation="GetAnnotationImportJob",
        ids=(IdField("jobId", "jobId", UUID_ID, "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "jobId"),),
        items_field="items",
        item_key_path="source",
        item_status_field="jobStatus",
        event_detail_type="Annotation Import Job Status Change",
        statuses=VARIANT_JOB_STATUSES,
        iam_resource="*",
        list_operation="ListAnnotationImportJobs",
    ),
    # A workflow run: no items; why it failed is its failureReason (and statusMessage), its end its stopTime. Its
    # event names it by ARN, and by runId in the newer event schema: either is read.
    RUN: JobType(
        name=RUN,
        get_operation="GetRun",
        ids=(IdField("jobId", "id", RUN_ID, "1234567", "runId", arn_resource="run"),),
        items_field="",
        item_key_path="",
        item_status_field="",
        event_detail_type="Run Status Change",
        statuses=RUN_STATUSES,
        iam_resource="run/{jobId}",
        message_fields=("failureReason", "statusMessage"),
        completion_time_field="stopTime",
        list_operation="ListRuns",
    ),
}


def client_method(operation: str) -> str:
    """The boto3 method of an API operation: GetReferenceImportJob -> get_reference_import_job."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def job_type_for_event(detail_type: str) -> JobType | None:
    return next((spec for spec in JOB_TYPES.values() if spec.event_detail_type == detail_type), None)


# ---- The history table --------------------------------------------------------------------


class Table:
    """Key and attribute names of the status history table (docs/reference.md#status-history-table)."""

    PK = "pk"
    SK = "sk"
    STATE_SK = "STATE"
    EVENT_SK_PREFIX = "EVENT#"
    # One report per status a job stalled in (STALLED#IN_PROGRESS): a status never comes back, so once per stall.
    STALLED_SK_PREFIX = "STALLED#"
    JOB_PK_PREFIX = "JOB"
    # Attributes of the STATE item and of each EVENT# entry: the job's status as it was then.
    STATUS = "status"
    STATUS_MESSAGE = "statusMessage"
    ITEMS = "items"  # item (source file, read set) -> its status
    ITEM_MESSAGES = "itemMessages"
    CREATION_TIME = "creationTime"
    COMPLETION_TIME = "completionTime"
    EXECUTION_ARN = "executionArn"  # the execution that recorded the entry; on STATE, the latest to follow the job
    # EVENT# entries only.
    SEQUENCE = "sequence"
    CHANGES = "changes"
    OBSERVED_AT = "observedAt"
    OBSERVED_BY = "observedBy"  # an ObservedBy
    # The STATE item only.
    JOB_TYPE = "jobType"
    IDS = "ids"
    FIRST_OBSERVED_AT = "firstObservedAt"
    LAST_EVENT_AT = "lastEventAt"
    STATUS_SINCE = "statusSince"  # when the tracker first recorded the current status (not an item's change)
    STALLED = "stalled"  # the stall of the current status, once reported (removed when the status changes)
    # A STALLED# item (and the STATE's ``stalled`` map): the status, its statusSince, the limit and when it was found.
    STALLED_AFTER_SECONDS = "stalledAfterSeconds"
    DETECTED_AT = "detectedAt"
    EXECUTION_ARNS = "executionArns"  # every execution that followed the job (a string set)
    # What the Notify function has published of a job's changes ("event#3", "message#5"), so that a stream record
    # Lambda sends again is not published again: one item per job, apart from STATE (no contention with its writes).
    PUBLISHED_SK = "PUBLISHED"
    PUBLISHED = "published"
    # Attributes the state machine reads or writes itself: the STATE item's (WaitForChangeOrTimeout) and a
    # queue entry's (WaitForTurn); both park the waiting execution's task token.
    VERSION = "version"
    TERMINAL = "terminal"
    TURN_VERSION = "turnVersion"
    WAIT_TOKEN = "waitToken"
    # The poll count of the execution parked on a job (WaitForChangeOrTimeout): the JobEvents function that wakes
    # it hands it the poll's outcome, counted on from there.
    WAIT_ATTEMPT = "waitAttempt"
    # The sparse index that lists jobs (STATE items only) by status and time of the last change.
    STATUS_INDEX = "ByStatus"
    STATUS_INDEX_PK = "currentStatus"
    STATUS_INDEX_SK = "lastChangedAt"
    # A reference store's import queue (docs/design.md#imports-one-at-a-time-per-store): one item collection per store.
    STORE_PK_PREFIX = "STORE#"
    LOCK_SK = "LOCK"  # which import holds the store, and the batch being started
    ENTRY_SK_PREFIX = "QUEUE#"  # one waiting request: QUEUE#<arrival time>#<token>, so keys sort by arrival
    TICKET_SK_PREFIX = "TICKET#"  # a request's token -> its entry, so a repeated request finds its place


class ObservedBy(StrEnum):
    """How a change was observed: an entry's ``observedBy``, and a dimension of the handlers' metrics."""

    POLL = "poll"
    EVENT = "event"
    # StartReferenceImportJob's answer (id, status, creation time): an import the tracker starts is recorded
    # from the moment it exists, so its first status event finds a history.
    START = "start"


@dataclass(frozen=True)
class JobRef:
    """A job as the tracker addresses it: its type and its ids (by the tracker's id names)."""

    job_type: str
    ids: dict[str, str]

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> JobRef:
        spec = JOB_TYPES[str(payload["jobType"])]
        return cls(spec.name, {name: str(payload[name]) for name in spec.id_names})

    @property
    def spec(self) -> JobType:
        return JOB_TYPES[self.job_type]

    @property
    def pk(self) -> str:
        return "#".join([Table.JOB_PK_PREFIX, self.job_type, *(self.ids[name] for name in self.spec.id_names)])

    @classmethod
    def from_pk(cls, pk: str) -> JobRef:
        """The job a history item belongs to, from its partition key (``JOB#<jobType>#<ids…>``)."""
        prefix, job_type, *ids = pk.split("#")
        spec = JOB_TYPES.get(job_type) if prefix == Table.JOB_PK_PREFIX else None
        if spec is None or len(ids) != len(spec.id_names):
            raise ValueError(f"not a job's partition key: {pk!r}")
        return cls(spec.name, dict(zip(spec.id_names, ids, strict=True)))

    def to_dict(self) -> dict[str, str]:
        return {"jobType": self.job_type, **self.ids}


# ---- Errors ---------------------------------------------------------------------------------
# The class name is the error name Step Functions sees (Lambda reports ``errorType``), so the state
# machine's Retry and Catch match on these names.


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


class BudgetExhausted(TrackerError):
    """The tracker's share of a HealthOmics rate limit is taken for longer than the caller may wait; nothing was
    called. Retried by the state machine with a long, jittered backoff: many jobs then slow down together."""

    def __init__(self, operation: str, retry_after_seconds: float) -> None:
        super().__init__(f"{operation}: call budget exhausted, retry after {retry_after_seconds:.3f} s")
        self.operation = operation
        self.retry_after_seconds = retry_after_seconds


class ServiceUnavailable(TrackerError):
    """HealthOmics or DynamoDB failed or timed out; retried by the state machine with backoff and jitter."""


RETRYABLE_ERRORS: tuple[type[TrackerError], ...] = (ServiceThrottled, ServiceUnavailable)

# HealthOmics' per-account rate limits of the operations the tracker calls, in calls per second (HealthOmics
# "api-quotas"; GetVariantImportJob's is not adjustable). The tracker keeps to a share of each (omicsCallShare).
OMICS_RATE_LIMITS: dict[str, float] = {
    "GetReferenceImportJob": 5,
    "StartReferenceImportJob": 5,
    "ListReferenceImportJobs": 5,
    "GetReadSetExportJob": 5,
    "GetReadSetImportJob": 5,
    "GetVariantImportJob": 1,
    "GetAnnotationImportJob": 1,  # not adjustable either
    "GetRun": 10,
    # The account-wide sweep's (api-quotas: each List operation shares its kind's row).
    "ListReferenceStores": 5,
    "ListSequenceStores": 5,
    "ListReadSetImportJobs": 5,
    "ListReadSetExportJobs": 5,
    "ListVariantImportJobs": 1,
    "ListAnnotationImportJobs": 1,
    "ListRuns": 10,
}
FATAL_POLL_ERRORS: tuple[type[TrackerError], ...] = (JobNotFound, AccessDenied, RequestRejected)


# ---- Reference files --------------------------------------------------------------------------

# HealthOmics reference file endings (docs: manage-reference-store), each also bgzipped (.gz).
# Sources one StartReferenceImportJob takes (botocore omics model: 1 to 100).
MAX_SOURCES_PER_IMPORT = 100
REFERENCE_ENDINGS = (".fasta", ".fa", ".fas", ".fsa", ".faa", ".fna", ".ffn", ".frn", ".mpfa", ".seq", ".txt")


class ReferenceStoreResource:
    """The custom resource that finds or creates the reference store: type, default description, GetAtt names."""

    TYPE = "Custom::AccountReferenceStore"
    DEFAULT_DESCRIPTION = "Reference genomes imported by the HealthOmics job tracker"
    ID = "ReferenceStoreId"
    ARN = "ReferenceStoreArn"
    NAME = "ReferenceStoreName"


# ---- Lambda environment and defaults --------------------------------------------------------

SERVICE_NAME = "omics-job-tracker"  # Powertools service name of every function
METRICS_NAMESPACE = "OmicsJobTracker"  # CloudWatch namespace of the handlers' metrics
# The tracker's own event, one per recorded change, on the account's default bus (docs/operating.md#notifications).
STATUS_CHANGED_SOURCE = SERVICE_NAME
STATUS_CHANGED_DETAIL_TYPE = "Job Status Changed"
JOB_STALLED_DETAIL_TYPE = "Job Stalled"  # once per status a job stayed in longer than its limit


class Env:
    """Environment variables the stack sets and the handlers read."""

    TABLE_NAME = "TABLE_NAME"
    REFERENCE_STORE_ID = "REFERENCE_STORE_ID"
    STATE_MACHINE_ARN = "STATE_MACHINE_ARN"
    POLL_FIRST_WAIT_SECONDS = "POLL_FIRST_WAIT_SECONDS"
    POLL_BACKOFF_FACTOR = "POLL_BACKOFF_FACTOR"
    POLL_MAX_WAIT_SECONDS = "POLL_MAX_WAIT_SECONDS"
    POLL_WAIT_WITH_EVENTS_SECONDS = "POLL_WAIT_WITH_EVENTS_SECONDS"
    MAX_POLLS_PER_EXECUTION = "MAX_POLLS_PER_EXECUTION"
    TOPIC_ARN = "TOPIC_ARN"
    IMPORT_ROLE_ARN = "IMPORT_ROLE_ARN"
    IMPORT_BATCH_WINDOW_SECONDS = "IMPORT_BATCH_WINDOW_SECONDS"
    STORE_QUEUE_CHECK_SECONDS = "STORE_QUEUE_CHECK_SECONDS"
    OMICS_CALL_SHARE = "OMICS_CALL_SHARE"
    STALL_LIMITS = "STALL_LIMITS"  # JSON: job type -> non-terminal status -> seconds (0: never stalled)
    FOLLOW_ALL_JOBS = "FOLLOW_ALL_JOBS"  # JSON: the job types followed account-wide ([]: the mode is off)
    SWEEP_LOOKBACK_SECONDS = "SWEEP_LOOKBACK_SECONDS"  # the sweep also lists jobs created this recently, ended or not


@dataclass(frozen=True)
class Defaults:
    """Defaults of the cdk.json context keys that the handlers also see (docs/reference.md#configuration)."""

    poll_first_wait_seconds: int = 30
    poll_backoff_factor: float = 2.0
    poll_max_wait_seconds: int = 600
    poll_wait_with_events_seconds: int = 3600
    max_polls_per_execution: int = 300
    execution_timeout_days: int = 14
    # An upload waits this long for others to join its import (0: a free store starts at once; later
    # arrivals still share the next import while one runs).
    import_batch_window_seconds: int = 0
    # How often a request waiting for its store looks again without being woken (a safety net: the
    # execution that ends an import wakes the next one; an import started outside the tracker is only
    # seen this way).
    store_queue_check_seconds: int = 300
    # The share of each HealthOmics rate limit the tracker's calls may use, all functions together.
    omics_call_share: float = 0.5


DEFAULTS = Defaults()
# How long a job may stay in a non-terminal status before it is reported stalled (stalledAfterSeconds), whatever
# its type, unless the context says otherwise. A status not listed here is never reported.
DEFAULT_STALL_LIMITS: dict[str, int] = {
    "SUBMITTED": 3600,
    "IN_PROGRESS": 86_400,
    "CANCELLING": 3600,
    # A run's (RunStatus): one queued behind its run group's limits may wait in PENDING for hours (never reported);
    # whole-genome workflows run for days, and a run's own default time limit is 7 days.
    "PENDING": 0,
    "STARTING": 3600,
    "RUNNING": 7 * 86_400,
    "STOPPING": 3600,
}
