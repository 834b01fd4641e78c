"""Runs a moto Lambda function's real handler in this process, from the code that was uploaded.

moto runs Lambda only in Docker, which this project cannot use; this is the one replacement for
``LambdaFunction._invoke_lambda``. The function's zip is unpacked once, its handler imported, and
called with the function's environment and a Lambda-like context. Errors come back the way the
Lambda runtime reports them (``errorType``/``errorMessage``), which is what Step Functions matches.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from localcloud import iam

_UNPACKED = Path(tempfile.gettempdir()) / "omics-tracker-lambda-code"
_lock = threading.Lock()


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass
class InvocationFault:
    """Make an invocation of a function fail after its handler ran (e.g. it timed out after writing),
    or, with `before_handler`, before it runs (e.g. the runtime failed to start)."""

    function_contains: str
    error_type: str = "Sandbox.Timedout"
    message: str = "Task timed out after 30.00 seconds"
    remaining: int = 1
    before_handler: bool = False


@dataclass(frozen=True)
class AsyncConfig:
    """A function's EventInvokeConfig: how often Lambda retries an asynchronous event, and the queue
    that receives the event once the retries are spent (without one, Lambda drops it)."""

    maximum_retry_attempts: int = 2
    on_failure_queue: str | None = None  # queue name


# Lambda waits one minute before the first retry of an asynchronous event and two minutes before the
# second (Lambda developer guide, "How Lambda handles errors and retries with asynchronous invocation").
ASYNC_RETRY_WAITS = (60.0, 120.0)


class _HandlerTurn:
    """One handler runs at a time, as in a Lambda execution environment (one invocation each at a time).

    The handlers of every invocation share one set of modules here, so their module-level objects (Powertools'
    Metrics and Logger keys, clients' caches) are shared too; run concurrently on threads, one invocation's
    flush cleared another's metrics between its check and its serialization (SchemaValidationError "Must
    contain at least one metric", failing the execution) and log keys leaked across jobs. A handler gives its
    turn up while it sleeps on the simulated clock (a call-budget wait), so time can move. Reentrant: a
    handler may invoke another function synchronously on its own thread (CDK's provider framework)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        # What this thread's handler slept so far: (real seconds, simulated seconds), for its billed duration.
        self.slept = threading.local()

    def __enter__(self) -> None:
        me = threading.get_ident()
        if self._owner == me:
            self._depth += 1
            return
        self._lock.acquire()
        self._owner, self._depth = me, 1

    def __exit__(self, *_: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()

    def sleeping(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        """`sleep`, giving the turn up meanwhile if this thread holds it."""

        def sleep_without_turn(seconds: float) -> None:
            started = time.perf_counter()
            me = threading.get_ident()
            try:
                if self._owner != me:
                    sleep(seconds)
                    return
                depth = self._depth
                self._owner, self._depth = None, 0
                self._lock.release()
                try:
                    sleep(seconds)
                finally:
                    self._lock.acquire()
                    self._owner, self._depth = me, depth
            finally:
                slept = getattr(self.slept, "seconds", (0.0, 0.0))
                self.slept.seconds = (slept[0] + time.perf_counter() - started, slept[1] + seconds)

        return sleep_without_turn


@dataclass
class InProcessLambdaRuntime:
    faults: list[InvocationFault] = field(default_factory=list)
    invocations: list[str] = field(default_factory=list)
    durations: list[tuple[str, int, float]] = field(default_factory=list)  # (function, memory MB, seconds)
    async_failures: list[tuple[str, Any, str]] = field(default_factory=list)
    async_results: list[tuple[str, Any]] = field(default_factory=list)  # (function, what it returned)
    async_configs: dict[str, AsyncConfig] = field(default_factory=dict)  # by function name
    on_cold_start: Callable[[], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    environment_overrides: dict[str, str] = field(default_factory=dict)
    # Told when an asynchronous invocation ends: one actor fewer, so the simulated clock may move now.
    on_finished: Callable[[], None] | None = None
    # A TurnClock: each asynchronous invocation is one of its actors (queued when the event is accepted).
    turns: Any = None
    _handlers: dict[tuple[str, str], Callable[..., Any]] = field(default_factory=dict)
    _in_flight: int = 0
    _idle: threading.Condition = field(default_factory=threading.Condition)
    _turn: _HandlerTurn = field(default_factory=_HandlerTurn)

    def invoke_async(self, function: Any, payload: Any) -> None:
        """An asynchronous invocation (EventBridge → Lambda): runs on its own thread; failures are kept."""
        self.add_in_flight(1)
        actor = self.turns.actor(f"async {function.function_name}") if self.turns is not None else None
        threading.Thread(target=self._run_async, args=(function, payload, actor), daemon=True).start()

    def _run_async(self, function: Any, payload: Any, actor: Any = None) -> None:
        with self.turns.turn(actor) if actor is not None else contextlib.nullcontext():
            self._handle_async(function, payload)

    def _handle_async(self, function: Any, payload: Any) -> None:
        """Lambda's asynchronous handling: the first attempt, the configured retries with Lambda's waits,
        then the on-failure destination gets the invocation record."""
        config = self.async_configs.get(function.function_name, AsyncConfig())
        attempts = 1 + config.maximum_retry_attempts
        try:
            for attempt in range(1, attempts + 1):
                result, errored, _ = self.invoke(function, json.dumps(payload))
                if not errored:
                    self.async_results.append((function.function_name, json.loads(result)))
                    return
                if attempt < attempts:
                    self.sleep(ASYNC_RETRY_WAITS[min(attempt, len(ASYNC_RETRY_WAITS)) - 1])
            self.async_failures.append((function.function_name, payload, result))
            if config.on_failure_queue:
                self._send_to_destination(config.on_failure_queue, function, payload, result, attempts)
        finally:
            self.add_in_flight(-1)

    def add_in_flight(self, count: int) -> None:
        """Work Lambda has accepted and not finished (async events, stream records): time waits for it."""
        with self._idle:
            self._in_flight += count
            self._idle.notify_all()
        if count < 0 and self.on_finished is not None:
            self.on_finished()

    def _send_to_destination(self, queue: str, function: Any, payload: Any, error: str, attempts: int) -> None:
        """The invocation record Lambda sends to an on-failure destination (Lambda developer guide)."""
        record = {
            "version": "1.0",
            "timestamp": self.now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": json.loads(error).get("requestId", ""),
                "functionArn": f"{function.function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": payload,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": json.loads(error),
        }
        sqs = boto3.client("sqs", region_name=function.region)
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        with iam.acting_as(function.role):  # Lambda sends it with the function's execution role
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))

    @property
    def in_flight(self) -> int:
        with self._idle:
            return self._in_flight

    def wait_idle(self, timeout: float = 30) -> None:
        """Wait (real time) until no asynchronous invocation is running."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout):
                raise TimeoutError(f"{self._in_flight} asynchronous invocations still running")

    def invoke(self, function: Any, event: Any) -> tuple[str, bool, str]:
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        name = function.function_name
        self.invocations.append(name)
        context = LambdaContext(name, int(function.memory_size or 128), function.function_arn)
        fault = self._fault_for(name, before_handler=True)
        if fault is not None:
            return self._error(fault.error_type, fault.message, "", context), True, ""
        started, self._turn.slept.seconds = time.perf_counter(), (0.0, 0.0)
        try:
            handler = self._handler(function)
            with self._turn, iam.acting_as(function.role):  # its calls are made with the function's role
                result = handler(payload, context)
        except Exception as error:  # the Lambda runtime's error envelope
            return self._error(type(error).__name__, str(error), traceback.format_exc(), context), True, ""
        finally:
            # Billed: the handler's own time here, plus what it slept on the simulated clock (a budget wait).
            slept_real, slept_simulated = self._turn.slept.seconds
            busy = time.perf_counter() - started - slept_real
            self.durations.append((name, int(function.memory_size or 128), busy + slept_simulated))
        fault = self._fault_for(name, before_handler=False)
        if fault is not None:
            return self._error(fault.error_type, fault.message, "", context), True, ""
        return json.dumps(result), False, ""

    def handler_sleep(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        """How a handler sleeps: `sleep`, letting other handlers run meanwhile."""
        return self._turn.sleeping(sleep)

    def _fault_for(self, name: str, before_handler: bool) -> InvocationFault | None:
        with _lock:
            for fault in self.faults:
                if fault.function_contains in name and fault.remaining > 0 and fault.before_handler == before_handler:
                    fault.remaining -= 1
                    return fault
        return None

    @staticmethod
    def _error(error_type: str, message: str, trace: str, context: LambdaContext) -> str:
        return json.dumps(
            {
                "errorMessage": message,
                "errorType": error_type,
                "requestId": context.aws_request_id,
                "stackTrace": trace.splitlines()[-5:],
            }
        )

    def _handler(self, function: Any) -> Callable[..., Any]:
        key = (function.code_sha_256, function.handler)
        with _lock:
            if key not in self._handlers:
                code_dir = self._unpack(function)
                # One process, one environment: the tracker's functions share theirs (same stack).
                os.environ.update({k: str(v) for k, v in (function.environment_vars or {}).items()})
                os.environ.update(self.environment_overrides)
                if str(code_dir) not in sys.path:
                    sys.path.insert(0, str(code_dir))
                first_of_this_code = all(sha != function.code_sha_256 for sha, _ in self._handlers)
                if first_of_this_code and self.on_cold_start is not None:
                    self.on_cold_start()
                module_name, _, attribute = function.handler.rpartition(".")
                self._handlers[key] = getattr(importlib.import_module(module_name), attribute)
            return self._handlers[key]

    @staticmethod
    def _unpack(function: Any) -> Path:
        target = _UNPACKED / function.code_sha_256.replace("/", "_").replace("+", "-")
        if not target.exists():
            staging = Path(tempfile.mkdtemp(dir=_UNPACKED.parent if _UNPACKED.parent.exists() else None))
            with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
                archive.extractall(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):  # another process unpacked the same code first
                staging.rename(target)
        return target
