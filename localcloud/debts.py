"""The local cloud's debts: every private internal of moto, botocore or Powertools that it replaces, in one place.

To run the synthesized state machine and the real handlers on moto, in one process, on a simulated clock, the
local cloud replaces attributes that are no library's public interface. The next release may rename or rewrite
any of them, so each is listed here, and `applied` patches only what is listed (tests/localcloud/test_debts.py
fails if another module of the local cloud patches a library):

- FIXES make moto answer as AWS does, or wait on the simulated clock (code: localcloud/fixes.py).
- SPEED_UPS answer the same, faster (code: localcloud/speedups.py, localcloud/in_process.py).
  tests/localcloud/test_speedups.py and test_in_process.py compare their answers with moto's own.

Each entry was written for the PINNED versions and records a hash of what its replacement assumes: the source
of the function it replaces, or of the module that holds a replaced module-level name. test_debts.py fails when
an upgrade changes one: re-read the new source, adapt or drop the replacement (moto may have fixed the bug), and
record the hash the test prints.

Why each speed-up is kept: `make bench` must stay under 10 minutes; it took 510 s on 2 cores, most of it two
1,000-job scale runs side by side (about 350 s each), so the slack is about 15% of a scale run. CPU seconds of a
100-job scale run (bench.scenarios.at_scale, events lost) on the shared 2-core machine, about 21 s with all kept;
each group left out in turn:

    a transaction's copy of its whole table        128 s    (0.4 s per transaction at 3,300 items)
    one boto3 client per service for every task     52 s
    JSONPaths parsed once                           38 s
    update expressions parsed once                  35 s
    one parse of the definition per state machine   33 s
    update expressions checked once 30 s, walked faster 31 s, conditions lexed once 29 s, copied by pickle 27 s
    in_process (wall time)                          42 s against 25.5 s

Smaller ones as pairs run side by side (same load): the serializer's member lookup +7% and +11% (kept); the
request signing skip +2%, the JSON copies of Step Functions data +1% and +2%, moto's method-name cache: removed.
All four removed cost 11-16% (six pairs), so the member lookup came back; the three removed cost 6-9% (three
pairs): about 30 s on each scale run, `make bench` about 540 s. The benchmark's figures came out the same.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from unittest import mock

from localcloud import fixes, speedups

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

PINNED = {"moto": "5.2.5", "botocore": "1.44.8", "aws-lambda-powertools": "3.37.0"}

_SFN = "moto.stepfunctions.parser"
_ASL = f"{_SFN}.asl.component"
_TASK_SERVICE = f"{_ASL}.state.exec.state_task.service"
_CALLBACK = f"{_SFN}.asl.eval.callback.callback:CallbackEndpoint"
_EXECUTION = f"{_SFN}.backend.execution"


@dataclass(frozen=True)
class Debt:
    target: str  # "module:Owner.attribute": the name replaced
    make: Callable[[LocalCloud, Any], Any] | None  # (cloud, what it replaces) -> replacement; None: not for this cloud
    source: str  # sha256[:12] of what the replacement assumes, in the PINNED versions (see source_sha)
    why: str  # fix: the AWS behaviour reproduced; speed-up: what it saves


def _as_is(replacement: Any) -> Callable[[LocalCloud, Any], Any]:
    return lambda cloud, original: replacement


_WAIT = f"{_ASL}.state.wait.wait_function.wait_function"
_RETRY = f"{_ASL}.common.retry"
_EXECUTION_WORKER = f"{_SFN}.backend.execution_worker:ExecutionWorker"
_STATE_TASK_SERVICE = f"{_TASK_SERVICE}.state_task_service:StateTaskService"
_EMF = "aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch"
_PARSING = "moto.dynamodb.parsing"
_CONDITIONS = "moto.dynamodb.comparisons:ConditionExpressionParser"

# fmt: off
FIXES = (
    Debt(f"{_WAIT}:WaitFunction._wait_interval", fixes.wait_interval, "8f954dee8037",
         "Wait states wait on the simulated clock (moto waits real seconds)"),
    Debt(f"{_RETRY}.retrier_decl:time", fixes.retry_time, "70bd3a0664d8",
         "Retry intervals pass on the simulated clock (moto sleeps real seconds)"),
    Debt(f"{_RETRY}.jitter_strategy_decl:random", fixes.seeded_jitter, "04f7c566cfa8",
         "Retry's jitter drawn from one seeded generator: the same run, the same history"),
    Debt(f"{_ASL}.state.exec.execute_state:threading", fixes.task_timeouts, "6cc52e59c727",
         "a task's TimeoutSeconds counted on the simulated clock (moto counts real seconds)"),
    Debt(f"{_CALLBACK}.wait", fixes.task_token_wait, "85d0fa6224f1",
         "a task-token wait ends at its token or its simulated deadline, HealthOmics' events delivered meanwhile"),
    Debt(f"{_CALLBACK}.notify", fixes.rechecked, "8a2febb9b274", "an answered task token wakes the simulated clock"),
    Debt(f"{_CALLBACK}.interrupt_all", fixes.rechecked, "d5b1c5de4a0b", "...and so does an interrupted task"),
    Debt(f"{_EXECUTION}:Execution.start", fixes.execution_start, "07e927c2d5f9",
         "each execution is an actor of the simulated clock, known to the cloud while it runs"),
    Debt(f"{_EXECUTION}:BaseExecutionWorkerCommunication.terminated", fixes.execution_end, "360372a6a57b",
         "...and its end is reported the moment moto sets the final status"),
    Debt(f"{_EXECUTION_WORKER}._execution_logic", fixes.execution_logic, "baa3e2a48fd2",
         "an execution's task calls are made with its state machine's role (moto uses none), in its turns"),
    Debt(f"{_EXECUTION}:Execution.__init__", fixes.execution_init, "072ed5928123",
         "a listed execution is RUNNING (moto lists it before setting a status: ListExecutions failed)"),
    Debt(f"{_SFN}.models:StepFunctionsParserBackend.start_execution", fixes.start_execution, "0f8d9dd57baf",
         "an unnamed execution gets a UUID (moto names it 'None': the second one collided)"),
    Debt(f"{_SFN}.asl.eval.event.event_manager:EventManager.add_event", fixes.history_limit, "cb430fa2e3fe",
         "an execution fails at 25,000 history events, as Step Functions' quota says (moto has no limit)"),
    Debt(f"{_STATE_TASK_SERVICE}._normalise_parameters", fixes.normalise_parameters, "dece59e76fd5",
         "aws-sdk task Parameters mapped onto the API's member names, as Step Functions does"),
    Debt(f"{_STATE_TASK_SERVICE}._normalise_response", fixes.normalise_response, "00e0b0a50b1d",
         "aws-sdk task results with the API's PascalCase member names, as Step Functions returns them"),
    Debt(f"{_TASK_SERVICE}.state_task_service_aws_sdk:_SERVICE_ERROR_NAMES", fixes.omics_error_names, "20f0858933a9",
         "HealthOmics aws-sdk task errors named Omics.<Code>, as Step Functions names them"),
    Debt("moto.s3.notifications:_send_event_bridge_message", fixes.s3_event, "971cee49c687",
         "S3 events with increasing sequencers, fresh ids and URL-encoded keys, as S3 sends them"),
    Debt("moto.events.models:Rule.send_to_targets", fixes.send_to_targets, "472e002e2dab",
         "EventBridge delivers to Lambda and Step Functions targets, with InputTransformer (moto does neither)"),
    Debt("moto.awslambda.models:LambdaFunction._invoke_lambda", fixes.invoke_in_process, "23ce7a8f956e",
         "Lambda runs the uploaded handler in this process (moto runs Lambda only in Docker)"),
    Debt("moto.dynamodb.models.table:StreamShard.add", fixes.stream_to_poller, "357dc6da267e",
         "stream records go to a poller, as Lambda reads streams (moto invokes in the writer's thread)"),
    Debt("moto.dynamodb.responses:DynamoHandler.call_action", fixes.atomic_requests, "ce5f57cf83cd",
         "each DynamoDB request is atomic across threads; a cancelled transaction writes no stream record"),
    Debt("botocore.session:Session.create_client", fixes.clients_in_turn, "a1302b106e49",
         "clients are created one at a time (botocore: a Session is not thread-safe)"),
    Debt(f"{_EMF}:print", fixes.kept_metrics, "b496b82d0597",
         "the handlers' EMF metrics are kept for the tests and the benchmark, not printed"),
    Debt("aws_lambda_powertools.metrics.base:print", fixes.kept_metrics, "c8e729656849", "...and single_metric's"),
    Debt("botocore.handlers:BUILTIN_HANDLERS", None, "504f9fd31a56",
         "every session (moto's clients too) asks the HealthOmics simulator, the armed DynamoDB faults, the IAM "
         "check and in_process first; added once by localcloud.cloud at import, as moto adds its own stubber"),
)

# The CPU figures: a 100-job scale run (events lost) with the speed-up left out, against 20.8 s with all kept.
SPEED_UPS = (
    Debt("moto.dynamodb.models:copy", _as_is(speedups.TablesNotCopied), "deee8b9c59bc",
         "a transaction does not deep-copy its whole table (0.4 s each at 3,300 items; left out: 128 s)"),
    Debt("moto.dynamodb.models:DynamoDBBackend.transact_write_items", speedups.transaction_undo, "81db2cb7d94e",
         "...so a failed transaction's items and stream records are put back one by one"),
    *(Debt(f"{module}:boto_client_for", speedups.reused_task_clients, "1f44dc2ac8aa",
           "one boto3 client per service serves every task (moto creates one per task; left out: 52 s)")
      for module in (f"{_ASL}.state.exec.state_task.lambda_eval_utils",
                     f"{_TASK_SERVICE}.state_task_service_aws_sdk", f"{_TASK_SERVICE}.state_task_service_sfn")),
    Debt(f"{_SFN}.asl.utils.json_path:parse", speedups.cached, "33a9527fc839",
         "each JSONPath parsed once (moto parses every path each time a state runs; left out with the next: 38 s)"),
    Debt(f"{_ASL}.common.path.result_path:parse", speedups.cached, "33b4fae32035", "each ResultPath parsed once"),
    Debt(f"{_EXECUTION_WORKER}._get_evaluation_entrypoint", speedups.shared_programs, "2b25949ae855",
         "executions of one definition share one parse of it (over 0.1 s each; left out with the next: 33 s)"),
    Debt(f"{_ASL}.eval_component:EvalComponent.heap_key", _as_is(property(speedups.heap_key)), "2531bf43997a",
         "...so a shared program's heap keys are drawn once, under a lock"),
    Debt(f"{_PARSING}.expressions:UpdateExpressionParser.make", speedups.cached_static, "2c00ed96d6e1",
         "each update expression parsed once (moto parses it twice per UpdateItem; left out: 35 s)"),
    Debt(f"{_PARSING}.validators:UpdateExpressionValidator.__init__", speedups.remember_expression, "9489b532dd0f",
         "(the expression kept for validate)"),
    Debt(f"{_PARSING}.validators:UpdateExpressionValidator.validate", _as_is(speedups.validate_once), "5a99f0d36c7b",
         "an update expression's clause counts, paths and keys checked once per expression and names (DDB_VALIDATE)"),
    Debt(f"{_PARSING}.validators:deepcopy", _as_is(speedups.copied_tree), "345c1740c0c6",
         "the parsed update expression copied by pickle, three times faster than deepcopy (DDB_PICKLE)"),
    Debt(f"{_PARSING}.ast_nodes:DepthFirstTraverser.traverse", _as_is(speedups.traverse), "c78f8583f196",
         "an update expression walked without re-reading the node types at every node (DDB_TRAVERSE)"),
    Debt(f"{_CONDITIONS}._lex_condition_expression", speedups.lexed_once, "a81528835921",
         "each condition expression lexed once (DDB_LEX)"),
    Debt("moto.core.serialize:AttributePicker.__call__", speedups.member_lookup, "c15da8ec29c1",
         "a response member looked up in a plain dict by the keys moto's aliases could try (left out: +11% CPU)"),
    # localcloud.in_process answers JSON-protocol calls and Invoke with moto's response classes, without HTTP
    # emulation (left out: 42 s of wall time against 25.5). It replaces nothing, but copies or relies on these:
    Debt("moto.core.botocore_stubber:BotocoreStubber.__call__", None, "6cbb7bf98afe",
         "in_process finds moto's method for a URL as the stubber does"),
    Debt("moto.core.responses:BaseResponse.setup_class", None, "0045fc77574a",
         "in_process's light request offers what moto's response classes read of a request"),
    Debt("moto.awslambda.responses:LambdaResponse.invoke", None, "8f68f0bf023a",
         "in_process answers Invoke as this does (statuses, headers, payload limit)"),
)
# fmt: on

REGISTRY = {debt.target: debt for debt in (*FIXES, *SPEED_UPS)}


def resolve(target: str) -> tuple[Any, str]:
    """The object holding the target's attribute, and the attribute's name."""
    module, _, path = target.partition(":")
    owner: Any = importlib.import_module(module)
    *owners, attribute = path.split(".")
    for name in owners:
        owner = getattr(owner, name)
    return owner, attribute


def source_sha(target: str) -> str:
    """A hash of what a replacement of `target` assumes: the replaced function's source (a property's getter), or
    the source of the module that holds a module-level name."""
    owner, attribute = resolve(target)
    value = inspect.getattr_static(owner, attribute, None)  # a module's `print` is not there until patched
    value = getattr(value, "fget", getattr(value, "__func__", value))
    # A function a module imports from another package (copy.deepcopy, jsonpath_ng's parse) changes with that
    # package: what the replacement assumes is how the importing module uses it.
    home = inspect.getmodule(owner)
    if not inspect.isfunction(value) or value.__module__.split(".")[0] != getattr(home, "__name__", "").split(".")[0]:
        value = home
    return hashlib.sha256(inspect.getsource(value).encode()).hexdigest()[:12]


@contextlib.contextmanager
def applied(cloud: LocalCloud, targets: Iterable[str] | None = None) -> Iterator[None]:
    """Every listed replacement (or those of `targets`) in place while the cloud runs; the originals back after."""
    with contextlib.ExitStack() as stack:
        for debt in REGISTRY.values() if targets is None else (REGISTRY[target] for target in targets):
            owner, attribute = resolve(debt.target)
            replacement = debt.make(cloud, getattr(owner, attribute, None)) if debt.make is not None else None
            if replacement is not None:
                stack.enter_context(mock.patch.object(owner, attribute, replacement, create=True))
        yield
