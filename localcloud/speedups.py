"""The replacements that make moto 5.2.5 answer the same, faster, for a thousand executions at once. Listed, with
what each saves, in localcloud/debts.py (SPEED_UPS), and applied through it while a LocalCloud runs. A factory
takes the running cloud and the attribute it replaces and returns the replacement; debts.py uses the rest as is."""

from __future__ import annotations

import contextlib
import copy
import functools
import pickle
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from botocore import xform_name
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]
from moto.dynamodb.parsing.validators import (
    ActionCountValidator,
    OverlappingPathsValidator,
    UpdateExpressionValidator,
    UpdateHashRangeKeyValidator,
)
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.utils import long_uid

from localcloud.fixes import CLIENT_CREATION

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


def cached(cloud: LocalCloud, original: Any) -> Any:
    """A parse whose result is only read, made once per text (JSONPaths, update expressions)."""
    return functools.lru_cache(maxsize=4096)(original)


def cached_static(cloud: LocalCloud, original: Any) -> Any:
    return staticmethod(cached(cloud, original))


# ---- DynamoDB update and condition expressions --------------------------------------------------------------
# The expressions whose clause counts, paths and keys were checked. moto's ActionCountValidator walks the whole tree
# once per kind of clause, its OverlappingPathsValidator compares every path with every other and its
# UpdateHashRangeKeyValidator walks the tree again, on every UpdateItem. They read only the expression, its
# attribute names and the table's key names, and a parsed expression is cached: one check per expression, names and
# keys. A check that fails raises, so is never remembered. Held by id, with the expression, so no id is reused.
_checked: dict[tuple[Any, ...], Any] = {}
_EXPRESSION_ONLY = (ActionCountValidator, OverlappingPathsValidator, UpdateHashRangeKeyValidator)


def validate_once(self: UpdateExpressionValidator) -> Any:
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


def remember_expression(cloud: LocalCloud, original: Any) -> Any:
    def init(self: UpdateExpressionValidator, expression: Any, *args: Any, **kwargs: Any) -> None:
        original(self, expression, *args, **kwargs)
        vars(self)["_expression"] = expression

    return init


def copied_tree(value: Any, memo: Any = None) -> Any:
    """moto's update-expression validator deep-copies the parsed expression on every UpdateItem (it then replaces
    names and values in its copy); a pickle round trip copies the same tree about three times faster."""
    try:
        return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError):
        return copy.deepcopy(value, memo)


def traverse(self: DepthFirstTraverser, node: Any) -> Any:
    """moto's update-expression processors walk the parsed expression once each (seven per UpdateItem), and at every
    node rebuild the processor's table of node types and ask ABC isinstance questions. This walk visits the same
    nodes in the same order and calls the same hooks; the types are read once per walk, each class's answer kept."""
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


def lexed_once(cloud: LocalCloud, original: Any) -> Any:
    """moto lexes a ConditionExpression afresh on every conditional request. The tokens depend on the text alone
    (names and values are put in after), so each text is lexed once."""
    lexed: dict[str, tuple[Any, ...]] = {}

    def lex(self: ConditionExpressionParser) -> Any:
        expression = self.condition_expression or ""
        if expression not in lexed:
            lexed[expression] = tuple(original(self))
        return deque(lexed[expression])  # the later steps consume it

    return lex


# ---- Step Functions ----------------------------------------------------------------------------------------------
def shared_programs(cloud: LocalCloud, original: Any) -> Any:
    """moto parses the state machine's definition (ANTLR, in Python) for every execution it starts: over 0.1 s of CPU
    for the tracker's. The parsed program is only read while executions run (their state lives in each execution's
    Environment), so executions of one definition share one parse; not with Parallel or Map states, whose
    components keep per-run state."""
    programs: dict[str, Any] = {}
    lock = threading.Lock()

    def _get_evaluation_entrypoint(self: ExecutionWorker) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        if any(f'"Type":"{kind}"' in definition.replace(" ", "") for kind in ("Parallel", "Map")):
            return AmazonStateLanguageParser.parse(definition)[0]
        with lock:
            if definition not in programs:
                programs[definition] = AmazonStateLanguageParser.parse(definition)[0]
            return programs[definition]

    return _get_evaluation_entrypoint


_HEAP_KEYS = threading.Lock()


def heap_key(self: EvalComponent) -> str:
    # moto draws a component's key in the execution's heap (a Retry's attempt count...) on first use. With a
    # program shared by executions, two threads could draw two keys for one component, so the draw happens once.
    key = getattr(self, "_EvalComponent__heap_key", None)
    if key is None:
        with _HEAP_KEYS:
            key = getattr(self, "_EvalComponent__heap_key", None)
            if key is None:
                key = long_uid()
                self._EvalComponent__heap_key = key  # type: ignore[attr-defined]
    return str(key)


@functools.lru_cache(maxsize=1)  # the three modules' replacements, one cache
def reused_task_clients(cloud: LocalCloud, original: Any) -> Any:
    """moto's Step Functions creates a new boto3 client for every task it runs, which costs more CPU than the call;
    its arguments are the same every time, so one client per service and Region serves every task (the credentials
    argument is unused by moto: the local cloud checks IAM per thread)."""
    made: dict[tuple[str, str], Any] = {}

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service)
        if key not in made:
            with CLIENT_CREATION:
                if key not in made:
                    made[key] = original(region=region, service=service, state_credentials=state_credentials)
        return made[key]

    return boto_client_for


# ---- moto's response serializer -----------------------------------------------------------------------------
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


def member_lookup(cloud: LocalCloud, original: Any) -> Any:
    """moto's serializer looks each response member up under every alias its providers offer, building a provider
    object per alias, for every member of every shape (ten per DynamoDB attribute value, most absent). For a plain
    dict the answer is decided by which of those keys it holds: none, None; the member's own name and none tried
    before it, that value. Anything else (and any response transformer) goes the usual way."""

    def pick(self: Any, context: Any) -> Any:
        obj, key = context.obj, context.key
        if type(obj) is not dict or self.response_transformers:
            return original(self, context)
        before, every = _alias_keys(key, context.shape)
        if key in obj and not any(k in obj for k in before):
            return obj[key]
        if not any(k in obj for k in every):
            return None
        return original(self, context)

    return pick


# ---- DynamoDB transactions ----------------------------------------------------------------------------------
class TablesNotCopied:
    """Stands in for the `copy` module inside moto's DynamoDB backend, whose transact_write_items deep-copies every
    table a transaction names before it starts (to put the copy back if it fails): the whole table, on every
    transaction, so each costs more as the table grows. A Table comes back as is here; transaction_undo keeps and
    restores the items the transaction touches instead."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    copy = staticmethod(copy.copy)


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


def transaction_undo(cloud: LocalCloud, original: Any) -> Any:
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        # A transaction is all or nothing: if it fails, each touched item's copy is put back, and so is the stream.
        saved = []
        for table, hash_value, range_value in _transaction_keys(self, transact_items):
            with contextlib.suppress(Exception):  # a key moto will refuse: the transaction fails on it anyway
                saved.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
        streams = {id(t): (t, len(t.stream_shard.items)) for t, *_ in saved if t.stream_shard is not None}
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(saved):
                _restore(table, hash_value, range_value, item)
            for table, length in streams.values():
                del table.stream_shard.items[length:]  # type: ignore[union-attr]
            raise

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
