"""Narrow corrections to moto 5.2.5 for many executions at once (a thousand, each on its own threads).

Applied with ``localcloud.patches`` while a LocalCloud runs, undone when it stops. Each says which moto
behaviour it replaces and why. None changes what an execution does or when, in simulated time: they remove
work that grew with the number of executions, and races that made results depend on thread timing.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import pickle
import random
import threading
from collections import deque
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import botocore.session
import botocore.signers
from botocore import xform_name
from moto.core import responses as moto_responses
from moto.core import serialize as moto_serialize
from moto.core.utils import method_names_from_class
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing import validators as dynamodb_validators
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.dynamodb.parsing.validators import (
    ActionCountValidator,
    OverlappingPathsValidator,
    UpdateExpressionValidator,
    UpdateHashRangeKeyValidator,
)
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.retry import jitter_strategy_decl
from moto.stepfunctions.parser.asl.component.common.string import string_expression
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service,
    state_task_service_aws_sdk,
    state_task_service_sfn,
)
from moto.stepfunctions.parser.asl.eval import environment, states
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
from moto.stepfunctions.parser.asl.eval.event import event_manager
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.utils import long_uid

from localcloud.clock import Clock, SimClock, TurnClock
from localcloud.event_source import StatusEventSource
from localcloud.executions import RunningExecutions
from localcloud.streams import StreamPoller

# ---- boto3 clients -----------------------------------------------------------------------------------------
# botocore documents that a Session is not thread-safe: clients must not be created from one session on several
# threads at once. Every handler, execution and asynchronous invocation here is a thread of one process, and
# boto3.client() (moto's Step Functions tasks, the handlers' cold starts, the cloud's own calls) creates clients
# from boto3's one default session. So client creation takes turns. (Clients, once made, are thread-safe.)
_CLIENT_CREATION = threading.RLock()
_original_create_client = botocore.session.Session.create_client


def _create_client_in_turn(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
    with _CLIENT_CREATION:
        return _original_create_client(self, *args, **kwargs)


def _reused_task_clients() -> Any:
    # moto's Step Functions creates a new boto3 client for every task it runs (boto_client_for): a Lambda task,
    # an aws-sdk call, a StartExecution. Creating a client costs milliseconds of CPU, more than the call; its
    # arguments are the same every time (fixed test keys, one config), so one client per service and Region
    # serves every task. The credentials argument is unused by moto (the local cloud checks IAM per thread).
    original = boto_client.boto_client_for
    made: dict[tuple[str, str], Any] = {}

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service)
        if key not in made:
            with _CLIENT_CREATION:
                if key not in made:
                    made[key] = original(region=region, service=service, state_credentials=state_credentials)
        return made[key]

    return boto_client_for


# ---- per request ----------------------------------------------------------------------------------------------
# Every AWS call here goes through botocore and moto in this process, a few milliseconds of CPU each; a thousand
# executions make a few hundred thousand. Work that comes out the same on every call is done once, or not at all.

# moto lists a response class's methods with inspect.getmembers on every request, to find the action's method.
_method_names = functools.lru_cache(maxsize=None)(method_names_from_class)

_original_sign = botocore.signers.RequestSigner.sign


def _sign_unless_local(
    self: botocore.signers.RequestSigner, operation_name: Any, request: Any, *args: Any, **kwargs: Any
) -> Any:
    # botocore signs every request (SigV4: canonical request, HMACs) for moto, which answers in-process and does
    # not check signatures (region from the endpoint URL, account from the default credentials, as without the
    # header). Skipped for the standard signature of non-S3 calls; presigned URLs and S3 (whose signer adds
    # content headers moto reads) are signed as before.
    signing_type = kwargs.get("signing_type", args[1] if len(args) > 1 else "standard")
    if signing_type == "standard" and self._service_id.hyphenize() != "s3":
        return None
    return _original_sign(self, operation_name, request, *args, **kwargs)


_original_pick = moto_serialize.AttributePicker.__call__
_candidates: dict[tuple[Any, ...], tuple[frozenset[str], frozenset[str]]] = {}


def _alias_keys(key: str, shape: Any) -> tuple[frozenset[str], frozenset[str]]:
    """For a member `key` of `shape`, looked up in a plain dict: the keys moto's alias providers would try before
    `key` itself (ShapeNameAlias), and every key any of them could try (NoAlias, ShapePrefixAlias, ClassPrefixAlias
    for the class `dict`, ModelAlias), each also in the snake_case form XFormedAttributePicker adds."""
    parent = getattr(shape, "parent", None)
    facts = (
        (key,)
        if shape is None
        else (key, shape.name, shape.type_name, shape.serialization.get("name", key), getattr(parent, "name", None))
    )  # botocore makes new Shape objects on every lookup: the cache is keyed by what the aliases depend on
    if facts not in _candidates:
        before: set[str] = set()
        every = {key, key[len("dict") :]}
        if shape is not None:
            if shape.type_name in ("list", "structure") and shape.name != key:
                before.add(shape.name)
            every.add(shape.serialization.get("name", key))
            if parent is not None:
                every.add(key[len(parent.name) :])
        every |= before
        _candidates[facts] = (
            frozenset(before | {xform_name(k) for k in before if k}),
            frozenset(every | {xform_name(k) for k in every if k}),
        )
    return _candidates[facts]


def _pick(self: moto_serialize.AttributePicker, context: Any) -> Any:
    # moto's serializer looks each response member up under every alias its providers offer, building a provider
    # object per alias, for every member of every shape (ten per DynamoDB attribute value, most absent). For a
    # plain dict the answer is decided by which of those keys it holds: none, None; the member's own name and
    # none tried before it, that value. Anything else (and any response transformer) goes the usual way.
    obj, key = context.obj, context.key
    if type(obj) is not dict or self.response_transformers:
        return _original_pick(self, context)
    before, every = _alias_keys(key, context.shape)
    if key in obj and not any(k in obj for k in before):
        return obj[key]
    if not any(k in obj for k in every):
        return None
    return _original_pick(self, context)


# moto's DynamoDB parses an UpdateExpression twice per request (to check the names it uses, then to apply it);
# both only read the tree (the update works on a deep copy), so each expression is parsed once.
_parse_update_expression = functools.lru_cache(maxsize=4096)(UpdateExpressionParser.make)


# The expressions whose clause counts, paths and keys were checked. moto's ActionCountValidator walks the whole tree
# once per kind of clause, its OverlappingPathsValidator compares every path with every other and its
# UpdateHashRangeKeyValidator walks the tree again, on every UpdateItem (together a third of the local cloud's time
# at scale). They read only the expression, its attribute names and the table's key names, and a parsed expression
# is cached (above): one check per expression, names and keys. A check that fails raises, so is never remembered.
# Held by id, with the expression itself, so an id is not reused meanwhile.
_checked: dict[tuple[Any, ...], Any] = {}
_EXPRESSION_ONLY = (ActionCountValidator, OverlappingPathsValidator, UpdateHashRangeKeyValidator)


def _validate_checking_once(self: UpdateExpressionValidator) -> Any:
    node, expression = self.node_to_validate, vars(self)["_expression"]
    facts = (
        id(expression),
        tuple(sorted((self.expression_attribute_names or {}).items())),
        tuple(self.table.table_key_attrs),
    )
    for processor in self.processors:
        if isinstance(processor, _EXPRESSION_ONLY):
            key = (type(processor), *facts)
            if key not in _checked:
                node = processor.traverse(node)
                _checked[key] = expression
            continue
        node = processor.traverse(node)
    return node


def _remember_expression(original: Any) -> Any:
    def init(self: UpdateExpressionValidator, expression: Any, *args: Any, **kwargs: Any) -> None:
        original(self, expression, *args, **kwargs)
        vars(self)["_expression"] = expression

    return init


def _copied_tree(value: Any, memo: Any = None) -> Any:
    """moto's update-expression validator deep-copies the parsed expression on every UpdateItem (it then replaces
    names and values in its copy); a pickle round trip copies the same tree about three times faster."""
    try:
        return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError):
        return copy.deepcopy(value, memo)


# ---- JSONPath -----------------------------------------------------------------------------------------------
# moto parses every JSONPath of a state (InputPath, Parameters' ".$" values, ResultPath...) each time the state
# runs, and jsonpath_ng builds a new PLY lexer and parser for each parse. A parsed path is not changed by
# finding or updating values, so each path is parsed once.
_parse_extended = functools.lru_cache(maxsize=4096)(json_path.parse)
_parse_plain = functools.lru_cache(maxsize=4096)(result_path.parse)


# moto's update-expression processors walk the parsed expression once each (seven per UpdateItem), and at every
# node rebuild the processor's table of node types and ask ABC isinstance questions: for the history's STATE update
# (fifteen clauses) that was most of a change's cost. The walk here visits the same nodes in the same order and
# calls the same hooks; the types are read once per walk and each class's answers are remembered.
def _traverse(self: DepthFirstTraverser, node: Any) -> Any:
    wanted = self.nodes_to_be_processed()
    pre_processing, process = self.pre_processing_of_child, self.process
    is_node: dict[type, bool] = {}
    is_wanted: dict[type, bool] = {}

    def visit(node: Any, child_id: int) -> Any:
        kind = type(node)
        if kind not in is_node:
            is_node[kind], is_wanted[kind] = issubclass(kind, Node), issubclass(kind, wanted)
        if is_node[kind]:
            parent = node.parent
            if node.children is not None:
                for index, child in enumerate(node.children):
                    pre_processing(node, index)
                    visit(child, index)
            if is_wanted[kind]:
                node = process(node)
                node.parent = parent
                if parent:
                    parent.children[child_id] = node
        return node

    return visit(node, -1)


# moto lexes a ConditionExpression afresh on every conditional request, compiling its token patterns for each token.
# The tokens depend on the expression's text alone (names and values are put in after), so each text is lexed once.
_lexed: dict[str, tuple[Any, ...]] = {}
_original_lex = ConditionExpressionParser._lex_condition_expression


def _lex_once(self: ConditionExpressionParser) -> deque[Any]:
    expression = self.condition_expression or ""
    if expression not in _lexed:
        _lexed[expression] = tuple(_original_lex(self))
    return deque(_lexed[expression])  # the later steps consume it


# ---- execution data -------------------------------------------------------------------------------------------
_JSON_ATOMS = frozenset({str, int, float, bool, type(None)})


def _json_copy(value: Any, memo: Any = None) -> Any:
    """A deep copy of JSON data (dicts, lists, strings, numbers) by a direct walk: several times faster than
    copy.deepcopy, whose memo and dispatch per object cost more than the copying. Anything else is deep-copied."""
    kind = type(value)
    if kind is dict:
        return {key: _json_copy(item) for key, item in value.items()}
    if kind is list:
        return [_json_copy(item) for item in value]
    if kind in _JSON_ATOMS:
        return value
    return copy.deepcopy(value, memo)


class _JsonCopies:
    """Stands in for the `copy` module inside moto's Step Functions interpreter, which deep-copies a state's data
    for every path it reads and every result it keeps (a tenth of the local cloud's time at scale): the data is
    JSON, so _json_copy copies it."""

    deepcopy = staticmethod(_json_copy)
    copy = staticmethod(copy.copy)


_JSON_COPYING_MODULES = (
    states,
    string_expression,
    result_path,
    execute_state,
    state_task_service,
    event_manager,
    environment,
)


# ---- the state machine's program -----------------------------------------------------------------------------
# moto parses the state machine's definition (ANTLR, in Python) for every execution it starts: over 0.1 s of
# CPU for the tracker's, more than all the rest of a short execution. The parsed program is only read while
# executions run (their state lives in each execution's Environment), so executions of one definition share
# one parse. Not for definitions with Parallel or Map states, whose components keep per-run state.
_UNSHARED_STATE_TYPES = frozenset({"Parallel", "Map"})


def _shareable(definition: str) -> bool:
    def state_types(states: dict[str, Any]) -> Iterator[str]:
        for state in states.values():
            yield state.get("Type", "")
            for nested in (state.get("Iterator"), state.get("ItemProcessor"), *state.get("Branches", [])):
                if isinstance(nested, dict):
                    yield from state_types(nested.get("States", {}))

    try:
        return not _UNSHARED_STATE_TYPES.intersection(state_types(json.loads(definition).get("States", {})))
    except (ValueError, AttributeError):
        return False


def _shared_programs() -> Any:
    programs: dict[str, Any] = {}
    lock = threading.Lock()

    def _get_evaluation_entrypoint(self: ExecutionWorker) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        if not _shareable(definition):
            return AmazonStateLanguageParser.parse(definition)[0]
        with lock:
            if definition not in programs:
                programs[definition] = AmazonStateLanguageParser.parse(definition)[0]
            return programs[definition]

    return _get_evaluation_entrypoint


_HEAP_KEYS = threading.Lock()


def _heap_key(self: EvalComponent) -> str:
    # moto draws a component's key in the execution's heap (a Retry's attempt count...) on first use. With a
    # program shared by executions, two threads could draw two keys for one component, each keeping its own
    # until one is overwritten, so the draw happens once, under a lock.
    key = getattr(self, "_EvalComponent__heap_key", None)
    if key is None:
        with _HEAP_KEYS:
            key = getattr(self, "_EvalComponent__heap_key", None)
            if key is None:
                key = long_uid()
                self._EvalComponent__heap_key = key  # type: ignore[attr-defined]
    return str(key)


# ---- running executions -------------------------------------------------------------------------------------
def _reported_start(running: RunningExecutions, clock: Clock) -> Any:
    original = Execution.start

    def start(self: Execution) -> None:
        # moto finds running executions by scanning all it ever ran; report each start instead. On a TurnClock
        # the execution is an actor, queued for its turn here, in the turn of whoever starts it.
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


def _in_turn(clock: TurnClock) -> Any:
    original = ExecutionWorker._execution_logic

    def _execution_logic(self: ExecutionWorker) -> Any:
        # The execution's thread acts in the execution's turns (the threads it starts for each state, too).
        execution = getattr(self._execution_communication, "execution", None)
        actor = getattr(execution, "_turn_actor", None)
        with clock.turn(actor) if actor is not None else contextlib.nullcontext():
            return original(self)

    return _execution_logic


def _reported_end(running: RunningExecutions) -> Any:
    original = BaseExecutionWorkerCommunication.terminated

    def terminated(self: BaseExecutionWorkerCommunication) -> None:
        # ...and each end, once moto has set the final status.
        try:
            original(self)
        finally:
            running.ended(self.execution.exec_arn)

    return terminated


def _rechecked(clock: Clock, method: Any) -> Any:
    recheck = getattr(clock, "recheck", None)

    def answered(self: CallbackEndpoint, *args: Any, **kwargs: Any) -> Any:
        # A task token answered (or the task's wait interrupted) sets an event moto's waiter polls; on the
        # simulated clock that waiter sleeps until told, so tell the clock.
        result = method(self, *args, **kwargs)
        if recheck is not None:
            recheck()
        return result

    return answered


def _token_wait(status_events: StatusEventSource) -> Any:
    def wait(self: CallbackEndpoint, timeout: float | None = None) -> Any:
        return status_events.wait_for_token(self, timeout)

    return wait


# ---- task timeouts ------------------------------------------------------------------------------------------
_TIMEOUT_CHECK_SECONDS = 10.0  # real seconds between looks at the simulated clock while a task runs


class _TaskEnded(threading.Event):
    """moto's ExecutionState waits for its task's thread for the state's TimeoutSeconds of *real* time
    (``terminated_event.wait(timeout_seconds)``). On the simulated clock a task's time is simulated: a
    WaitForTaskToken task ends at its simulated deadline by itself, however long that takes in real time on a
    busy machine; timed out in real seconds, it was abandoned with its thread still waiting on the clock (an
    actor too many), and the execution went on to its Catch. Here the state times out only once simulated time
    is past the deadline."""

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


class _SimulatedTaskTimeouts:
    """Stands in for the `threading` module inside moto's execute_state: its Event is a _TaskEnded."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def Event(self) -> threading.Event:
        return _TaskEnded(self._clock)

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


# ---- DynamoDB transactions ----------------------------------------------------------------------------------
class _TablesNotCopied:
    """Stands in for the `copy` module inside moto's DynamoDB backend, whose transact_write_items deep-copies
    every table a transaction names before it starts (to put the copy back if it fails): the whole table, on
    every transaction, so each costs more as the table grows (thousands of items at scale). A Table comes back
    as is here; _transact_write_items keeps and restores the items the transaction touches instead."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    @staticmethod
    def copy(value: Any) -> Any:
        return copy.copy(value)


_pending_records = threading.local()  # stream records of the transaction running on this thread


def _transaction_keys(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[tuple[Table, Any, Any]]:
    """(table, hash key, range key) of each item a transaction writes or checks, in known tables."""
    keys = []
    for entry in transact_items:
        for op_type, op in entry.items():
            table = backend.tables.get(op.get("TableName", ""))
            if table is None:
                continue
            source = op.get("Item", {}) if op_type == "Put" else op.get("Key", {})
            if table.hash_key_attr not in source:
                continue
            hash_value = DynamoType(source[table.hash_key_attr])
            range_source = source.get(table.range_key_attr) if table.range_key_attr else None
            keys.append((table, hash_value, DynamoType(range_source) if range_source is not None else None))
    return keys


def _transact_write_items(original: Any) -> Any:
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        # A transaction is all or nothing. moto puts whole-table copies back when one fails (see
        # _TablesNotCopied); here each touched item's copy is put back, and so is the stream: the records of a
        # cancelled transaction's writes are dropped (moto had handed them to the stream's reader already).
        saved = []
        for table, hash_value, range_value in _transaction_keys(self, transact_items):
            with contextlib.suppress(Exception):  # a key moto will refuse: the transaction fails on it anyway
                saved.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
        streams = {id(t): (t, len(t.stream_shard.items)) for t, *_ in saved if t.stream_shard is not None}
        pending: list[Callable[[], None]] = []
        _pending_records.records = pending
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(saved):
                _restore(table, hash_value, range_value, item)
            for table, length in streams.values():
                del table.stream_shard.items[length:]  # type: ignore[union-attr]
            pending.clear()
            raise
        finally:
            _pending_records.records = None
            for deliver in pending:
                deliver()

    return transact_write_items


def _restore(table: Table, hash_value: Any, range_value: Any, item: Any) -> None:
    if range_value is not None:
        if item is None:
            table.items.get(hash_value, {}).pop(range_value, None)
        else:
            table.items[hash_value][range_value] = item
    elif item is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = item


def _held_while_in_transaction(streams: StreamPoller) -> Any:
    original = streams.add

    def add(table: str, record: dict[str, Any]) -> None:
        pending = getattr(_pending_records, "records", None)
        if pending is None:
            original(table, record)
        else:
            pending.append(functools.partial(original, table, record))

    return add


@contextlib.contextmanager
def applied(
    clock: Clock, running: RunningExecutions, streams: StreamPoller, status_events: StatusEventSource | None = None
) -> Iterator[None]:
    patches: list[contextlib.AbstractContextManager[Any]] = [
        mock.patch.object(botocore.session.Session, "create_client", _create_client_in_turn),
        mock.patch.object(json_path, "parse", _parse_extended),
        mock.patch.object(moto_responses, "method_names_from_class", _method_names),
        mock.patch.object(botocore.signers.RequestSigner, "sign", _sign_unless_local),
        mock.patch.object(moto_serialize.AttributePicker, "__call__", _pick),
        mock.patch.object(UpdateExpressionParser, "make", staticmethod(_parse_update_expression)),
        mock.patch.object(dynamodb_validators, "deepcopy", _copied_tree),
        mock.patch.object(
            UpdateExpressionValidator, "__init__", _remember_expression(UpdateExpressionValidator.__init__)
        ),
        mock.patch.object(UpdateExpressionValidator, "validate", _validate_checking_once),
        mock.patch.object(ExecutionWorker, "_get_evaluation_entrypoint", _shared_programs()),
        mock.patch.object(EvalComponent, "heap_key", property(_heap_key)),
        mock.patch.object(result_path, "parse", _parse_plain),
        mock.patch.object(Execution, "start", _reported_start(running, clock)),
        mock.patch.object(BaseExecutionWorkerCommunication, "terminated", _reported_end(running)),
        mock.patch.object(CallbackEndpoint, "notify", _rechecked(clock, CallbackEndpoint.notify)),
        mock.patch.object(CallbackEndpoint, "interrupt_all", _rechecked(clock, CallbackEndpoint.interrupt_all)),
        mock.patch.object(dynamodb_models, "copy", _TablesNotCopied),
        mock.patch.object(DepthFirstTraverser, "traverse", _traverse),
        mock.patch.object(ConditionExpressionParser, "_lex_condition_expression", _lex_once),
        *(mock.patch.object(module, "copy", _JsonCopies) for module in _JSON_COPYING_MODULES),
        mock.patch.object(
            DynamoDBBackend, "transact_write_items", _transact_write_items(DynamoDBBackend.transact_write_items)
        ),
        mock.patch.object(streams, "add", _held_while_in_transaction(streams)),
    ]
    task_clients = _reused_task_clients()
    for module in (lambda_eval_utils, state_task_service_aws_sdk, state_task_service_sfn):
        patches.append(mock.patch.object(module, "boto_client_for", task_clients))
    if isinstance(clock, SimClock):
        patches.append(mock.patch.object(execute_state, "threading", _SimulatedTaskTimeouts(clock)))
    if isinstance(clock, TurnClock):
        patches.append(mock.patch.object(ExecutionWorker, "_execution_logic", _in_turn(clock)))
        # Retry's full jitter draws from `random`; with actors taking turns in a fixed order, draws from one
        # seeded generator come out the same on every run.
        patches.append(mock.patch.object(jitter_strategy_decl, "random", random.Random(0)))
    if status_events is not None:
        # Replaces patches._callback_wait (see localcloud/event_source.py): the waits only wait.
        patches.append(mock.patch.object(CallbackEndpoint, "wait", _token_wait(status_events)))
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield
