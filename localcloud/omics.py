"""A HealthOmics simulator answering the storage job APIs through botocore's event system.

Requests are routed and validated with botocore's real ``omics`` model (``before-send.omics``),
and the JSON answers are parsed by botocore like a real response, so shapes cannot drift from the
service. Jobs move through their statuses on the simulated clock; tests script outcomes and faults.

The job types are the tracker's own table, ``tracker.contract.JOB_TYPES``, read at each use: one
handler answers every job type's Get operation, filling that operation's output shape from the model
(ids, status, times, the per-item statuses, and a placeholder for any other required member), and the
status events are built from the type's id fields and detail-type. A job type added to the table, even
at run time, is simulated with no change here. StartReferenceImportJob, the one job the tracker
starts, has its own handler.
"""

from __future__ import annotations

import copy
import functools
import importlib
import itertools
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.model import OperationModel, ServiceModel
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
    "GetReferenceImportJob": 5,
    "GetReadSetExportJob": 5,
    "StartReferenceImportJob": 5,
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
}
_EVENTS_WITHOUT_STATUS_MESSAGE = frozenset({"Variant Import Job Status Change"})
_ERROR_STATUS = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ServiceQuotaExceededException": 402,
    "ThrottlingException": 429,
    "InternalServerException": 500,
    "RequestTimeoutException": 408,
}


class OmicsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Timeline:
    """How a job moves: each (status, seconds spent in it); the last status is where it stays."""

    steps: list[tuple[str, float]]
    status_message: str = ""

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

    @property
    def job_id(self) -> str:
        return self.ids[JOB_ID]

    @property
    def store_id(self) -> str:
        """The store the job belongs to (its first id other than the job id), or "" if none."""
        return next((value for name, value in self.ids.items() if name != JOB_ID), "")

    def status(self, now: datetime) -> str:
        return self.timeline.status_at((now - self.created).total_seconds())

    def completion_time(self) -> datetime:
        return self.created + timedelta(seconds=self.timeline.ends_after())


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
    reference_stores: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, datetime]] = field(default_factory=list)  # every request
    accepted: list[tuple[str, datetime]] = field(default_factory=list)  # requests within the rate limits
    throttled: list[tuple[str, datetime]] = field(default_factory=list)
    # aws.omics status events: "all" delivered once each, "none" (all lost), or "duplicated" (each twice)
    event_delivery: str = "all"
    _emitted: dict[str, int] = field(default_factory=dict)  # job id -> how many of its statuses were announced
    _planned: list[Timeline] = field(default_factory=list)
    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000000001))

    def __post_init__(self) -> None:
        self._model: ServiceModel = botocore.session.get_session().get_service_model("omics")
        self._routes = [
            (_route(self._model, op), self._model.operation_model(op)) for op in self._model.operation_names
        ]

    # ---- what tests and the demo use -------------------------------------------------------
    def create_reference_store(self, name: str) -> str:
        with self._lock:
            store_id = self._next_id()
            self.reference_stores[store_id] = name
            return store_id

    def plan_next_import(self, timeline: Timeline) -> None:
        """The next StartReferenceImportJob follows this timeline instead of the default."""
        with self._lock:
            self._planned.append(timeline)

    def add_job(self, job_type: str, timeline: Timeline, store_id: str = "", items: list[str] | None = None) -> Job:
        """A job started elsewhere (variant import, read-set export, ...), to be followed."""
        with self._lock:
            spec = job_types()[job_type]
            items_ = [_nested(spec.item_key_path, key) for key in items or []]
            job = Job(job_type, self._new_ids(spec, store_id), self.clock.now(), timeline, items_)
            self.jobs[job.job_id] = job
            return job

    def fail_next(self, operation: str, code: str, times: int = 1) -> None:
        """The next `times` calls of `operation` fail with `code` (ThrottlingException, ...)."""
        with self._lock:
            self._faults.append(Fault(operation, code, times))

    def status_event(self, job: Job, status: str | None = None) -> dict[str, Any]:
        """The aws.omics EventBridge event HealthOmics publishes when `job` reaches `status`."""
        status = status or job.status(self.clock.now())
        spec = job_types()[job.job_type]
        detail: dict[str, Any] = {field.event_field: job.ids[field.name] for field in spec.ids}
        extras = _EVENT_EXTRAS.get(spec.event_detail_type, {})
        detail.update({k: v.format(region=self.region, account=self.account_id) for k, v in extras.items()})
        detail["status"] = status
        if (
            status in TERMINAL_STATUSES
            and job.timeline.status_message
            and spec.event_detail_type not in _EVENTS_WITHOUT_STATUS_MESSAGE
        ):
            detail["statusMessage"] = job.timeline.status_message
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
                    status = job.timeline.steps[self._emitted.get(job.job_id, 0)][0]
                    self._emitted[job.job_id] = self._emitted.get(job.job_id, 0) + 1
                    due.append((moment, self.status_event(job, status)))
        copies = {"all": 1, "none": 0, "duplicated": 2}[self.event_delivery]
        return [event for _, event in sorted(due, key=lambda pair: pair[0]) for _ in range(copies)]

    def _unannounced(self, job: Job) -> list[datetime]:
        moments, elapsed = [], 0.0
        for status_seconds in [0.0, *(seconds for _, seconds in job.timeline.steps[:-1])]:
            elapsed += status_seconds
            moments.append(job.created + timedelta(seconds=elapsed))
        return moments[self._emitted.get(job.job_id, 0) :]

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
        params = {**body, **path_params}
        try:
            self._validate(operation, params)
            with self._lock:
                self.calls.append((operation.name, self.clock.now()))
                self._maybe_fault(operation.name)
                spec = next((s for s in job_types().values() if s.get_operation == operation.name), None)
                if spec is not None:
                    result = self._get_job(spec, operation, params)
                else:
                    handler = getattr(self, f"_op_{operation.name}", None)
                    if handler is None:
                        raise OmicsError("ValidationException", f"{operation.name} is not simulated")
                    result = handler(params)
        except OmicsError as error:
            return self._response(request, _ERROR_STATUS.get(error.code, 400), {"message": error.message}, error.code)
        return self._response(request, 200, result)

    def _validate(self, operation: OperationModel, params: dict[str, Any]) -> None:
        report = ParamValidator().validate(params, operation.input_shape)
        if report.has_errors():
            raise OmicsError("ValidationException", report.generate_report())
        for name, shape in operation.input_shape.members.items():
            pattern = _python_pattern(shape.metadata.get("pattern"))
            value = params.get(name)
            if pattern and isinstance(value, str) and not pattern.fullmatch(value):
                raise OmicsError("ValidationException", f"{name}: '{value}' does not match {pattern.pattern}")

    def _maybe_fault(self, operation: str) -> None:
        for fault in self._faults:
            if fault.operation == operation and fault.remaining > 0:
                fault.remaining -= 1
                raise OmicsError(fault.code, fault.message)
        limit = RATE_LIMITS_PER_SECOND.get(operation)
        if limit is not None:
            now = self.clock.now()
            recent = [m for name, m in self.accepted if name == operation and now - m < timedelta(seconds=1)]
            if len(recent) >= limit:
                self.throttled.append((operation, now))
                raise OmicsError("ThrottlingException", f"Rate exceeded: {operation} allows {limit} per second")
            self.accepted.append((operation, now))

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
                "ServiceQuotaExceededException",
                f"reference store {store_id} already has an import job in progress ({busy[0].job_id})",
            )
        timeline = self._planned.pop(0) if self._planned else self.default_timeline
        job = Job(
            REFERENCE_IMPORT,
            self._new_ids(job_types()[REFERENCE_IMPORT], store_id),
            now,
            timeline,
            [dict(source) for source in params["sources"]],
            role_arn=params["roleArn"],
            client_token=token,
        )
        self.jobs[job.job_id] = job
        return self._started(job)

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
        output = operation.output_shape
        status = job.status(self.clock.now())
        body: dict[str, Any] = {}
        for id_field in ids:
            name = id_field.api_param
            if name not in output.members and id_field is job_field:
                name = "id"  # the answer's name of the job id (GetVariantImportJob: jobId -> id)
            if name in output.members:
                body[name] = job.ids[id_field.name]
        body.update(status=status, creationTime=job.created.isoformat())
        if status in TERMINAL_STATUSES:
            body["completionTime"] = job.completion_time().isoformat()
            if job.timeline.status_message:
                body["statusMessage"] = job.timeline.status_message
        item_shape = output.members[spec.items_field].member
        item_status = _item_status(status, item_shape.members[spec.item_status_field].enum)
        items = []
        for stored in job.items:
            item = {name: copy.deepcopy(value) for name, value in stored.items() if name in item_shape.members}
            item[spec.item_status_field] = item_status
            for name, value in _ITEM_DEFAULTS.get(item_shape.name, {}).items():
                item.setdefault(name, value)
            items.append(item)
        body[spec.items_field] = items
        self._fill_required(output, body, job)
        return body

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
            return (self.clock.now() if name == "updateTime" else job.created).isoformat()
        if kind == "structure":
            value: dict[str, Any] = {}
            self._fill_required(shape, value, job)
            return value
        return {"boolean": False, "integer": 0, "long": 0, "float": 0.0, "double": 0.0, "list": [], "map": {}}.get(
            kind, ""
        )


def _item_status(job_status: str, item_statuses: list[str]) -> str:
    """An item's status while its job is in `job_status`, by the item status enum of the model."""
    if "FINISHED" in item_statuses:  # items with their own statuses (NOT_STARTED ... FINISHED)
        return _ITEM_STATUS[job_status]
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


@functools.cache
def _python_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """The model's pattern, where Python's re can express it (not the Java-only \\p{..} classes)."""
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error:
        return None
