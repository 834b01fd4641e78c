"""A HealthOmics simulator answering the storage job APIs through botocore's event system.

Requests are routed and validated with botocore's real ``omics`` model (``before-send.omics``),
and the JSON answers are parsed by botocore like a real response, so shapes cannot drift from the
service. Jobs move through their statuses on the simulated clock; tests script outcomes and faults.

The job types are the tracker's own table, ``tracker.contract.JOB_TYPES``, read at each use: one
handler answers every job type's Get operation, filling that operation's output shape from the model
(ids, status, times, the per-item statuses, and a placeholder for any other required member), and the
status events are built from the type's id fields and detail-type. A job type added to the table, even
at run time, is simulated with no change here. StartReferenceImportJob, the one job the tracker
starts, has its own handler; it reads its sources from the local S3 (moto) as HealthOmics would.
The account's reference store is simulated too (CreateReferenceStore, ListReferenceStores with its
pages and filter, GetReferenceStore): one per account and Region, as HealthOmics allows; and so is
ListReferenceImportJobs, listing a store's reference imports (pages, filter), whether started through
the API or added with ``add_job``.

The simulator is held to the model both ways. A request is checked for types, required members and
lengths (botocore's ParamValidator), then for enums and the model's ``pattern`` of every member, nested
ones included, with the ``regex`` package (the model's patterns use Java's ``\\p{L}`` classes, which
Python's ``re`` cannot compile); a violation is refused with ``ValidationException``. Every answer,
success or error, is checked against the operation's output or error shape (``model_violations``);
an answer the model does not allow raises ``SimulatorContractError`` at once, a bug in the simulator or
in a test's script, never an HTTP error that a retry could hide.
"""

from __future__ import annotations

import collections
import copy
import functools
import importlib
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import botocore.session
import regex
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ClientError
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator
from moto.core.botocore_stubber import MockRawResponse

from localcloud.clock import SimClock
from tracker.contract import EVENT_SOURCE, REFERENCE_IMPORT, TERMINAL_STATUSES, UUID_ID, JobType

JOB_ID = "jobId"  # the tracker's name of the job id (the last of a job type's ids)
# Per-item status shown while the job is in a given status, where items have their own statuses
# (NOT_STARTED ... FINISHED); items that share the job statuses show the job's.
_ITEM_STATUS = {
    "SUBMITTED": "NOT_STARTED",
    "IN_PROGRESS": "IN_PROGRESS",
    "CANCELLING": "IN_PROGRESS",
    "COMPLETED": "FINISHED",
    "COMPLETED_WITH_FAILURES": "FAILED",
    "FAILED": "FAILED",
    "CANCELLED": "FAILED",
}
# Per-account API rate limits (HealthOmics api-quotas): calls beyond them in one second are throttled.
RATE_LIMITS_PER_SECOND = {
    "GetVariantImportJob": 1,  # not adjustable
    "GetAnnotationImportJob": 1,  # not adjustable
    "GetReferenceImportJob": 5,
    "GetReadSetExportJob": 5,
    "GetReadSetImportJob": 5,
    "GetRun": 10,
    # The List operations of the other kinds (api-quotas): their Start/Get/List rows.
    "ListRuns": 10,
    "ListReadSetImportJobs": 5,
    "ListReadSetExportJobs": 5,
    "ListSequenceStores": 5,
    "ListVariantImportJobs": 1,
    "ListAnnotationImportJobs": 1,
    "StartReferenceImportJob": 5,
    "CreateReferenceStore": 1,
    "ListReferenceStores": 5,
    "ListReferenceImportJobs": 5,
}
# Values of required Get response members the job does not determine, by member name (others: by type).
_KNOWN_VALUES = {
    "destination": "s3://exports-bucket/out/",
    "destinationName": "variant_store",
    "sourceFileType": "FASTQ",
    "subjectId": "sample-1",
    "sampleId": "sample-1",
    "statusMessage": "",
}
# Optional item members a real item always has, by the item's shape: a reference is always named.
_ITEM_DEFAULTS: dict[str, dict[str, Any]] = {"ImportReferenceSourceItem": {"name": "ref"}}
# What an aws.omics event carries beyond its ids and status, by detail-type (HealthOmics EventBridge
# docs); "{region}" and "{account}" are filled in. Variant import events have no statusMessage.
_EVENT_EXTRAS: dict[str, dict[str, str]] = {
    "Variant Import Job Status Change": {
        "storeId": "variant-store",
        "storeName": "variant_store",
        "arn": "arn:aws:omics:{region}:{account}:variantStore/variant_store",
    },
    "Annotation Import Job Status Change": {
        "storeId": "annotation-store",
        "storeName": "annotation_store",
        "arn": "arn:aws:omics:{region}:{account}:annotationStore/annotation_store",
    },
    "Run Status Change": {"arn": "arn:aws:omics:{region}:{account}:run/{job_id}"},
}
_EVENTS_WITHOUT_STATUS_MESSAGE = frozenset(
    {"Variant Import Job Status Change", "Annotation Import Job Status Change", "Run Status Change"}
)
# The List operation of each kind the simulator lists generically (ListReferenceImportJobs has its own: its store
# is one the simulator models): each lists the kind's jobs, oldest first (AWS documents no order).
_LISTED_KINDS = {
    "ListReadSetImportJobs": "READ_SET_IMPORT",
    "ListReadSetExportJobs": "READ_SET_EXPORT",
    "ListVariantImportJobs": "VARIANT_IMPORT",
    "ListAnnotationImportJobs": "ANNOTATION_IMPORT",
    "ListRuns": "RUN",
}
# A store job's statuses as a workflow run's (RunStatus), so one timeline scripts either.
_RUN_EQUIVALENTS = {"SUBMITTED": "PENDING", "IN_PROGRESS": "RUNNING", "CANCELLING": "STOPPING"}
# Scripted endings that become COMPLETED_WITH_FAILURES (or FAILED) when sources could not be read.
_SUCCESSFUL_ENDS = frozenset({"COMPLETED", "COMPLETED_WITH_FAILURES"})
# Item statuses that say why in the item's statusMessage.
_UNSUCCESSFUL_ITEM_STATUSES = frozenset({"FAILED", "CANCELLED", "COMPLETED_WITH_FAILURES"})
# The S3 error codes of an object (or bucket) that does not exist; HEAD answers carry only "404".
_NOT_FOUND_CODES = frozenset({"404", "NotFound", "NoSuchKey", "NoSuchBucket"})
_S3_URI = regex.compile(r"s3://(?P<bucket>[^/]+)/(?P<key>.+)", regex.DOTALL)
_MESSAGE_LIMIT = 127  # JobStatusMessage's max length in the model
# The page size of ListReferenceStores and ListReferenceImportJobs when the request gives no maxResults
# (AWS does not document their defaults).
LIST_PAGE_SIZE = 100


class OmicsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Violation:
    """One way a value breaks the omics model: where (``sources[0].name``), which rule, its constraint."""

    path: str
    rule: str  # required, unknown member, type, enum, pattern, length, range
    constraint: str  # in AWS's validation wording, e.g. "Member must satisfy enum value set: [...]"
    value: Any = None

    def describe(self) -> str:
        got = "missing" if self.rule == "required" else f"got {_shown(self.value)}"
        return f"{self.path or '<root>'}: {self.rule} rule: {self.constraint} ({got})"


class SimulatorContractError(AssertionError):
    """The simulator was about to answer what the omics model does not allow: a bug in the simulator or
    in a test's script. Raised, never answered, so no retry can hide it."""

    def __init__(self, operation: str, violations: list[Violation], answer: str = "response") -> None:
        self.operation = operation
        self.violations = violations
        self.path = violations[0].path
        self.rule = violations[0].rule
        details = "; ".join(violation.describe() for violation in violations)
        super().__init__(f"{operation} {answer} breaks the omics model: {details}")


@dataclass
class Timeline:
    """How a job moves: each (status, seconds spent in it); the last status is where it stays."""

    steps: list[tuple[str, float]]
    status_message: str = ""
    failure_reason: str = ""  # a workflow run's, when it fails (GetRun's failureReason, e.g. RUN_TIMED_OUT)

    @classmethod
    def ending(
        cls, final: str = "COMPLETED", submitted: float = 20, running: float = 300, message: str = ""
    ) -> Timeline:
        steps: list[tuple[str, float]] = [("SUBMITTED", submitted), ("IN_PROGRESS", running)]
        if final == "CANCELLED":
            steps.append(("CANCELLING", 900))  # longer than the poll cap: always observed
        steps.append((final, 0))
        return cls(steps, message)

    def status_at(self, elapsed: float) -> str:
        for status, seconds in self.steps[:-1]:
            if elapsed < seconds:
                return status
            elapsed -= seconds
        return self.steps[-1][0]

    def ends_after(self) -> float:
        return sum(seconds for _, seconds in self.steps[:-1])


def job_types() -> dict[str, JobType]:
    """The job-type table as the handlers see it now: looked up at each use, not bound at import, as
    tests may add job types at run time and the local cloud re-imports ``tracker`` on a cold start."""
    return cast(dict[str, JobType], importlib.import_module("tracker.contract").JOB_TYPES)


@dataclass
class Job:
    job_type: str
    ids: dict[str, str]  # the job type's ids by the tracker's names (IdField.name), the job id last
    created: datetime
    timeline: Timeline
    # Each item as the Get response's item would start: its key at the job type's item_key_path.
    items: list[dict[str, Any]]
    role_arn: str = "arn:aws:iam::123456789012:role/omics-import"
    client_token: str | None = None
    # Why each source HealthOmics could not read fails, by its index in `items` (found when an import
    # starts); such a source ends FAILED when the job ends, and so may the job (``outcome``).
    source_failures: dict[int, str] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        return self.ids[JOB_ID]

    @property
    def store_id(self) -> str:
        """The store the job belongs to (its first id other than the job id), or "" if none."""
        return next((value for name, value in self.ids.items() if name != JOB_ID), "")

    def timeline_status(self, now: datetime) -> str:
        """The status the job's timeline scripts for `now`, before its sources' failures count."""
        return self.timeline.status_at((now - self.created).total_seconds())

    def status(self, now: datetime) -> str:
        return self.outcome(self.timeline_status(now))

    def outcome(self, scripted: str) -> str:
        """The status shown for a scripted one: a successful end with failed sources is
        COMPLETED_WITH_FAILURES, or FAILED if every source failed."""
        if scripted not in _SUCCESSFUL_ENDS or not self.source_failures:
            return scripted
        return "FAILED" if len(self.source_failures) >= len(self.items) else "COMPLETED_WITH_FAILURES"

    @property
    def status_message(self) -> str:
        """The job's message once it has ended: the scripted one, else what its failed sources say."""
        if self.timeline.status_message or not self.source_failures:
            return self.timeline.status_message
        failed, total = len(self.source_failures), len(self.items)
        if total == 1:
            return next(iter(self.source_failures.values()))
        return _fit(f"{failed} of {total} sources failed; first: {self.source_failures[min(self.source_failures)]}")

    def changed_at(self, now: datetime) -> datetime:
        """When the job entered the status it has at `now` (the Get answers' updateTime)."""
        elapsed, start = (now - self.created).total_seconds(), 0.0
        for _, seconds in self.timeline.steps[:-1]:
            if elapsed < start + seconds:
                break
            start += seconds
        return self.created + timedelta(seconds=start)

    def completion_time(self) -> datetime:
        return self.created + timedelta(seconds=self.timeline.ends_after())


@dataclass(frozen=True)
class ReferenceStore:
    """A reference store of the simulated account (HealthOmics allows one per account and Region)."""

    id: str
    arn: str
    name: str
    created: datetime
    description: str | None = None
    client_token: str | None = None

    def answer(self) -> dict[str, Any]:
        """The store as CreateReferenceStore, GetReferenceStore and ListReferenceStores describe it."""
        body: dict[str, Any] = {"id": self.id, "arn": self.arn, "name": self.name}
        if self.description:
            body["description"] = self.description
        body["creationTime"] = self.created.isoformat()
        return body


@dataclass
class Fault:
    operation: str
    code: str
    remaining: int
    message: str = "simulated fault"


@dataclass
class OmicsSimulator:
    clock: SimClock
    account_id: str = "123456789012"
    region: str = "us-east-1"
    default_timeline: Timeline = field(default_factory=Timeline.ending)
    jobs: dict[str, Job] = field(default_factory=dict)
    reference_stores: dict[str, ReferenceStore] = field(default_factory=dict)
    # Reference stores an account may have in a Region: one ("Creating a HealthOmics reference store"). A test
    # may raise it to model an account that somehow has several.
    reference_store_quota: int = 1
    # The error StartReferenceImportJob answers while the store already has an import in progress. AWS
    # documents one import at a time per store but not which error a second one gets; the default is the
    # one the operation declares for a quota. A test may choose another the operation can return (e.g.
    # "ValidationException"); one the model does not declare for it raises SimulatorContractError.
    busy_store_error: str = "ServiceQuotaExceededException"
    calls: list[tuple[str, datetime]] = field(default_factory=list)  # every request
    accepted: list[tuple[str, datetime]] = field(default_factory=list)  # requests within the rate limits
    throttled: list[tuple[str, datetime]] = field(default_factory=list)
    # The first moment a Get answered each job's terminal status: when a poller learned the job ended.
    end_seen_by_get: dict[str, datetime] = field(default_factory=dict)
    _recent: dict[str, collections.deque[datetime]] = field(default_factory=dict)  # accepted, last second
    # aws.omics status events: "all" delivered once each, "none" (all lost), or "duplicated" (each twice)
    event_delivery: str = "all"
    # Jobs (by id) whose every status event is lost, whatever event_delivery says.
    events_lost_for: set[str] = field(default_factory=set)
    # HealthOmics' events reference lists a run event's runId; its schema (and older examples) only the run's arn.
    # True sends the arn alone: the tracker must read either.
    run_events_without_id: bool = False
    _emitted: dict[str, int] = field(default_factory=dict)  # job id -> how many of its statuses were announced
    _planned: list[Timeline] = field(default_factory=list)
    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000000001))
    # Every SimulatorContractError raised, also kept here for a test or harness to assert on.
    contract_errors: list[SimulatorContractError] = field(default_factory=list)
    # How an import role's read of a source is authorised (the local cloud evaluates the role's policies).
    read_permission: Callable[[str, str, str], bool] | None = None
    # Test hook: sees (operation, answer) of each successful answer before the model check, so a test
    # can break an answer and prove the check fails.
    answer_hook: Callable[[str, dict[str, Any]], None] | None = None
    _s3_client: Any = None

    def __post_init__(self) -> None:
        self._model: ServiceModel = botocore.session.get_session().get_service_model("omics")
        self._routes = [
            (_route(self._model, op), self._model.operation_model(op)) for op in self._model.operation_names
        ]
        self._error_shape(self._model.operation_model("StartReferenceImportJob"), self.busy_store_error)

    # ---- what tests and the demo use -------------------------------------------------------
    def create_reference_store(self, name: str, description: str | None = None) -> str:
        """The account's reference store, as if created before (by the console, another stack, ...). There is
        one per account: a second raises OmicsError(ServiceQuotaExceededException), as CreateReferenceStore does."""
        with self._lock:
            return self._new_reference_store(name, description).id

    def plan_next_import(self, timeline: Timeline) -> None:
        """The next StartReferenceImportJob follows this timeline instead of the default."""
        with self._lock:
            self._planned.append(timeline)

    def add_job(
        self,
        job_type: str,
        timeline: Timeline,
        store_id: str = "",
        items: list[str] | None = None,
        job_id: str | None = None,
    ) -> Job:
        """A job started elsewhere (variant import, read-set export, ...), to be followed.

        Statuses the job type's model does not have are left out of the timeline, their time added to
        the status before (a cancelled variant import goes from IN_PROGRESS to CANCELLED, without
        CANCELLING). The Get answer of each status is checked against the model here, so a job the
        model does not allow (e.g. a variant import without items) fails the test at once. `job_id` chooses
        the job's id (e.g. the id an example in docs/ names) instead of the next one."""
        with self._lock:
            spec = job_types()[job_type]
            if job_id is not None and job_id in self.jobs:
                raise OmicsError("ConflictException", f"a job with id {job_id} already exists")
            operation = self._model.operation_model(spec.get_operation)
            items_ = [_nested(spec.item_key_path, key) for key in items or []]
            timeline = _conformed(timeline, operation.output_shape)
            ids = self._new_ids(spec, store_id)
            if job_id is not None:
                job_field = spec.ids[-1]
                if not job_field.pattern.fullmatch(job_id):
                    raise OmicsError("ValidationException", f"{job_field.name} {job_id!r} is not a {job_type} job id")
                ids[job_field.name] = job_id
            job = Job(job_type, ids, self.clock.now(), timeline, items_)
            for moment in self._status_moments(job):
                self._check(operation, operation.output_shape, self._job_body(spec, operation, job, moment))
            self.jobs[job.job_id] = job
            return job

    def fail_next(self, operation: str, code: str, times: int = 1) -> None:
        """The next `times` calls of `operation` fail with `code` (ThrottlingException, ...): an error
        the operation can return in the model, or SimulatorContractError now."""
        self._error_shape(self._model.operation_model(operation), code)
        with self._lock:
            self._faults.append(Fault(operation, code, times))

    def can_read(self, role_arn: str, bucket: str, key: str) -> bool:
        """Whether the import role `role_arn` may read s3://`bucket`/`key`, by its policies when the local
        cloud has them (`read_permission`). A source this answers False for fails with an access-denied
        message, as an unreadable object would."""
        if self.read_permission is None:
            return bool(role_arn and bucket and key)
        return self.read_permission(role_arn, bucket, key)

    def status_event(self, job: Job, status: str | None = None) -> dict[str, Any]:
        """The aws.omics EventBridge event HealthOmics publishes when `job` reaches `status`."""
        status = status or job.status(self.clock.now())
        spec = job_types()[job.job_type]
        detail: dict[str, Any] = {
            field.event_field: job.ids[field.name]
            for field in spec.ids
            if not (field.arn_resource and self.run_events_without_id)
        }
        extras = _EVENT_EXTRAS.get(spec.event_detail_type, {})
        filled = {"region": self.region, "account": self.account_id, "job_id": job.job_id}
        detail.update({k: v.format(**filled) for k, v in extras.items()})
        detail["status"] = status
        if (
            status in TERMINAL_STATUSES
            and job.status_message
            and spec.event_detail_type not in _EVENTS_WITHOUT_STATUS_MESSAGE
        ):
            detail["statusMessage"] = job.status_message
        detail["omicsVersion"] = "1.0.0"
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": spec.event_detail_type,
            "source": EVENT_SOURCE,
            "account": self.account_id,
            "time": self.clock.now().isoformat(),
            "region": self.region,
            "resources": [],
            "detail": detail,
        }

    def next_event_time(self, until: datetime) -> datetime | None:
        """When the next job status change falls, if before `until` (a change already due: now)."""
        with self._lock:
            times = [moment for job in self.jobs.values() for moment in self._unannounced(job)]
        upcoming = [moment for moment in times if moment <= until]
        return max(min(upcoming), self.clock.now()) if upcoming else None

    def due_events(self) -> list[dict[str, Any]]:
        """The status events of every change up to now not yet announced, in time order."""
        now = self.clock.now()
        due: list[tuple[datetime, dict[str, Any]]] = []
        with self._lock:
            for job in self.jobs.values():
                for moment in self._unannounced(job):
                    if moment > now:
                        break
                    status = job.outcome(job.timeline.steps[self._emitted.get(job.job_id, 0)][0])
                    self._emitted[job.job_id] = self._emitted.get(job.job_id, 0) + 1
                    if job.job_id not in self.events_lost_for:
                        due.append((moment, self.status_event(job, status)))
        copies = {"all": 1, "none": 0, "duplicated": 2}[self.event_delivery]
        return [event for _, event in sorted(due, key=lambda pair: pair[0]) for _ in range(copies)]

    def _unannounced(self, job: Job) -> list[datetime]:
        return self._status_moments(job)[self._emitted.get(job.job_id, 0) :]

    @staticmethod
    def _status_moments(job: Job) -> list[datetime]:
        """When the job enters each status of its timeline."""
        moments, elapsed = [], 0.0
        for status_seconds in [0.0, *(seconds for _, seconds in job.timeline.steps[:-1])]:
            elapsed += status_seconds
            moments.append(job.created + timedelta(seconds=elapsed))
        return moments

    def call_count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)

    # ---- the botocore hook -----------------------------------------------------------------
    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        url = urlsplit(request.url)
        for pattern, operation in self._routes:
            match = pattern.match(url.path)
            if match and operation.http["method"] == request.method:
                return self._answer(request, operation, {k: unquote(v) for k, v in match.groupdict().items()})
        return self._response(
            request, 404, {"message": f"no such omics route {request.method} {url.path}"}, "UnknownOperationException"
        )

    def _answer(
        self, request: AWSPreparedRequest, operation: OperationModel, path_params: dict[str, str]
    ) -> AWSResponse:
        body = json.loads(request.body or b"{}") if request.body else {}
        params = {**_query_params(operation, urlsplit(request.url).query), **body, **path_params}
        try:
            self._validate(operation, params)
            with self._lock:
                self.calls.append((operation.name, self.clock.now()))
                self._maybe_fault(operation.name)
                spec = next((s for s in job_types().values() if s.get_operation == operation.name), None)
                if spec is not None:
                    result = self._get_job(spec, operation, params)
                elif operation.name in _LISTED_KINDS:
                    result = self._list_jobs(job_types()[_LISTED_KINDS[operation.name]], operation, params)
                else:
                    handler = getattr(self, f"_op_{operation.name}", None)
                    if handler is None:
                        raise OmicsError("ValidationException", f"{operation.name} is not simulated")
                    result = handler(params)
        except OmicsError as error:
            shape = self._error_shape(operation, error.code)
            answer = {"message": error.message}
            self._check(operation, shape, answer, f"{error.code} answer")
            return self._response(request, shape.metadata["error"]["httpStatusCode"], answer, error.code)
        if self.answer_hook is not None:
            self.answer_hook(operation.name, result)
        self._check(operation, operation.output_shape, result)
        return self._response(request, 200, result)

    @staticmethod
    def _validate(operation: OperationModel, params: dict[str, Any]) -> None:
        """Refuse a request the model does not allow, as HealthOmics does: ValidationException."""
        report = ParamValidator().validate(params, operation.input_shape)
        if report.has_errors():
            raise OmicsError("ValidationException", report.generate_report())
        violations = model_violations(operation.input_shape, params)
        if violations:
            raise OmicsError("ValidationException", validation_message(violations))

    def _check(self, operation: OperationModel, shape: Shape, answer: dict[str, Any], kind: str = "response") -> None:
        violations = model_violations(shape, answer)
        if violations:
            error = SimulatorContractError(operation.name, violations, kind)
            self.contract_errors.append(error)
            raise error

    def _error_shape(self, operation: OperationModel, code: str) -> Shape:
        """The model's shape of the error `code` of `operation`; an error it cannot return is a contract error."""
        shape = next((shape for shape in operation.error_shapes if shape.name == code), None)
        if shape is None:
            declared = sorted(shape.name for shape in operation.error_shapes)
            violation = Violation("", "error", f"the operation's errors are {declared}", code)
            error = SimulatorContractError(operation.name, [violation], "error answer")
            self.contract_errors.append(error)
            raise error
        return shape

    def _maybe_fault(self, operation: str) -> None:
        for fault in self._faults:
            if fault.operation == operation and fault.remaining > 0:
                fault.remaining -= 1
                raise OmicsError(fault.code, fault.message)
        limit = RATE_LIMITS_PER_SECOND.get(operation)
        if limit is not None:
            now = self.clock.now()
            # The operation's calls of the last second (a window per operation: scanning every call ever
            # accepted made each call cost more than the last).
            recent = self._recent.setdefault(operation, collections.deque())
            while recent and now - recent[0] >= timedelta(seconds=1):
                recent.popleft()
            if len(recent) >= limit:
                self.throttled.append((operation, now))
                raise OmicsError("ThrottlingException", f"Rate exceeded: {operation} allows {limit} per second")
            self.accepted.append((operation, now))
            recent.append(now)

    @staticmethod
    def _response(request: AWSPreparedRequest, status: int, body: dict[str, Any], error: str = "") -> AWSResponse:
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}
        if error:
            headers["x-amzn-ErrorType"] = error
        return AWSResponse(request.url, status, headers, MockRawResponse(json.dumps(body, default=str)))

    def _next_id(self) -> str:
        return f"{next(self._ids):010d}"

    def _new_ids(self, spec: JobType, store_id: str) -> dict[str, str]:
        """A new job's ids: `store_id` for the store id(s), a job id of the form the job type's takes."""
        *stores, job_field = spec.ids
        is_uuid = job_field.pattern.pattern == UUID_ID.pattern  # by text: ``tracker`` may be re-imported
        job_id = str(uuid.UUID(int=next(self._ids))) if is_uuid else self._next_id()
        return {**{field.name: store_id for field in stores}, job_field.name: job_id}

    # ---- operations ------------------------------------------------------------------------
    def _new_reference_store(
        self, name: str, description: str | None, client_token: str | None = None
    ) -> ReferenceStore:
        """HealthOmics allows one reference store per account and Region ("Creating a HealthOmics reference
        store"). Which error a second CreateReferenceStore gets is not documented; the simulator answers with
        ServiceQuotaExceededException, the one CreateReferenceStore declares for a quota."""
        if len(self.reference_stores) >= self.reference_store_quota:
            existing = ", ".join(self.reference_stores)
            raise OmicsError(
                "ServiceQuotaExceededException",
                f"The account has reached its quota of reference stores in {self.region} "
                f"({self.reference_store_quota}): {existing}",
            )
        store_id = self._next_id()
        arn = f"arn:aws:omics:{self.region}:{self.account_id}:referenceStore/{store_id}"
        store = ReferenceStore(store_id, arn, name, self.clock.now(), description, client_token)
        self.reference_stores[store_id] = store
        return store

    def _op_CreateReferenceStore(self, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("clientToken")
        for store in self.reference_stores.values():
            if token and store.client_token == token:
                return store.answer()  # the same request again: the same store, not a second one
        return self._new_reference_store(params["name"], params.get("description"), token).answer()

    def _op_GetReferenceStore(self, params: dict[str, Any]) -> dict[str, Any]:
        store = self.reference_stores.get(params["id"])
        if store is None:
            raise OmicsError("ResourceNotFoundException", f"reference store {params['id']} not found")
        return store.answer()

    def _op_ListReferenceStores(self, params: dict[str, Any]) -> dict[str, Any]:
        """The account's stores, oldest first, filtered by name and creation time, a page at a time."""
        wanted = params.get("filter") or {}
        after, before = _moment(wanted.get("createdAfter")), _moment(wanted.get("createdBefore"))
        stores = [
            store
            for store in sorted(self.reference_stores.values(), key=lambda store: (store.created, store.id))
            if wanted.get("name") in (None, store.name)
            and (after is None or store.created >= after)
            and (before is None or store.created <= before)
        ]
        start = _page_start(params.get("nextToken"), len(stores))
        end = start + int(params.get("maxResults") or LIST_PAGE_SIZE)
        answer: dict[str, Any] = {"referenceStores": [store.answer() for store in stores[start:end]]}
        if end < len(stores):
            answer["nextToken"] = str(end)
        return answer

    def _op_StartReferenceImportJob(self, params: dict[str, Any]) -> dict[str, Any]:
        store_id = params["referenceStoreId"]
        if store_id not in self.reference_stores:
            raise OmicsError("ResourceNotFoundException", f"reference store {store_id} not found")
        token = params.get("clientToken")
        for job in self.jobs.values():
            if token and job.client_token == token and job.store_id == store_id:
                return self._started(job)  # same request again: the same job, not a second one
        now = self.clock.now()
        busy = [
            j
            for j in self.jobs.values()
            if j.job_type == REFERENCE_IMPORT and j.store_id == store_id and j.status(now) not in TERMINAL_STATUSES
        ]
        if busy:
            raise OmicsError(
                self.busy_store_error,
                f"reference store {store_id} already has an import job in progress ({busy[0].job_id})",
            )
        spec = job_types()[REFERENCE_IMPORT]
        timeline = self._planned.pop(0) if self._planned else self.default_timeline
        job = Job(
            REFERENCE_IMPORT,
            self._new_ids(spec, store_id),
            now,
            _conformed(timeline, self._model.operation_model(spec.get_operation).output_shape),
            [dict(source) for source in params["sources"]],
            role_arn=params["roleArn"],
            client_token=token,
        )
        job.source_failures = self._unreadable_sources(job)
        self.jobs[job.job_id] = job
        return self._started(job)

    def _op_ListReferenceImportJobs(self, params: dict[str, Any]) -> dict[str, Any]:
        """The store's reference imports (started here or added with ``add_job``), filtered by status and
        creation time, a page at a time. AWS documents no order; the simulator lists them oldest first
        (jobs created at the same moment in the order they were made)."""
        store_id = params["referenceStoreId"]
        if store_id not in self.reference_stores:
            raise OmicsError("ResourceNotFoundException", f"reference store {store_id} not found")
        wanted = params.get("filter") or {}
        after, before = _moment(wanted.get("createdAfter")), _moment(wanted.get("createdBefore"))
        now = self.clock.now()
        jobs = [
            job
            for job in sorted(self.jobs.values(), key=lambda job: job.created)  # stable: ties keep their order
            if job.job_type == REFERENCE_IMPORT
            and job.store_id == store_id
            and wanted.get("status") in (None, job.status(now))
            and (after is None or job.created >= after)
            and (before is None or job.created <= before)
        ]
        start = _page_start(params.get("nextToken"), len(jobs))
        end = start + int(params.get("maxResults") or LIST_PAGE_SIZE)
        answer: dict[str, Any] = {"importJobs": [self._import_job_item(job, now) for job in jobs[start:end]]}
        if end < len(jobs):
            answer["nextToken"] = str(end)
        return answer

    def _list_jobs(self, spec: JobType, operation: OperationModel, params: dict[str, Any]) -> dict[str, Any]:
        """A kind's jobs as its List operation pages them: by store (read-set jobs), status, creation time and ids;
        each item is the Get answer's members the list item has. A store without jobs is not found (the simulator
        knows a sequence store by its jobs)."""
        wanted = params.get("filter") or {}
        stores = {f.name: params[f.api_param] for f in spec.ids[:-1] if f.api_param in params}
        now = self.clock.now()
        kind = [job for job in sorted(self.jobs.values(), key=lambda job: job.created) if job.job_type == spec.name]
        if stores and not any(all(job.ids[name] == value for name, value in stores.items()) for job in kind):
            raise OmicsError("ResourceNotFoundException", f"store {', '.join(stores.values())} not found")
        after, before = _moment(wanted.get("createdAfter")), _moment(wanted.get("createdBefore"))
        status = wanted.get("status") or params.get("status")
        jobs = [
            job
            for job in kind
            if all(job.ids[name] == value for name, value in stores.items())
            and status in (None, job.status(now))
            and (not params.get("ids") or job.job_id in params["ids"])
            and (after is None or job.created >= after)
            and (before is None or job.created <= before)
        ]
        start = _page_start(params.get("nextToken") or params.get("startingToken"), len(jobs))
        end = start + int(params.get("maxResults") or LIST_PAGE_SIZE)
        field, listed = next((n, m) for n, m in operation.output_shape.members.items() if m.type_name == "list")
        answer: dict[str, Any] = {field: [self._list_item(spec, listed.member, job, now) for job in jobs[start:end]]}
        if end < len(jobs):
            answer["nextToken"] = str(end)
        return answer

    def _list_item(self, spec: JobType, shape: Shape, job: Job, now: datetime) -> dict[str, Any]:
        body = self._job_body(spec, self._model.operation_model(spec.get_operation), job, now)
        item = {name: value for name, value in body.items() if name in shape.members}
        if "arn" in shape.members:  # a run's: its Get answer (run/{id}) without a required arn
            resource = spec.iam_resource.format(**job.ids)
            item["arn"] = f"arn:aws:omics:{self.region}:{self.account_id}:{resource}"
        self._fill_required(shape, item, job)
        return item

    def _op_ListSequenceStores(self, params: dict[str, Any]) -> dict[str, Any]:
        """The sequence stores the simulated account's read-set jobs are in, oldest first, a page at a time."""
        first: dict[str, datetime] = {}
        for job in sorted(self.jobs.values(), key=lambda job: job.created):
            store = job.ids.get("sequenceStoreId")
            if store:
                first.setdefault(store, job.created)
        stores = list(first.items())
        start = _page_start(params.get("nextToken"), len(stores))
        end = start + int(params.get("maxResults") or LIST_PAGE_SIZE)
        answer: dict[str, Any] = {
            "sequenceStores": [
                {
                    "arn": f"arn:aws:omics:{self.region}:{self.account_id}:sequenceStore/{store}",
                    "id": store,
                    "creationTime": created.isoformat(),
                }
                for store, created in stores[start:end]
            ]
        }
        if end < len(stores):
            answer["nextToken"] = str(end)
        return answer

    @staticmethod
    def _import_job_item(job: Job, now: datetime) -> dict[str, Any]:
        """A reference import as ListReferenceImportJobs describes it (ImportReferenceJobItem)."""
        status = job.status(now)
        item = {
            "id": job.job_id,
            "referenceStoreId": job.store_id,
            "roleArn": job.role_arn,
            "status": status,
            "creationTime": job.created.isoformat(),
        }
        if status in TERMINAL_STATUSES:
            item["completionTime"] = job.completion_time().isoformat()
        return item

    def _unreadable_sources(self, job: Job) -> dict[int, str]:
        """Read each source as HealthOmics would when the import starts: why each unreadable one fails."""
        failures = {}
        for index, source in enumerate(job.items):
            location = _S3_URI.fullmatch(str(source.get("sourceFile", "")))
            if location is None:  # the request's pattern check lets no such source through
                failures[index] = _fit(f"Source file is not an S3 URI: {source.get('sourceFile')}")
                continue
            reason = self._read_failure(job.role_arn, location["bucket"], location["key"])
            if reason:
                failures[index] = _fit(reason)
        return failures

    def _read_failure(self, role_arn: str, bucket: str, key: str) -> str | None:
        uri = f"s3://{bucket}/{key}"
        if not self.can_read(role_arn, bucket, key):
            return f"Access denied reading the source file: {uri}"
        if self._s3_client is None:  # the local S3: the simulator runs inside the moto mock
            self._s3_client = boto3.client("s3", region_name=self.region)
        try:
            self._s3_client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND_CODES:
                return f"Source file not found, no such S3 object: {uri}"
            return f"Source file could not be read ({code}): {uri}"
        return None

    def _started(self, job: Job) -> dict[str, Any]:
        return {
            "id": job.job_id,
            "referenceStoreId": job.store_id,
            "roleArn": job.role_arn,
            "status": job.status(self.clock.now()),
            "creationTime": job.created.isoformat(),
        }

    def _get_job(self, spec: JobType, operation: OperationModel, params: dict[str, Any]) -> dict[str, Any]:
        """Any job type's Get operation: the job's ids, status, times and items in the operation's output shape."""
        ids, job_field = spec.ids, spec.ids[-1]
        job_id = params[job_field.api_param]
        job = self.jobs.get(job_id)
        if job is None or job.job_type != spec.name or any(job.ids.get(f.name) != params[f.api_param] for f in ids):
            raise OmicsError("ResourceNotFoundException", f"{spec.name} job {job_id} not found")
        body = self._job_body(spec, operation, job, self.clock.now())
        if body["status"] in TERMINAL_STATUSES:
            self.end_seen_by_get.setdefault(job_id, self.clock.now())
        return body

    def _job_body(self, spec: JobType, operation: OperationModel, job: Job, now: datetime) -> dict[str, Any]:
        """The Get answer for `job` at `now`."""
        output = operation.output_shape
        job_field = spec.ids[-1]
        status = job.status(now)
        body: dict[str, Any] = {}
        for id_field in spec.ids:
            name = id_field.api_param
            if name not in output.members and id_field is job_field:
                name = "id"  # the answer's name of the job id (GetVariantImportJob: jobId -> id)
            if name in output.members:
                body[name] = job.ids[id_field.name]
        body.update(status=status, creationTime=job.created.isoformat())
        if "updateTime" in output.members:
            body["updateTime"] = job.changed_at(now).isoformat()
        if (
            "startTime" in output.members
            and job.timeline.status_at((now - job.created).total_seconds()) != (job.timeline.steps[0][0])
        ):
            body["startTime"] = (job.created + timedelta(seconds=job.timeline.steps[0][1])).isoformat()
        if status in TERMINAL_STATUSES:
            body[spec.completion_time_field] = job.completion_time().isoformat()
            if job.status_message:
                body["statusMessage"] = job.status_message
            if status == "FAILED" and job.timeline.failure_reason and "failureReason" in output.members:
                body["failureReason"] = job.timeline.failure_reason
        if spec.has_items:
            body[spec.items_field] = self._items(spec, output.members[spec.items_field].member, job, now)
        self._fill_required(output, body, job)
        return body

    @staticmethod
    def _items(spec: JobType, item_shape: Shape, job: Job, now: datetime) -> list[dict[str, Any]]:
        """The job's items at `now`: each with its status, and why it failed if it did."""
        status = job.status(now)
        shown = _item_status(job.timeline_status(now), item_shape.members[spec.item_status_field].enum)
        items = []
        for index, stored in enumerate(job.items):
            item = {name: copy.deepcopy(value) for name, value in stored.items() if name in item_shape.members}
            failure = job.source_failures.get(index) if status in TERMINAL_STATUSES else None
            item[spec.item_status_field] = "FAILED" if failure else shown
            if item[spec.item_status_field] in _UNSUCCESSFUL_ITEM_STATUSES and "statusMessage" in item_shape.members:
                item["statusMessage"] = failure or job.status_message or f"The job ended with status {status}"
            for name, value in _ITEM_DEFAULTS.get(item_shape.name, {}).items():
                item.setdefault(name, value)
            items.append(item)
        return items

    def _fill_required(self, shape: Any, value: dict[str, Any], job: Job) -> None:
        """Add a placeholder for every required member `value` lacks, within its members too."""
        for name, member in shape.members.items():
            if name not in value:
                if name in shape.required_members:
                    value[name] = self._placeholder(name, member, job)
            elif member.type_name == "structure" and isinstance(value[name], dict):
                self._fill_required(member, value[name], job)
            elif member.type_name == "list" and member.member.type_name == "structure":
                for element in value[name]:
                    if isinstance(element, dict):
                        self._fill_required(member.member, element, job)

    def _placeholder(self, name: str, shape: Any, job: Job) -> Any:
        """A plausible value of a required member the simulator does not model."""
        kind = shape.type_name
        if kind == "string":
            known = {
                **_KNOWN_VALUES,
                "roleArn": job.role_arn,
                "referenceArn": f"arn:aws:omics:{self.region}:{self.account_id}:referenceStore/1234567890"
                "/reference/1234567890",
            }
            return known.get(name, shape.enum[0] if shape.enum else "simulated")
        if kind == "timestamp":
            return job.created.isoformat()
        if kind == "structure":
            value: dict[str, Any] = {}
            if shape.metadata.get("union"):  # exactly one member set (FormatOptions: vcfOptions or tsvOptions)
                first, member = next(iter(shape.members.items()))
                value[first] = self._placeholder(first, member, job)
            self._fill_required(shape, value, job)
            return value
        return {"boolean": False, "integer": 0, "long": 0, "float": 0.0, "double": 0.0, "list": [], "map": {}}.get(
            kind, ""
        )


def _query_params(operation: OperationModel, query: str) -> dict[str, Any]:
    """The request's query-string members (ListReferenceStores' maxResults and nextToken), typed by the model."""
    given = parse_qs(query, keep_blank_values=True)
    params: dict[str, Any] = {}
    for name, member in operation.input_shape.members.items():
        location_name = member.serialization.get("name", name)
        if member.serialization.get("location") != "querystring" or location_name not in given:
            continue
        values = given[location_name]
        if member.type_name in ("integer", "long"):
            params[name] = int(values[0]) if values[0].lstrip("-").isdigit() else values[0]
        elif member.type_name == "list":
            params[name] = values
        else:
            params[name] = values[0]
    return params


def _moment(value: Any) -> datetime | None:
    """A timestamp of a request (epoch seconds, as botocore sends them, or ISO 8601), or None."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _page_start(token: str | None, total: int) -> int:
    """Where the page a nextToken names starts; a token the simulator did not give is refused."""
    if token is None:
        return 0
    if not token.isdigit() or int(token) > total:
        raise OmicsError("ValidationException", f"invalid nextToken: {token!r}")
    return int(token)


def _item_status(job_status: str, item_statuses: list[str]) -> str:
    """An item's status while its job is in `job_status`, by the item status enum of the model."""
    if "FINISHED" in item_statuses:  # items with their own statuses (NOT_STARTED ... FINISHED)
        return _ITEM_STATUS.get(job_status, job_status)  # a status the model lacks: the check names it
    if not item_statuses or job_status in item_statuses:
        return job_status
    return "IN_PROGRESS"  # a job status its items do not have, e.g. CANCELLING


def _nested(path: str, value: str) -> dict[str, Any]:
    """{"a": {"b": value}} for the dotted path "a.b"."""
    first, _, rest = path.partition(".")
    return {first: _nested(rest, value) if rest else value}


def _route(model: ServiceModel, operation_name: str) -> re.Pattern[str]:
    uri = model.operation_model(operation_name).http["requestUri"].split("?", 1)[0]
    regex = re.sub(r"\\\{(\w+?)\+?\\\}", r"(?P<\1>[^/]+)", re.escape(uri))
    return re.compile(f"^{regex}$")


def _conformed(timeline: Timeline, output: Shape) -> Timeline:
    """`timeline` without the statuses the Get answer's status enum lacks, their time added to the
    status before (or, for a first status, to the one after), so the job still ends when scripted."""
    allowed = set(output.members["status"].enum) if "status" in output.members else set()
    if not allowed or all(status in allowed for status, _ in timeline.steps):
        return timeline
    steps: list[tuple[str, float]] = []
    carried = 0.0
    for scripted, seconds in timeline.steps:
        status = scripted if scripted in allowed else _RUN_EQUIVALENTS.get(scripted, scripted)
        if status in allowed:
            steps.append((status, seconds + carried))
            carried = 0.0
        elif steps:
            steps[-1] = (steps[-1][0], steps[-1][1] + seconds)
        else:
            carried += seconds
    return Timeline(steps, timeline.status_message, timeline.failure_reason)


def _fit(message: str) -> str:
    """A generated message as JobStatusMessage allows: no control characters, at most 127 characters."""
    message = regex.sub(r"\p{C}", "?", message)
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 3] + "..."


# ---- the model's rules ------------------------------------------------------------------------
def model_violations(shape: Shape, value: Any, path: str = "") -> list[Violation]:
    """Every way `value` breaks `shape` of the omics model, walking into structures, lists and maps:
    required members, unknown members, types, enums, patterns, string and list lengths, number ranges.
    A member whose value is None counts as absent (JSON null)."""
    check = _CHECKS.get(shape.type_name)
    return check(shape, value, path) if check is not None else []


def validation_message(violations: list[Violation]) -> str:
    """A ValidationException message in AWS's wording, naming each member's path and constraint."""
    count = len(violations)
    details = "; ".join(
        f"Value {_shown(v.value)} at '{v.path}' failed to satisfy constraint: {v.constraint}" for v in violations
    )
    return f"{count} validation error{'s' if count > 1 else ''} detected: {details}"


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    return repr(value) if isinstance(value, str) else json.dumps(value, default=str)


def _member_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _wrong_type(shape: Shape, value: Any, path: str) -> list[Violation]:
    return [Violation(path, "type", f"Member must be a {shape.type_name} ({shape.name})", value)]


def _check_structure(shape: Any, value: Any, path: str) -> list[Violation]:
    if not isinstance(value, dict):
        return _wrong_type(shape, value, path)
    found = [
        Violation(_member_path(path, name), "required", "Member must not be null")
        for name in shape.required_members
        if value.get(name) is None
    ]
    for name, member_value in value.items():
        member = shape.members.get(name)
        if member is None:
            found.append(Violation(_member_path(path, name), "unknown member", f"{shape.name} has no such member"))
        elif member_value is not None:
            found += model_violations(member, member_value, _member_path(path, name))
    return found


def _check_list(shape: Any, value: Any, path: str) -> list[Violation]:
    if not isinstance(value, list):
        return _wrong_type(shape, value, path)
    found = _length_violations(shape, len(value), value, path)
    for index, element in enumerate(value):
        found += model_violations(shape.member, element, f"{path}[{index}]")
    return found


def _check_map(shape: Any, value: Any, path: str) -> list[Violation]:
    if not isinstance(value, dict):
        return _wrong_type(shape, value, path)
    found = _length_violations(shape, len(value), value, path)
    for key, element in value.items():
        found += model_violations(shape.key, key, f"{path}[{key!r}] (key)")
        found += model_violations(shape.value, element, f"{path}[{key!r}]")
    return found


def _check_string(shape: Shape, value: Any, path: str) -> list[Violation]:
    if not isinstance(value, str):
        return _wrong_type(shape, value, path)
    found = []
    enum = getattr(shape, "enum", None)
    if enum and value not in enum:
        found.append(Violation(path, "enum", f"Member must satisfy enum value set: [{', '.join(enum)}]", value))
    found += _length_violations(shape, len(value), value, path)
    pattern = shape.metadata.get("pattern")
    if pattern and not _pattern(pattern).fullmatch(value):
        found.append(Violation(path, "pattern", f"Member must satisfy regular expression pattern: {pattern}", value))
    return found


def _check_integer(shape: Shape, value: Any, path: str) -> list[Violation]:
    if not isinstance(value, int) or isinstance(value, bool):
        return _wrong_type(shape, value, path)
    return _range_violations(shape, value, path)


def _check_number(shape: Shape, value: Any, path: str) -> list[Violation]:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return _wrong_type(shape, value, path)
    return _range_violations(shape, value, path)


def _check_boolean(shape: Shape, value: Any, path: str) -> list[Violation]:
    return [] if isinstance(value, bool) else _wrong_type(shape, value, path)


def _check_timestamp(shape: Shape, value: Any, path: str) -> list[Violation]:
    """A datetime, epoch seconds, or an ISO 8601 string (what botocore's rest-json parser reads)."""
    if isinstance(value, datetime) or (isinstance(value, int | float) and not isinstance(value, bool)):
        return []
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
            return []
        except ValueError:
            pass
    return _wrong_type(shape, value, path)


def _check_blob(shape: Shape, value: Any, path: str) -> list[Violation]:
    return [] if isinstance(value, str | bytes) else _wrong_type(shape, value, path)


def _length_violations(shape: Shape, length: int, value: Any, path: str) -> list[Violation]:
    return _bounds_violations(shape, length, value, path, "length")


def _range_violations(shape: Shape, value: float, path: str) -> list[Violation]:
    return _bounds_violations(shape, value, value, path, "range")


def _bounds_violations(shape: Shape, measured: float, value: Any, path: str, rule: str) -> list[Violation]:
    """The model's min/max: of a length (strings, lists, maps) or of a value (numbers)."""
    what = "length" if rule == "length" else "value"
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and measured < low:
        return [Violation(path, rule, f"Member must have {what} greater than or equal to {low}", value)]
    if high is not None and measured > high:
        return [Violation(path, rule, f"Member must have {what} less than or equal to {high}", value)]
    return []


_CHECKS: dict[str, Callable[[Any, Any, str], list[Violation]]] = {
    "structure": _check_structure,
    "list": _check_list,
    "map": _check_map,
    "string": _check_string,
    "integer": _check_integer,
    "long": _check_integer,
    "float": _check_number,
    "double": _check_number,
    "boolean": _check_boolean,
    "timestamp": _check_timestamp,
    "blob": _check_blob,
}


@functools.cache
def _pattern(pattern: str) -> Any:
    """The model's pattern compiled by ``regex``, which reads Java's \\p{..} classes; matched in full,
    as AWS services match member patterns."""
    return regex.compile(pattern)
