"""Narrow corrections to moto 5.2.5, all in one place. Each says which moto behaviour it replaces.

Applied while a LocalCloud is running and undone when it stops.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import quote_plus

import boto3
import botocore.session
from botocore import xform_name
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from jsonpath_ng.ext import parse as jsonpath_parse
from moto.awslambda.models import LambdaFunction, lambda_backends
from moto.core.botocore_stubber import MockRawResponse
from moto.core.utils import unix_time
from moto.dynamodb.models.table import StreamShard
from moto.dynamodb.responses import DynamoHandler
from moto.events import models as events_models
from moto.s3 import notifications as s3_notifications
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.utilities.arns import parse_arn

from localcloud import iam
from localcloud.clock import Clock
from localcloud.lambda_runtime import InProcessLambdaRuntime
from localcloud.omics import OmicsSimulator
from localcloud.streams import StreamPoller


class _ClockTime:
    """Stands in for the `time` module inside moto's Wait and Retry code: sleeping advances the clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)

    def time(self) -> float:
        return self._clock.now().timestamp()


def _patched_wait_interval(clock: Clock) -> Any:
    # moto's WaitFunction waits on a threading.Event for real seconds; here it moves the clock.
    def _wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        clock.sleep(wait_seconds)

    return _wait_interval


@functools.cache
def _sdk_operation(service: str, action: str) -> Any:
    model = botocore.session.get_session().get_service_model(service)
    for name in model.operation_names:
        if xform_name(name) == xform_name(action):
            return model.operation_model(name)
    raise ValueError(f"{service} has no operation {action}")


def _normalise_parameters(self: Any, parameters: dict, boto_service_name: Any = None, **_: Any) -> None:
    # moto passes aws-sdk Parameters (PascalCase, as Step Functions takes them) to boto3 unchanged;
    # Step Functions maps them onto the API's member names. Do that with the service model.
    operation = _sdk_operation(self._get_boto_service_name(boto_service_name), self.resource.api_action)
    self._to_boto_request(parameters, operation.input_shape)


def _normalise_response(self: Any, response: Any, boto_service_name: Any = None, **_: Any) -> None:
    # ...and Step Functions returns the response with PascalCase keys (``Id``, ``Status``).
    operation = _sdk_operation(self._get_boto_service_name(boto_service_name), self.resource.api_action)
    self._from_boto_response(response, operation.output_shape)


_FIRST_SEQUENCER = 0x617F08299329D189
_sequencer = itertools.count(_FIRST_SEQUENCER)  # counted afresh by each cloud: the same uploads, the same names


def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    # moto sends every S3 event with the same fixed sequencer and id, and without errors surfacing;
    # real S3 gives each write a larger sequencer. And S3 puts the key in its events URL-encoded, a
    # space as '+' (documented for S3 notifications; for EventBridge shown by Powertools' and
    # LocalStack's handling, not stated by AWS). The event is otherwise as S3 documents it.
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
            "object": {
                "key": quote_plus(key.name, safe="/"),
                "size": key.size,
                "etag": key.etag.replace('"', ""),
                "version-id": key.version_id,
                "sequencer": f"{next(_sequencer):016X}",
            },
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    }
    deliver_event(account_id, bucket.region_name, event)


def deliver_event(account_id: str, region: str, event: dict[str, Any]) -> None:
    """Put one event on the default bus, as EventBridge would deliver it to matching rules."""
    backend = events_models.events_backends[account_id][region]
    event = {**event, "ingestion-time": unix_time()}
    for bus in backend.event_buses.values():
        for rule in list(bus.rules.values()):
            rule.send_to_targets(copy.deepcopy(event))  # type: ignore[arg-type]


def _send_to_targets(runtime: InProcessLambdaRuntime) -> Any:
    original = events_models.Rule.send_to_targets

    def send_to_targets(self: Any, original_event: dict, transform_input: bool = True) -> None:
        # moto can't deliver to Lambda or Step Functions targets, and skips InputTransformer for
        # S3 events. Deliver those two target kinds here (async, like EventBridge); others as before.
        if not self.event_pattern.matches_event(original_event):
            return
        others = []
        for target in self.targets:
            arn = parse_arn(target["Arn"])
            if arn.service not in ("lambda", "states"):
                others.append(target)
                continue
            payload = _transform_input(target, original_event)
            if arn.service == "lambda":
                function = lambda_backends[arn.account][arn.region].get_function(arn.resource_id)
                runtime.invoke_async(function, payload)
            else:
                boto3.client("stepfunctions", region_name=arn.region).start_execution(
                    stateMachineArn=target["Arn"], input=json.dumps(payload)
                )
        if others:
            with mock.patch.object(self, "targets", others):
                original(self, original_event, transform_input)  # type: ignore[arg-type]

    return send_to_targets


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


_original_start_execution = StepFunctionsParserBackend.start_execution
_original_execution_init = Execution.__init__


def _execution_init(self: Execution, *args: Any, **kwargs: Any) -> None:
    # moto lists a new execution before it sets its status (start_execution appends, then starts it), so a
    # concurrent ListExecutions can meet a status of None and fail. StartExecution is synchronous in Step
    # Functions: an execution anyone can see is already RUNNING.
    _original_execution_init(self, *args, **kwargs)
    self.exec_status = ExecutionStatus.RUNNING


def _start_execution(self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
    # moto names an unnamed execution "None" (so a second one collides with the first);
    # Step Functions gives it a fresh UUID.
    return _original_start_execution(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)


def publish_due_events(omics: OmicsSimulator, publish: Callable[[dict[str, Any]], None]) -> None:
    """Deliver the aws.omics status events HealthOmics would have sent by now (each once)."""
    for event in omics.due_events():
        publish(event)


def _callback_wait(clock: Clock, omics: OmicsSimulator, publish: Callable[[dict[str, Any]], None]) -> Any:
    def wait(self: CallbackEndpoint, timeout: float | None = None) -> Any:
        # moto waits for a task token in real seconds. Here the wait runs on the simulated clock: it
        # moves to each job status change before the deadline, delivers the aws.omics events that
        # HealthOmics would send then (the JobEvents function may answer the token), and stops at
        # the first answer or at the deadline (a timeout, as Step Functions would report).
        deadline = clock.now() + timedelta(seconds=timeout or 0)
        while not self._notify_event.is_set():
            moment = omics.next_event_time(until=deadline)
            clock.sleep_until(moment or deadline, interrupt=self._notify_event)
            if moment is None or self._notify_event.is_set():
                break
            publish_due_events(omics, publish)
        return self._outcome

    return wait


# Step Functions quotas: "Maximum execution history size: 25,000 events"; reaching it fails the execution.
# AWS does not name the error; States.Runtime (what any other runtime failure reports) is assumed.
HISTORY_EVENT_LIMIT = 25_000
_CLOSING_EVENTS = {"ExecutionFailed", "ExecutionSucceeded", "ExecutionAborted", "ExecutionTimedOut"}
_original_add_event = EventManager.add_event


class HistoryLimitReached(RuntimeError):
    pass


def _add_event(self: Any, context: Any, event_type: Any, *args: Any, **kwargs: Any) -> int:
    # moto keeps adding events forever; Step Functions fails an execution at 25,000.
    if len(self._history_event_list) >= HISTORY_EVENT_LIMIT - 1 and str(event_type) not in _CLOSING_EVENTS:
        raise HistoryLimitReached(f"the execution history reached {HISTORY_EVENT_LIMIT} events")
    return int(_original_add_event(self, context, event_type, *args, **kwargs))


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


_original_execution_logic = ExecutionWorker._execution_logic


def _execution_logic(self: Any) -> Any:
    # An execution's task calls are made with the state machine's role (moto makes them with none).
    with iam.acting_as(self._evaluation_details.aws_execution_details.role_arn):
        return _original_execution_logic(self)


def _stream_add(streams: StreamPoller) -> Any:
    original = StreamShard.add

    def add(self: StreamShard, old: Any, new: Any) -> None:
        # moto invokes stream mappings in the writer's thread; Lambda polls the stream: hand the record over.
        original(self, old, new)
        streams.add(self.table.name, self.items[-1].record)

    return add


# DynamoDB applies each request atomically: a conditional write checks and writes as one step, and concurrent
# updates of an item happen one after the other. moto's backend does neither across threads (two conditional
# writes can both pass their check; a read can copy an item while another thread changes it). The local cloud
# runs many executions and Lambdas on threads, so each DynamoDB request is handled under one lock.
_DYNAMODB_LOCK = threading.RLock()
_original_dynamodb_call_action = DynamoHandler.call_action


@dataclass(frozen=True)
class DynamoDbRequest:
    """One DynamoDB request as the local cloud answered it: what the benchmark counts (capacity units, the moment
    a history entry was written)."""

    at: datetime  # simulated
    action: str  # PutItem, TransactWriteItems, Query...
    succeeded: bool
    params: dict[str, Any]  # the request, as moto parsed it
    response_bytes: int


def _atomic_dynamodb_call_action(clock: Clock, ledger: list[DynamoDbRequest]) -> Callable[[DynamoHandler], Any]:
    def call_action(self: DynamoHandler) -> Any:
        with _DYNAMODB_LOCK:
            status, headers, body = _original_dynamodb_call_action(self)
            action = self._get_action()
            ledger.append(DynamoDbRequest(clock.now(), action, int(status) < 300, self.body, len(body or "")))
            return status, headers, body

    return call_action


@contextlib.contextmanager
def applied(
    clock: Clock,
    runtime: InProcessLambdaRuntime,
    omics: OmicsSimulator,
    publish: Callable[[dict[str, Any]], None],
    streams: StreamPoller,
    dynamodb_requests: list[DynamoDbRequest],
) -> Iterator[None]:
    global _sequencer
    _sequencer = itertools.count(_FIRST_SEQUENCER)
    clock_time = _ClockTime(clock)
    patches: list[contextlib.AbstractContextManager[Any]] = [
        mock.patch.object(wait_function.WaitFunction, "_wait_interval", _patched_wait_interval(clock)),
        mock.patch.object(retrier_decl, "time", clock_time),
        mock.patch.dict(state_task_service_aws_sdk._SERVICE_ERROR_NAMES, {"omics": "Omics"}),
        mock.patch.object(StateTaskService, "_normalise_parameters", _normalise_parameters),
        mock.patch.object(StateTaskService, "_normalise_response", _normalise_response),
        mock.patch.object(s3_notifications, "_send_event_bridge_message", _send_event_bridge_message),
        mock.patch.object(events_models.Rule, "send_to_targets", _send_to_targets(runtime)),
        mock.patch.object(StepFunctionsParserBackend, "start_execution", _start_execution),
        mock.patch.object(Execution, "__init__", _execution_init),
        mock.patch.object(CallbackEndpoint, "wait", _callback_wait(clock, omics, publish)),
        mock.patch.object(LambdaFunction, "_invoke_lambda", lambda self, event=None: runtime.invoke(self, event)),
        mock.patch.object(EventManager, "add_event", _add_event),
        mock.patch.object(ExecutionWorker, "_execution_logic", _execution_logic),
        mock.patch.object(StreamShard, "add", _stream_add(streams)),
        mock.patch.object(DynamoHandler, "call_action", _atomic_dynamodb_call_action(clock, dynamodb_requests)),
    ]
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield
