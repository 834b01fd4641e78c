"""The local cloud's debts: every private internal of moto, botocore or Powertools that it replaces, in one place.

The local cloud runs the synthesized state machine and the real handlers on moto, in one process, on a
simulated clock. For that it replaces attributes that are no library's public interface. Each is a debt: the
next moto or botocore release may rename, move or rewrite what it replaces, and the replacement would then
break, or worse, keep running on assumptions that no longer hold. So each is listed here, and only what is
listed here is patched (`applied` is the one place that patches; tests/localcloud/test_debts.py fails if another
module of the local cloud patches a library):

- FIXES make moto answer as AWS does (each says which AWS behaviour it reproduces, or which moto bug it mends),
  or run moto's waits on the simulated clock. Their code is in localcloud/fixes.py.
- SPEED_UPS answer the same, faster. Their code is in localcloud/speedups.py and localcloud/in_process.py; each
  has a test comparing its answers with moto's own (tests/localcloud/test_speedups.py, test_in_process.py).

Every entry was written for the PINNED versions, and records a hash of what its replacement assumes: the
source of the function it replaces, or, for a module-level name (a module, a table), of the module that uses
it. tests/localcloud/test_debts.py fails when an upgrade changes any of them: re-read the new source, adapt or
drop the replacement (moto may have fixed the bug), then record the new hash the test prints.

Why the speed-ups that remain are needed (`make bench` must stay under 10 minutes; it took 510 s on 2 cores,
two scenarios at a time, the two 1,000-job scale runs of about 350 s each being most of it). CPU seconds of a
100-job scale run (`bench.scenarios.at_scale`, events lost), each speed-up group left out in turn, against all
kept, measured on the shared 2-core machine: see SPEED_UPS below. A speed-up was kept only where leaving it out
would have taken `make bench` past 10 minutes; the rest were removed.
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
    why: str  # fix: the AWS behaviour reproduced; speed-up: what it saves
    source: str  # sha256[:12] of what the replacement assumes, in the PINNED versions (see source_sha)


FIXES = (
    Debt(
        f"{_ASL}.state.wait.wait_function.wait_function:WaitFunction._wait_interval",
        fixes.wait_interval,
        "Wait states wait on the simulated clock (moto waits real seconds)",
        "TODO",
    ),
    Debt(
        f"{_ASL}.common.retry.retrier_decl:time",
        fixes.retry_time,
        "Retry intervals pass on the simulated clock (moto sleeps real seconds)",
        "TODO",
    ),
    Debt(
        f"{_ASL}.common.retry.jitter_strategy_decl:random",
        fixes.seeded_jitter,
        "Retry's jitter drawn from one seeded generator: the same run, the same history",
        "TODO",
    ),
    Debt(
        f"{_ASL}.state.exec.execute_state:threading",
        fixes.task_timeouts,
        "a task's TimeoutSeconds counted on the simulated clock (moto counts real seconds)",
        "TODO",
    ),
    Debt(
        f"{_CALLBACK}.wait",
        fixes.task_token_wait,
        "a task-token wait ends at its token or its simulated deadline, HealthOmics' events delivered meanwhile",
        "TODO",
    ),
    Debt(f"{_CALLBACK}.notify", fixes.rechecked, "an answered task token wakes the simulated clock", "TODO"),
    Debt(f"{_CALLBACK}.interrupt_all", fixes.rechecked, "an interrupted task wakes the simulated clock", "TODO"),
    Debt(
        f"{_EXECUTION}:Execution.start",
        fixes.execution_start,
        "each execution is an actor of the simulated clock, known to the cloud while it runs",
        "TODO",
    ),
    Debt(
        f"{_EXECUTION}:BaseExecutionWorkerCommunication.terminated",
        fixes.execution_end,
        "...and its end is reported the moment moto sets the final status",
        "TODO",
    ),
    Debt(
        f"{_SFN}.backend.execution_worker:ExecutionWorker._execution_logic",
        fixes.execution_logic,
        "an execution's task calls are made with its state machine's role (moto uses none), in its turns",
        "TODO",
    ),
    Debt(
        f"{_EXECUTION}:Execution.__init__",
        fixes.execution_init,
        "a listed execution is RUNNING (moto lists it before setting a status: ListExecutions failed)",
        "TODO",
    ),
    Debt(
        f"{_SFN}.models:StepFunctionsParserBackend.start_execution",
        fixes.start_execution,
        "an unnamed execution gets a UUID (moto names it 'None': the second one collided)",
        "TODO",
    ),
    Debt(
        f"{_SFN}.asl.eval.event.event_manager:EventManager.add_event",
        fixes.history_limit,
        "an execution fails at 25,000 history events, as Step Functions' quota says (moto has no limit)",
        "TODO",
    ),
    Debt(
        f"{_TASK_SERVICE}.state_task_service:StateTaskService._normalise_parameters",
        fixes.normalise_parameters,
        "aws-sdk task Parameters mapped onto the API's member names, as Step Functions does",
        "TODO",
    ),
    Debt(
        f"{_TASK_SERVICE}.state_task_service:StateTaskService._normalise_response",
        fixes.normalise_response,
        "aws-sdk task results with the API's PascalCase member names, as Step Functions returns them",
        "TODO",
    ),
    Debt(
        f"{_TASK_SERVICE}.state_task_service_aws_sdk:_SERVICE_ERROR_NAMES",
        fixes.omics_error_names,
        "HealthOmics aws-sdk task errors named Omics.<Code>, as Step Functions names them",
        "TODO",
    ),
    Debt(
        "moto.s3.notifications:_send_event_bridge_message",
        fixes.s3_event,
        "S3 events with increasing sequencers, fresh ids and URL-encoded keys, as S3 sends them",
        "TODO",
    ),
    Debt(
        "moto.events.models:Rule.send_to_targets",
        fixes.send_to_targets,
        "EventBridge delivers to Lambda and Step Functions targets, with InputTransformer (moto does neither)",
        "TODO",
    ),
    Debt(
        "moto.awslambda.models:LambdaFunction._invoke_lambda",
        fixes.invoke_in_process,
        "Lambda runs the uploaded handler in this process (moto runs Lambda only in Docker)",
        "TODO",
    ),
    Debt(
        "moto.dynamodb.models.table:StreamShard.add",
        fixes.stream_to_poller,
        "stream records go to a poller, as Lambda reads streams (moto invokes in the writer's thread)",
        "TODO",
    ),
    Debt(
        "moto.dynamodb.responses:DynamoHandler.call_action",
        fixes.atomic_requests,
        "each DynamoDB request is atomic across threads; a cancelled transaction writes no stream record",
        "TODO",
    ),
    Debt(
        "botocore.session:Session.create_client",
        fixes.clients_in_turn,
        "clients are created one at a time (botocore: a Session is not thread-safe)",
        "TODO",
    ),
    Debt(
        "aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch:print",
        fixes.kept_metrics,
        "the handlers' EMF metrics are kept for the tests and the benchmark, not printed",
        "TODO",
    ),
    Debt("aws_lambda_powertools.metrics.base:print", fixes.kept_metrics, "...and single_metric's", "TODO"),
    Debt(
        "botocore.handlers:BUILTIN_HANDLERS",
        None,
        "every botocore session (moto's own clients too) asks the HealthOmics simulator, the armed DynamoDB "
        "faults, the IAM check and the in-process answers first; added once, by localcloud.cloud at import, as "
        "moto adds its own stubber",
        "TODO",
    ),
)

_DYNAMODB_PARSING = "moto.dynamodb.parsing"
SPEED_UPS = (
    Debt(
        f"{_DYNAMODB_PARSING}.expressions:UpdateExpressionParser.make",
        speedups.cached_static,
        "each update expression parsed once (moto parses it twice per UpdateItem)",
        "TODO",
    ),
    Debt(
        f"{_DYNAMODB_PARSING}.validators:UpdateExpressionValidator.__init__",
        speedups.remember_expression,
        "(the expression kept, for validate below)",
        "TODO",
    ),
    Debt(
        f"{_DYNAMODB_PARSING}.validators:UpdateExpressionValidator.validate",
        speedups.validate_once,
        "an update expression's clause counts, paths and keys checked once per expression and names",
        "TODO",
    ),
    Debt(
        f"{_DYNAMODB_PARSING}.validators:deepcopy",
        speedups.pickled_copies,
        "the parsed update expression copied by pickle, three times faster than deepcopy",
        "TODO",
    ),
    Debt(
        f"{_DYNAMODB_PARSING}.ast_nodes:DepthFirstTraverser.traverse",
        speedups.quicker_walk,
        "an update expression walked without re-reading the node types at every node",
        "TODO",
    ),
    Debt(
        "moto.dynamodb.comparisons:ConditionExpressionParser._lex_condition_expression",
        speedups.lexed_once,
        "each condition expression lexed once",
        "TODO",
    ),
    Debt(f"{_SFN}.asl.utils.json_path:parse", speedups.cached, "each JSONPath parsed once", "TODO"),
    Debt(f"{_ASL}.common.path.result_path:parse", speedups.cached, "each ResultPath parsed once", "TODO"),
    *(
        Debt(f"{module}:copy", speedups.json_copies, "a state's JSON data copied by a direct walk", "TODO")
        for module in (
            f"{_SFN}.asl.eval.states",
            f"{_ASL}.common.string.string_expression",
            f"{_ASL}.common.path.result_path",
            f"{_ASL}.state.exec.execute_state",
            f"{_TASK_SERVICE}.state_task_service",
            f"{_SFN}.asl.eval.event.event_manager",
            f"{_SFN}.asl.eval.environment",
        )
    ),
    Debt(
        f"{_SFN}.backend.execution_worker:ExecutionWorker._get_evaluation_entrypoint",
        speedups.shared_programs,
        "executions of one definition share one parse of it",
        "TODO",
    ),
    Debt(
        f"{_ASL}.eval_component:EvalComponent.heap_key",
        speedups.one_heap_key,
        "(a shared program's heap keys drawn once, under a lock)",
        "TODO",
    ),
    # localcloud.in_process answers calls with moto's response classes without HTTP emulation: it replaces nothing,
    # but copies or relies on these.
    Debt(
        "moto.core.botocore_stubber:BotocoreStubber.__call__",
        None,
        "in_process finds moto's method for a URL as the stubber does",
        "TODO",
    ),
    Debt(
        "moto.core.responses:BaseResponse.setup_class",
        None,
        "in_process's light request offers what moto's response classes read of a request",
        "TODO",
    ),
    Debt(
        "moto.awslambda.responses:LambdaResponse.invoke",
        None,
        "in_process answers Invoke as this does (statuses, headers, payload limit)",
        "TODO",
    ),
    *(
        Debt(
            f"{module}:boto_client_for",
            speedups.reused_task_clients,
            "one boto3 client per service for every task (moto creates one per task)",
            "TODO",
        )
        for module in (
            f"{_ASL}.state.exec.state_task.lambda_eval_utils",
            f"{_TASK_SERVICE}.state_task_service_aws_sdk",
            f"{_TASK_SERVICE}.state_task_service_sfn",
        )
    ),
)

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
    if not inspect.isfunction(value):
        value = inspect.getmodule(owner)
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
