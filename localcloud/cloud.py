"""LocalCloud: deploy the synthesized stack on moto and drive it like a user would."""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from unittest import mock

import boto3
import botocore.handlers
from moto import mock_aws
from moto.awslambda.models import lambda_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from infra.cdk_json import feature_flags
from localcloud import debts, fixes, iam, stack_registry
from localcloud.clock import ScaledClock, SimClock, TurnClock
from localcloud.deploy import (
    ACCOUNT,
    REGION,
    Deployment,
    Resolver,
    async_configs,
    deploy,
    enable_eventbridge_notifications,
    iam_policies,
    schedule_rules,
    stream_mappings,
)
from localcloud.event_source import StatusEventSource
from localcloud.executions import RunningExecutions
from localcloud.in_process import InProcessCalls
from localcloud.lambda_runtime import InProcessLambdaRuntime
from localcloud.omics import OmicsSimulator
from localcloud.schedules import scheduled_event
from localcloud.streams import StreamPoller

ROOT = Path(__file__).resolve().parent.parent
STACK_NAME = "OmicsJobTracker"
TERMINAL_EXECUTION = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}

# The handlers run in this process: no X-Ray daemon, quieter logs.
LOCAL_LAMBDA_ENVIRONMENT = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": os.environ.get("TRACKER_LOCAL_LOG_LEVEL", "WARNING"),
}

_simulator: OmicsSimulator | None = None
_dynamodb_faults: list[fixes.DynamoDbFault] = []


def _route_to_simulator(request: Any, **kwargs: Any) -> Any:
    return _simulator(request, **kwargs) if _simulator is not None else None


_inject_dynamodb_faults = fixes.dynamodb_fault_injector(_dynamodb_faults)
_in_process = InProcessCalls()
_in_process.faults_armed = lambda: any(fault.remaining > 0 for fault in _dynamodb_faults)
_policies: iam.Policies | None = None


def _check_iam(params: dict[str, Any], model: Any, **_: Any) -> None:
    """Refuse a call its principal's policies do not allow, before it is sent (as AWS would)."""
    principal = iam.current_principal()
    if principal is None or _policies is None:
        return
    for request in iam.requests_for(model.service_model.endpoint_prefix, model.name, params, REGION, ACCOUNT):
        _policies.check(principal, request)


# botocore copies BUILTIN_HANDLERS into every new session (a debt listed in localcloud.debts): every omics client,
# including the one moto's Step Functions uses for aws-sdk tasks, asks the simulator before anything else; every
# DynamoDB client meets the faults a test arms before it reaches moto; JSON-protocol calls are answered
# without HTTP emulation (localcloud.in_process).
for _handler in (
    ("before-send.omics", _route_to_simulator),
    ("before-send.dynamodb", _inject_dynamodb_faults),
    ("before-parameter-build", _check_iam),
    ("before-call", _in_process),
):
    if _handler not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(_handler)


def synthesize(out_dir: Path, context: dict[str, Any] | None = None, app: Path = ROOT / "app.py") -> Path:
    """Run a CDK app (``app.py``: cdk-nag included) as ``cdk synth`` would, with cdk.json's feature flags; return
    the cloud assembly dir."""
    context = {**feature_flags(), **(context or {})}
    env = {**os.environ, "CDK_OUTDIR": str(out_dir), "CDK_CONTEXT_JSON": json.dumps(context)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, str(app)], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:  # e.g. an unacknowledged cdk-nag finding: show what synth said
        raise RuntimeError(f"cdk synth failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return out_dir


class LocalCloud:
    def __init__(
        self,
        cdk_out: Path,
        stack_name: str = STACK_NAME,
        on_cold_start: Callable[[], None] | None = None,
        existing_buckets: tuple[str, ...] = (),
        existing_reference_store: str | None = None,
        speed: float | None = None,
    ) -> None:
        self.cdk_out = cdk_out
        self._existing_buckets = existing_buckets  # the account's own buckets, there before the deploy
        self._on_cold_start = on_cold_start  # e.g. a test adding a job type to the freshly imported contract
        self.stack_name = stack_name
        # None: the discrete-event SimClock (tests, the demo); a number: wall time that many times faster
        # (`make local`, so a person can watch jobs move).
        # (The SimClock is a TurnClock: actors act one at a time, in the same order on every run.)
        self.clock: TurnClock | ScaledClock = TurnClock() if speed is None else ScaledClock(speed)
        turns = self.clock if isinstance(self.clock, TurnClock) else None
        # Whenever an actor stops, the simulated clock looks at once whether time may move.
        recheck: Callable[[], None] = getattr(self.clock, "recheck", lambda: None)
        self.running = RunningExecutions(on_end=recheck)  # the RUNNING executions, as moto starts and ends them
        # The simulator only reads now(); its field is annotated SimClock, any Clock does.
        self.omics = OmicsSimulator(cast(SimClock, self.clock), account_id=ACCOUNT, region=REGION)
        # On the simulated clock one publisher delivers HealthOmics' status events as time reaches them.
        self.status_events = (
            StatusEventSource(
                self.clock, self.omics, lambda: fixes.publish_due_events(self.omics, self.deliver), recheck
            )
            if isinstance(self.clock, TurnClock)
            else None
        )
        if existing_reference_store:  # the account's reference store (by this name), there before the deploy
            self.omics.create_reference_store(existing_reference_store)
        self.lambdas = InProcessLambdaRuntime(
            on_cold_start=self._cold_start,
            environment_overrides=dict(LOCAL_LAMBDA_ENVIRONMENT),
            sleep=self.clock.sleep,
            now=self.clock.now,
            on_finished=recheck,
            turns=turns,
        )
        self.streams = StreamPoller(
            invoke=self._invoke_function,
            sleep=self.clock.sleep,
            now=self.clock.now,
            on_idle=recheck,
            turns=turns,
        )
        self._clients: dict[str, Any] = {}
        self._exit = contextlib.ExitStack()
        self.dynamodb_faults = _dynamodb_faults  # armed by tests: DynamoDbFault(operation, code, when)
        self.dynamodb_requests: list[fixes.DynamoDbRequest] = []  # every request answered, in order
        self.schedule_firings: list[tuple[str, datetime]] = []  # (rule name, moment): each schedule rule firing
        self.deployment: Deployment

    # ---- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> LocalCloud:
        global _simulator
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }.items():
            os.environ.setdefault(name, value)
        _simulator = self.omics
        self._exit.callback(self._forget_simulator)
        self._exit.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        _in_process.enabled = True
        self._exit.callback(setattr, _in_process, "enabled", False)  # before moto's mock stops
        self.metrics: list[dict[str, Any]] = []  # the handlers' EMF metrics (no CloudWatch here)
        self._exit.enter_context(debts.applied(self))
        if self.status_events is not None:
            self._exit.callback(self.status_events.close)
        for bucket in self._existing_buckets:
            boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
        self.deployment = deploy(self.cdk_out, self.stack_name, self.omics)
        stack_registry.register_stack(self.deployment)  # DescribeStacks finds it, as omics-tracker looks
        self._use_policies(iam_policies(self.deployment))
        self.lambdas.async_configs.update(async_configs(self.deployment))
        self.streams.start(stream_mappings(self.deployment))
        enable_eventbridge_notifications(self.deployment)
        self._start_schedules(self.deployment)
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self.drain()
        finally:
            self.clock.close()
            self._exit.close()

    def drain(self, timeout: float = 60) -> None:
        """Let running executions end (on the simulated clock that is quick), so none outlives the cloud.
        Executions can start others (hand-overs, uploads), so look again until none is running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.lambdas.wait_idle(timeout=max(deadline - time.monotonic(), 0.1))
            self.streams.wait_idle(timeout=max(deadline - time.monotonic(), 0.1))
            if not len(self.running):
                return
            self.running.wait_until_none(timeout=max(deadline - time.monotonic(), 0.1))

    @contextlib.contextmanager
    def at_one_moment(self) -> Iterator[None]:
        """What the caller does inside (e.g. start many executions) happens at one simulated moment, before any
        execution acts: the caller takes a turn on the clock, so time cannot move meanwhile."""
        with self.clock.acting() if isinstance(self.clock, TurnClock) else contextlib.nullcontext():
            yield

    def deploy_stack(self, cdk_out: Path, stack_name: str) -> Deployment:
        """Deploy another synthesized stack next to the tracker (the benchmark's baseline); its roles' policies are
        checked like the tracker's."""
        deployment = deploy(cdk_out, stack_name, self.omics)
        self.policies.by_role.update(iam_policies(deployment).by_role)
        self._start_schedules(deployment)
        return deployment

    def _start_schedules(self, deployment: Deployment) -> None:
        """Run the stack's schedule rules on the clock, from now: EventBridge starts a rate schedule when the rule
        is created (on the simulated clock, a rule fires only while time moves for something else)."""
        for rule, period in schedule_rules(deployment).items():
            self.clock.every(period, functools.partial(self._fire_schedule, rule), name=f"schedule {rule}")

    def _fire_schedule(self, rule: str, moment: datetime) -> None:
        """One firing of an ENABLED schedule rule: its targets get their Input, or the scheduled event."""
        events = self._client("events")
        described = events.describe_rule(Name=rule)
        if described["State"] != "ENABLED":
            return
        self.schedule_firings.append((rule, moment))
        targets = events.list_targets_by_rule(Rule=rule)["Targets"]
        fixes.deliver_to_targets(self, targets, scheduled_event(described["Arn"], moment))

    def _invoke_function(self, name: str, payload: dict[str, Any]) -> tuple[str, bool]:
        """A synchronous invocation by name (what a stream mapping does with each batch)."""
        result, errored, _ = self.lambdas.invoke(lambda_backends[ACCOUNT][REGION].get_function(name), payload)
        return result, errored

    def _use_policies(self, policies: iam.Policies) -> None:
        global _policies
        _policies = policies
        self.policies = policies
        # HealthOmics reads an import's sources with the import role: s3:GetObject on each object.
        self.omics.read_permission = lambda role, bucket, key: policies.allows(
            role, iam.Request("s3:GetObject", (f"arn:aws:s3:::{bucket}/{key}",))
        )

    @staticmethod
    def _forget_simulator() -> None:
        global _simulator, _policies
        _simulator = None
        _policies = None
        _dynamodb_faults.clear()

    def _cold_start(self) -> None:
        """A new deployment's first invocation: the handler code is imported afresh from the uploaded
        asset, so module-level objects (Logger, Metrics, settings, clients) see the function's
        environment as in a real cold start; its clock is this cloud's simulated one."""
        for name in [m for m in sys.modules if m == "tracker" or m.startswith("tracker.")]:
            del sys.modules[name]
        clock_module = importlib.import_module("tracker.clock")
        self._exit.enter_context(mock.patch.object(clock_module, "utc_now", self.clock.now))
        # A handler waiting for its slot in the HealthOmics call budget waits on the same clock.
        self._exit.enter_context(mock.patch.object(clock_module, "sleep", self.lambdas.handler_sleep(self.clock.sleep)))
        if self._on_cold_start is not None:
            self._on_cold_start()

    # ---- what the stack created ------------------------------------------------------------
    @property
    def bucket(self) -> str:
        return self.output("UploadBucketName")

    def output(self, name: str) -> str:
        """A stack output, as CloudFormation would resolve it."""
        return str(Resolver(self.deployment)(self.deployment.template["Outputs"][name]["Value"]))

    @property
    def table(self) -> str:
        return self.deployment.refs[self.deployment.one("AWS::DynamoDB::GlobalTable")]

    @property
    def state_machine_arn(self) -> str:
        return self.deployment.refs[self.deployment.one("AWS::StepFunctions::StateMachine")]

    @property
    def reference_store_id(self) -> str:
        """The store the stack uses: its ReferenceStoreId output (the account's store, or the one given by context)."""
        return self.output("ReferenceStoreId")

    # ---- acting as a user ------------------------------------------------------------------
    def upload(self, key: str, body: bytes = b">chr1\nACGT\n") -> None:
        boto3.client("s3", region_name=REGION).put_object(Bucket=self.bucket, Key=key, Body=body)

    def put_object(self, uri: str, body: bytes = b">chr1\nACGT\n") -> None:
        """An object in a bucket of the user's own (created if new), e.g. a reference a console input names."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        s3 = boto3.client("s3", region_name=REGION)
        if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=body)

    def delete_object(self, uri: str) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        boto3.client("s3", region_name=REGION).delete_object(Bucket=bucket, Key=key)

    def start_execution(self, execution_input: dict[str, Any], name: str | None = None) -> str:
        kwargs = {"name": name} if name else {}
        response = self._client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, input=json.dumps(execution_input), **kwargs
        )
        return str(response["executionArn"])

    def executions(self) -> list[dict[str, Any]]:
        pages = self._client("stepfunctions").get_paginator("list_executions")
        return [e for page in pages.paginate(stateMachineArn=self.state_machine_arn) for e in page["executions"]]

    def wait_for_executions(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        """Wait (real time) until `count` executions exist, e.g. after an upload."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.executions()
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise TimeoutError(f"expected {count} executions, found {len(self.executions())}")

    def wait(self, execution_arn: str, timeout: float = 60) -> dict[str, Any]:
        """Wait (real time; the simulated clock runs far faster) until the execution ends."""
        sfn = self._client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] in TERMINAL_EXECUTION:
                if isinstance(self.clock, TurnClock):
                    self.clock.settle()  # and what its end set off at that moment (stream records...) has run
                return dict(described)
            if execution_arn in self.running:  # its end is reported the moment moto sets the final status
                self.running.wait_until_ended(execution_arn, timeout=min(max(deadline - time.monotonic(), 0), 1))
            else:  # listed, not started yet
                time.sleep(0.005)
        raise TimeoutError(f"{execution_arn} still running after {timeout} s")

    def _client(self, service: str) -> Any:
        """One client per service for the cloud's own calls (a new one each call costs more than the call)."""
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=REGION)
        return self._clients[service]

    @staticmethod
    def deliver(event: dict[str, Any]) -> None:
        """Put an event on the default bus (its Lambda targets run asynchronously)."""
        fixes.deliver_event(ACCOUNT, REGION, event)

    def publish(self, event: dict[str, Any]) -> None:
        """Put an event on the default bus and wait until the Lambda targets it reached have run."""
        self.deliver(event)
        self.lambdas.wait_idle()

    def pass_time(self, seconds: float) -> None:
        """Let `seconds` of simulated time pass, with everything due in them: executions' waits, HealthOmics' status
        events (of every job, followed or not), schedule rules."""
        if self.status_events is None:
            self.clock.sleep(seconds)
        else:
            self.status_events.pass_time(seconds)

    def events(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self._client("stepfunctions")
        return list(sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"])

    def execution_statuses(self, state_machine_arn: str | None = None) -> dict[str, str]:
        """Each execution's status by ARN (of the tracker's state machine unless told), read from Step Functions'
        backend: listing and describing thousands through the API costs more than running them did."""
        wanted = state_machine_arn or self.state_machine_arn
        backend = stepfunctions_parser_backends[ACCOUNT][REGION]
        return {
            execution.exec_arn: str(execution.status)  # type: ignore[attr-defined]
            for state_machine in backend.state_machines
            if state_machine.arn == wanted
            for execution in state_machine.executions
        }

    def event_types(self, execution_arn: str) -> list[str]:
        """The type of each event of the execution's history, read in place (the API, and even the backend's
        history call, copy every event first: more work than running the execution was, for thousands)."""
        backend = stepfunctions_parser_backends[ACCOUNT][REGION]
        execution: Any = backend.describe_execution(execution_arn)
        if execution.exec_worker is None or execution.exec_worker.env is None:
            return []
        return [str(event["type"]) for event in execution.exec_worker.env.event_manager._history_event_list]

    def states_entered_in_place(self, execution_arn: str) -> list[str]:
        """states_entered, read in place as event_types reads (for the benchmark's thousands of executions)."""
        backend = stepfunctions_parser_backends[ACCOUNT][REGION]
        execution: Any = backend.describe_execution(execution_arn)
        if execution.exec_worker is None or execution.exec_worker.env is None:
            return []
        return [
            str(event["stateEnteredEventDetails"]["name"])
            for event in execution.exec_worker.env.event_manager._history_event_list
            if str(event["type"]).endswith("StateEntered")
        ]

    def states_entered(self, execution_arn: str) -> list[str]:
        return [
            event["stateEnteredEventDetails"]["name"]
            for event in self.events(execution_arn)
            if event["type"].endswith("StateEntered")
        ]

    def history(self, job: dict[str, str]) -> list[dict[str, Any]]:
        """The job's history entries, in order, as plain values."""
        from tracker.contract import JobRef
        from tracker.history_table import HistoryTable

        return HistoryTable(boto3.client("dynamodb", region_name=REGION), self.table).entries(JobRef.from_dict(job))

    def queue_messages(self, id_contains: str) -> list[Any]:
        """The bodies (JSON) of the messages in the stack's queue whose logical id contains `id_contains`."""
        name = self.deployment.attrs[(self.deployment.one("AWS::SQS::Queue", id_contains), "QueueName")]
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    def table_items(self) -> list[dict[str, Any]]:
        from tracker.dynamodb_items import from_item

        items = boto3.client("dynamodb", region_name=REGION).scan(TableName=self.table)["Items"]
        return [from_item(item) for item in items]

    def job_items(self) -> list[dict[str, Any]]:
        """The table's job records (history and store queues), without the call budget's bookkeeping."""
        return [item for item in self.table_items() if not str(item["pk"]).startswith("BUDGET#")]
