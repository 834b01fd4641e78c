"""The replacements that make moto 5.2.5 answer as AWS does, and run on the local cloud's clock.

Each is listed in localcloud/debts.py (FIXES), with the AWS behaviour it reproduces, and applied through it while
a LocalCloud runs. A factory here takes the running cloud and the attribute it replaces and returns the
replacement (None: not for this cloud's clock). Besides them: the EventBridge delivery and the DynamoDB fault
injection the cloud and the tests use.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import json
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import boto3
import botocore.session
from botocore import xform_name
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from jsonpath_ng.ext import parse as jsonpath_parse
from moto.awslambda.models import lambda_backends
from moto.core.botocore_stubber import MockRawResponse
from moto.core.utils import unix_time
from moto.dynamodb.models.table import StreamShard
from moto.dynamodb.responses import DynamoHandler
from moto.events import models as events_models
from moto.s3 import notifications as s3_notifications
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.utilities.arns import parse_arn

from localcloud import iam
from localcloud.clock import Clock, SimClock, TurnClock

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


def retry_time(cloud: LocalCloud, original: Any) -> Any:
    """Stands in for the `time` module inside moto's Retry code: sleeping advances the clock."""
    return SimpleNamespace(sleep=cloud.clock.sleep, time=lambda: cloud.clock.now().timestamp())


def wait_interval(cloud: LocalCloud, original: Any) -> Any:
    def _wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        cloud.clock.sleep(wait_seconds)

    return _wait_interval


def publish_due_events(omics: Any, publish: Callable[[dict[str, Any]], None]) -> None:
    """Deliver the aws.omics status events HealthOmics would have sent by now (each once)."""
    for event in omics.due_events():
        publish(event)


def task_token_wait(cloud: LocalCloud, original: Any) -> Any:
    """moto waits for a task token in real seconds. On the SimClock the waits only wait and one publisher delivers
    HealthOmics' events (localcloud/event_source.py). On `make local`'s ScaledClock each wait moves to each job
    status change before its deadline, delivers the aws.omics events HealthOmics would send then (JobEvents may
    answer the token), and stops at the first answer or at the deadline (a timeout, as Step Functions reports)."""
    if cloud.status_events is not None:
        status_events = cloud.status_events
        return lambda self, timeout=None: status_events.wait_for_token(self, timeout)
    clock, omics = cloud.clock, cloud.omics

    def wait(self: CallbackEndpoint, timeout: float | None = None) -> Any:
        deadline = clock.now() + timedelta(seconds=timeout or 0)
        while not self._notify_event.is_set():
            moment = omics.next_event_time(until=deadline)
            clock.sleep_until(moment or deadline, interrupt=self._notify_event)
            if moment is None or self._notify_event.is_set():
                break
            publish_due_events(omics, cloud.deliver)
        return self._outcome

    return wait


def rechecked(cloud: LocalCloud, original: Any) -> Any:
    """A task token answered (or a task's wait interrupted) sets an event moto's waiter polls; on the simulated
    clock that waiter sleeps until told, so tell the clock."""
    recheck = getattr(cloud.clock, "recheck", None)

    def answered(self: CallbackEndpoint, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if recheck is not None:
            recheck()
        return result

    return answered


_TIMEOUT_CHECK_SECONDS = 10.0  # real seconds between looks at the simulated clock while a task runs


class _TaskEnded(threading.Event):
    """moto's ExecutionState waits for its task's thread for TimeoutSeconds of *real* time; on a busy machine a
    task-token wait timed out while its simulated deadline was still ahead. Here only simulated time counts."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._clock = clock

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is None or timeout >= TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS:  # a task without a timeout
            return super().wait()
        deadline = self._clock.now() + timedelta(seconds=timeout)
        while not super().wait(_TIMEOUT_CHECK_SECONDS):
            if self._clock.now() > deadline:
                return False
        return True


def task_timeouts(cloud: LocalCloud, original: Any) -> Any:
    """Stands in for the `threading` module inside moto's execute_state (which uses only its Event)."""
    return SimpleNamespace(Event=lambda: _TaskEnded(cloud.clock)) if isinstance(cloud.clock, SimClock) else None


def seeded_jitter(cloud: LocalCloud, original: Any) -> Any:
    # Retry's full jitter draws from `random`; with actors taking turns in a fixed order, draws from one seeded
    # generator come out the same on every run.
    return random.Random(0) if isinstance(cloud.clock, TurnClock) else None


def execution_start(cloud: LocalCloud, original: Any) -> Any:
    """moto finds running executions by scanning all it ever ran; each start is reported to the cloud instead. On a
    TurnClock the execution is an actor, queued for its turn here, in the turn of whoever starts it."""
    clock, running = cloud.clock, cloud.running

    def start(self: Execution) -> None:
        running.started(self.exec_arn)
        actor = clock.actor(f"execution {self.name}") if isinstance(clock, TurnClock) else None
        self._turn_actor = actor  # type: ignore[attr-defined]
        try:
            original(self)
        except BaseException:
            if isinstance(clock, TurnClock) and actor is not None:
                clock.leave(actor)
            raise

    return start


def execution_end(cloud: LocalCloud, original: Any) -> Any:
    def terminated(self: BaseExecutionWorkerCommunication) -> None:
        try:  # ...and each end, once moto has set the final status
            original(self)
        finally:
            cloud.running.ended(self.execution.exec_arn)

    return terminated


def execution_logic(cloud: LocalCloud, original: Any) -> Any:
    """An execution's task calls are made with the state machine's role (moto makes them with none); on a TurnClock
    its thread acts in the execution's turns (the threads it starts for each state, too)."""
    clock = cloud.clock

    def _execution_logic(self: ExecutionWorker) -> Any:
        execution = getattr(self._execution_communication, "execution", None)
        actor = getattr(execution, "_turn_actor", None)
        in_turn = clock.turn(actor) if isinstance(clock, TurnClock) and actor is not None else contextlib.nullcontext()
        with in_turn, iam.acting_as(self._evaluation_details.aws_execution_details.role_arn):
            return original(self)

    return _execution_logic


def execution_init(cloud: LocalCloud, original: Any) -> Any:
    # moto lists a new execution before it sets its status, so a concurrent ListExecutions can meet a status of
    # None and fail. StartExecution is synchronous in Step Functions: an execution anyone can see is RUNNING.
    def __init__(self: Execution, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.exec_status = ExecutionStatus.RUNNING

    return __init__


def start_execution(cloud: LocalCloud, original: Any) -> Any:
    # moto names an unnamed execution "None" (a second one collides); Step Functions gives it a fresh UUID.
    def start(self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    return start


# Step Functions quotas: "Maximum execution history size: 25,000 events"; reaching it fails the execution.
# AWS does not name the error; States.Runtime (what any other runtime failure reports) is assumed.
HISTORY_EVENT_LIMIT = 25_000
_CLOSING_EVENTS = {"ExecutionFailed", "ExecutionSucceeded", "ExecutionAborted", "ExecutionTimedOut"}


class HistoryLimitReached(RuntimeError):
    pass


def history_limit(cloud: LocalCloud, original: Any) -> Any:
    def add_event(self: Any, context: Any, event_type: Any, *args: Any, **kwargs: Any) -> int:
        if (
            len(self._history_event_list) >= HISTORY_EVENT_LIMIT - 1
            and getattr(event_type, "value", event_type) not in _CLOSING_EVENTS
        ):
            raise HistoryLimitReached(f"the execution history reached {HISTORY_EVENT_LIMIT} events")
        return int(original(self, context, event_type, *args, **kwargs))

    return add_event


@functools.cache
def _sdk_operation(service: str, action: str) -> Any:
    model = botocore.session.get_session().get_service_model(service)
    for name in model.operation_names:
        if xform_name(name) == xform_name(action):
            return model.operation_model(name)
    raise ValueError(f"{service} has no operation {action}")


def normalise_parameters(cloud: LocalCloud, original: Any) -> Any:
    # moto passes aws-sdk Parameters (PascalCase, as Step Functions takes them) to boto3 unchanged;
    # Step Functions maps them onto the API's member names. Do that with the service model.
    def _normalise(self: Any, parameters: dict, boto_service_name: Any = None, **_: Any) -> None:
        operation = _sdk_operation(self._get_boto_service_name(boto_service_name), self.resource.api_action)
        self._to_boto_request(parameters, operation.input_shape)

    return _normalise


def normalise_response(cloud: LocalCloud, original: Any) -> Any:
    # ...and Step Functions returns the response with PascalCase keys (``Id``, ``Status``).
    def _normalise(self: Any, response: Any, boto_service_name: Any = None, **_: Any) -> None:
        operation = _sdk_operation(self._get_boto_service_name(boto_service_name), self.resource.api_action)
        self._from_boto_response(response, operation.output_shape)

    return _normalise


def omics_error_names(cloud: LocalCloud, original: dict[str, str]) -> dict[str, str]:
    return {**original, "omics": "Omics"}  # an aws-sdk task's errors are named Omics.<Code>, as in Step Functions


_FIRST_SEQUENCER = 0x617F08299329D189


def s3_event(cloud: LocalCloud, original: Any) -> Any:
    """moto sends every S3 event with one fixed sequencer and id; S3 gives each write a larger sequencer (counted
    afresh by each cloud). And S3 URL-encodes the key, a space as '+' (documented for S3 notifications; for
    EventBridge shown by Powertools' and LocalStack's handling, not stated by AWS)."""
    sequencer = itertools.count(_FIRST_SEQUENCER)

    def send(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        obj = {"key": quote_plus(key.name, safe="/"), "size": key.size, "etag": key.etag.replace('"', "")}
        obj.update({"version-id": key.version_id, "sequencer": f"{next(sequencer):016X}"})
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": s3_notifications._detail_type(event_name),
            "source": "aws.s3",
            "account": account_id,
            "time": unix_time(),
            "region": bucket.region_name,
            "resources": [bucket.arn],
            "detail": {
                "version": "0",
                "bucket": {"name": bucket.name},
                "object": obj,
                "request-id": uuid.uuid4().hex[:16].upper(),
                "requester": account_id,
                "source-ip-address": "127.0.0.1",
                "reason": "PutObject",
            },
        }
        deliver_event(account_id, bucket.region_name, event)

    return send


def deliver_event(account_id: str, region: str, event: dict[str, Any]) -> None:
    """Put one event on the default bus, as EventBridge would deliver it to matching rules."""
    backend = events_models.events_backends[account_id][region]
    event = {**event, "ingestion-time": unix_time()}
    for bus in backend.event_buses.values():
        for rule in list(bus.rules.values()):
            rule.send_to_targets(copy.deepcopy(event))  # type: ignore[arg-type]


def send_to_targets(cloud: LocalCloud, original: Any) -> Any:
    """moto can't deliver to Lambda or Step Functions targets, and skips InputTransformer for S3 events. Those two
    target kinds are delivered here (async, like EventBridge); others as before."""

    def send(self: Any, original_event: dict, transform_input: bool = True) -> None:
        # A rule without a pattern (a schedule's) matches no event; moto's empty pattern matches every one.
        if self.event_pattern.dump() is None or not self.event_pattern.matches_event(original_event):
            return
        others = deliver_to_targets(cloud, self.targets, original_event)
        if others:
            rule = copy.copy(self)
            rule.targets = others
            original(rule, original_event, transform_input)

    return send


def deliver_to_targets(cloud: LocalCloud, targets: list[dict[str, Any]], event: dict[str, Any]) -> list[dict[str, Any]]:
    """Deliver `event` to the Lambda and Step Functions targets (asynchronously, as EventBridge does); return
    the other targets."""
    others = []
    for target in targets:
        arn = parse_arn(target["Arn"])
        if arn.service not in ("lambda", "states"):
            others.append(target)
            continue
        payload = _transform_input(target, event)
        if arn.service == "lambda":
            function = lambda_backends[arn.account][arn.region].get_function(arn.resource_id)
            cloud.lambdas.invoke_async(function, payload)
        else:
            boto3.client("stepfunctions", region_name=arn.region).start_execution(
                stateMachineArn=target["Arn"], input=json.dumps(payload)
            )
    return others


def _transform_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """EventBridge's InputTransformer: moto's leaves string values unquoted in the JSON template."""
    if "Input" in target:
        return json.loads(target["Input"])
    transformer = target.get("InputTransformer")
    if not transformer:
        return event
    values = {}
    for name, path in transformer.get("InputPathsMap", {}).items():
        matches = jsonpath_parse(path).find(event)
        values[name] = matches[0].value if matches else None
    template = transformer["InputTemplate"]
    for name, value in values.items():
        # Inside quotes a value is spliced in as text; elsewhere as JSON (strings get quoted).
        template = template.replace(f'"<{name}>"', json.dumps(value if isinstance(value, str) else json.dumps(value)))
        template = template.replace(f"<{name}>", json.dumps(value))
    return json.loads(template)


def invoke_in_process(cloud: LocalCloud, original: Any) -> Any:
    return lambda self, event=None: cloud.lambdas.invoke(self, event)  # moto runs Lambda only in Docker


def kept_metrics(cloud: LocalCloud, original: Any) -> Any:
    # No CloudWatch here: the handlers' metrics (EMF lines Powertools prints) are kept, not printed.
    return lambda line: cloud.metrics.append(json.loads(line))


def stream_to_poller(cloud: LocalCloud, original: Any) -> Any:
    """moto invokes stream mappings in the writer's thread; Lambda polls the stream: the record is handed over (a
    transaction's, once it commits: see atomic_requests)."""

    def add(self: StreamShard, old: Any, new: Any) -> None:
        original(self, old, new)
        held = getattr(_transaction, "records", None)
        record = (self.table.name, self.items[-1].record)
        if held is not None:
            held.append(record)
        else:
            cloud.streams.add(*record)

    return add


@dataclass(frozen=True)
class DynamoDbRequest:
    """One DynamoDB request as the local cloud answered it: what the benchmark counts (capacity units, the moment
    a history entry was written)."""

    at: datetime  # simulated
    action: str  # PutItem, TransactWriteItems, Query...
    succeeded: bool
    params: dict[str, Any]  # the request, as moto parsed it
    response_bytes: int


_DYNAMODB_LOCK = threading.RLock()
_transaction = threading.local()  # the stream records of the transaction running on this thread


def atomic_requests(cloud: LocalCloud, original: Any) -> Any:
    """DynamoDB applies each request atomically (a conditional write checks and writes as one step); moto's backend
    does not across threads, so each request is handled under one lock. A cancelled transaction's stream records
    never reach the reader (moto restores the table, but the reader had them). Each request goes in the ledger."""

    def call_action(self: DynamoHandler) -> Any:
        with _DYNAMODB_LOCK:
            action = self._get_action()
            _transaction.records = [] if action == "TransactWriteItems" else None
            try:
                status, headers, body = original(self)
            finally:
                records, _transaction.records = _transaction.records, None
            for record in records if records is not None and int(status) < 300 else ():
                cloud.streams.add(*record)
            cloud.dynamodb_requests.append(
                DynamoDbRequest(cloud.clock.now(), action, int(status) < 300, self.body, len(body or ""))
            )
            return status, headers, body

    return call_action


@dataclass
class DynamoDbFault:
    """Make the next `remaining` DynamoDB calls of `operation` whose request contains `when` fail with `code`."""

    operation: str
    code: str
    when: str = ""
    remaining: int = 1


def dynamodb_fault_injector(faults: list[DynamoDbFault]) -> Callable[..., AWSResponse | None]:
    def inject(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        operation = request.headers.get("X-Amz-Target", b"")
        operation = operation.decode() if isinstance(operation, bytes) else str(operation)
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        for fault in faults:
            if fault.remaining > 0 and operation.endswith(f".{fault.operation}") and fault.when in body:
                fault.remaining -= 1
                error = {"__type": f"com.amazonaws.dynamodb.v20120810#{fault.code}", "message": "simulated fault"}
                headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": str(uuid.uuid4())}
                return AWSResponse(request.url, 400, headers, MockRawResponse(json.dumps(error)))
        return None

    return inject


# Every handler, execution and invocation here is a thread of one process, creating clients from boto3's one
# default session; botocore documents that a Session is not thread-safe. So client creation takes turns.
CLIENT_CREATION = threading.RLock()


def clients_in_turn(cloud: LocalCloud, original: Any) -> Any:
    def create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        with CLIENT_CREATION:
            return original(self, *args, **kwargs)

    return create_client
