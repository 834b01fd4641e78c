"""Typed records read from JSON-like dicts: frozen, keyword-only classes whose fields are checked one by one.

Standard library only, instead of pydantic: importing pydantic and building its models cost each cold start
more than half of what `import boto3` costs. Nor are the records dataclasses: building a dataclass compiles
its methods, about 1 ms a class at import; a record's class only lists its fields (type checkers see a
dataclass, through `dataclass_transform`).

`spec()` gives a field its JSON key and its constraints. `from_dict` checks every field at once and raises
a RecordError listing each problem by location, worded as pydantic words them ("Field required", "Input
should be a valid string"), so the messages callers build from them stayed the same.

Field types: str, int, float, bool, datetime, Any, X | None, list[X], dict[str, X] and records.
"""

from __future__ import annotations

import inspect
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import MISSING, FrozenInstanceError
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:
    from typing import dataclass_transform

Location = tuple[str | int, ...]


class Problem:
    __slots__ = ("kind", "loc", "msg")

    def __init__(self, loc: Location, msg: str, kind: str = "value_error") -> None:
        self.loc, self.msg, self.kind = loc, msg, kind  # kind "extra_forbidden": an unknown field

    def __repr__(self) -> str:
        return f"Problem({self.loc!r}, {self.msg!r}, {self.kind!r})"


class RecordError(ValueError):
    """Every problem of an input, in field order (unknown fields last)."""

    def __init__(self, title: str, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"invalid {title}: " + "; ".join(f"{'.'.join(map(str, p.loc))}: {p.msg}" for p in problems))


class Spec:
    """A field: its default, its JSON key and its constraints (see `spec`)."""

    __slots__ = (
        "check",
        "default",
        "default_factory",
        "extras",
        "ge",
        "gt",
        "hint",
        "key",
        "le",
        "max_length",
        "min_length",
        "name",
        "pattern",
    )

    def __init__(
        self,
        default: Any = MISSING,
        default_factory: Any = MISSING,
        key: str | None = None,
        ge: float | None = None,
        gt: float | None = None,
        le: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        check: Callable[[Any], str | None] | None = None,
        extras: bool = False,
    ) -> None:
        self.default, self.default_factory, self.check, self.extras = default, default_factory, check, extras
        self.ge, self.gt, self.le, self.min_length, self.max_length = ge, gt, le, min_length, max_length
        self.pattern, self.name, self.key, self.hint = pattern, "", key or "", None


def spec(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | Any = MISSING,
    key: str | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
    check: Callable[[Any], str | None] | None = None,
    extras: bool = False,
) -> Any:
    """A field with a JSON key other than its name, or constraints. `check`: why a value of the right type is
    wrong, or None. `extras`: this dict field gets the input's unknown fields (then allowed), and nothing else."""
    return Spec(default, default_factory, key, ge, gt, le, min_length, max_length, pattern, check, extras)


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(spec,))
class Record:
    """Base of the records. Subclasses annotate their fields; defaults and `spec()` as with dataclasses."""

    # What an input's unknown fields do: "ignore" them, or "forbid" them (a Problem each).
    unknown_fields: ClassVar[str] = "ignore"
    _fields: ClassVar[dict[str, Spec]] = {}
    _resolved: ClassVar[bool] = False
    _namespace: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = dict(cls._fields)  # a redefined field keeps its place, as in a dataclass
        for name, annotation in inspect.get_annotations(cls).items():
            if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
                continue
            value = cls.__dict__.get(name, MISSING)
            field = value if isinstance(value, Spec) else Spec(value)
            field.name, field.key = name, field.key or name
            if field.default is MISSING:
                if name in cls.__dict__:
                    delattr(cls, name)
            else:
                setattr(cls, name, field.default)
            fields[name] = field
        cls._fields, cls._resolved = fields, False
        # The defining module's names, kept now: annotations are read later, and looking the module up then
        # would find a re-imported copy (the local cloud re-imports `tracker` on a cold start), whose classes
        # are not these.
        cls._namespace = vars(sys.modules[cls.__module__])

    def __init__(self, **values: Any) -> None:
        for name, field in self._fields.items():
            if name in values:
                value = values.pop(name)
            elif field.default is not MISSING:
                value = field.default
            elif field.default_factory is not MISSING:
                value = field.default_factory()
            else:
                raise TypeError(f"{type(self).__name__}() missing keyword argument: {name!r}")
            object.__setattr__(self, name, value)
        if values:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments: {', '.join(values)}")
        # A record built in code keeps its constraints too, as a validated model did.
        problems = []
        for field in self._fields.values():
            value = getattr(self, field.name)
            message = None if value is None else next(_constraint_messages(value, field), None)
            if message:
                problems.append(Problem((field.key,), message))
        problem = None if problems else self.problem()
        if problem:
            problems.append(Problem((), f"Value error, {problem}"))
        if problems:
            raise RecordError(type(self).__name__, problems)

    def problem(self) -> str | None:
        """A check across fields, once each field is right: why the record is wrong, or None."""
        return None

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == typing.cast(Record, other)._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{name}={getattr(self, name)!r}' for name in self._fields)})"

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            message = f"Input should be a valid dictionary or instance of {cls.__name__}"
            raise RecordError(cls.__name__, [Problem((), message, "model_type")])
        values, problems = cls._read(data)
        if problems:
            raise RecordError(cls.__name__, problems)
        return cls(**values)

    @classmethod
    def _resolve(cls) -> None:
        """The fields' types, once a class is first read: each class's annotations in its own module."""
        for klass in reversed(cls.__mro__):
            if not (isinstance(klass, type) and issubclass(klass, Record)) or klass is Record:
                continue
            annotations = {n: a for n, a in inspect.get_annotations(klass).items() if n in cls._fields}
            holder = types.SimpleNamespace(__annotations__=annotations)
            for name, hint in typing.get_type_hints(holder, globalns=klass._namespace).items():
                cls._fields[name].hint = hint
        cls._resolved = True

    @classmethod
    def _read(cls, data: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
        if not cls._resolved:
            cls._resolve()
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        fields = [field for field in cls._fields.values() if not field.extras]
        extras = [field.name for field in cls._fields.values() if field.extras]
        used = set()  # a field's key, else its name; a name given with the key is unknown, as in pydantic
        for field in fields:
            key = field.key if field.key in data else field.name
            if key not in data:
                if field.default is MISSING and field.default_factory is MISSING:
                    problems.append(Problem((field.key,), "Field required", "missing"))
                continue
            used.add(key)
            value = _convert(data[key], field.hint, field, (key,))
            if isinstance(value, _Failed):
                problems.extend(value)
            else:
                values[field.name] = value
        unknown = {key: value for key, value in data.items() if key not in used}
        if extras:
            values[extras[0]] = unknown
        elif cls.unknown_fields == "forbid":
            problems.extend(Problem((key,), "Extra inputs are not permitted", "extra_forbidden") for key in unknown)
        return values, problems

    def to_json(self) -> dict[str, Any]:
        """By JSON key, without the fields that are None (a record's own dicts are kept as they are)."""
        output: dict[str, Any] = {}
        for field in self._fields.values():
            value = getattr(self, field.name)
            if field.extras:
                output.update(value)
            elif value is not None:
                output[field.key] = _json(value)
        return output

    @classmethod
    def json_keys(cls) -> dict[str, str]:
        """Each field's JSON key by its Python name."""
        return {name: field.key for name, field in cls._fields.items() if not field.extras}

    @classmethod
    def path(cls, root: str, field: str) -> str:
        """The JSONPath of `field` (its Python name) under `root`, e.g. ``$.poll.waitSeconds``."""
        return f"{root}.{cls.json_keys()[field]}"  # KeyError: the definition reads a field the handler does not return


def _json(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_json()
    return [_json(item) for item in value] if isinstance(value, list) else value


# ---- one value ------------------------------------------------------------------------------------


class _Failed(list[Problem]):
    """What a value converts to when it has problems."""


def _failed(loc: Location, message: str, kind: str = "type_error") -> _Failed:
    return _Failed([Problem(loc, message, kind)])


def _convert(value: Any, hint: Any, field: Spec | None, loc: Location) -> Any:
    """The value as its type takes it, or _Failed with its problems."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if type(None) in args:  # X | None
        if value is None:
            return None
        (hint,) = [arg for arg in args if arg is not type(None)]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and issubclass(hint, Record):
        try:
            return hint.from_dict(value)
        except RecordError as error:
            return _Failed(Problem(loc + problem.loc, problem.msg, problem.kind) for problem in error.problems)
    if origin is list:
        converted = _list(value, args[0], field, loc)
    elif origin is dict or hint is dict:
        converted = _dict(value, args[1] if args else Any, loc)
    elif hint is Any:
        converted = value
    else:
        converted = _SCALARS[hint](value)
        if isinstance(converted, _Invalid):
            return _failed(loc, str(converted))
    if isinstance(converted, _Failed) or field is None:
        return converted
    message = next(_constraint_messages(converted, field), None)
    return _failed(loc, message, "value_error") if message else converted


def _list(value: Any, item_hint: Any, field: Spec | None, loc: Location) -> Any:
    if not isinstance(value, list | tuple):
        return _failed(loc, "Input should be a valid list")
    if field and field.max_length is not None and len(value) > field.max_length:
        return _failed(loc, _too_many(field.max_length, len(value)), "too_long")
    items, problems = [], _Failed()
    for index, item in enumerate(value):
        converted = _convert(item, item_hint, None, (*loc, index))
        if isinstance(converted, _Failed):
            problems.extend(converted)
        else:
            items.append(converted)
    return problems or items


def _dict(value: Any, value_hint: Any, loc: Location) -> Any:
    if not isinstance(value, dict):
        return _failed(loc, "Input should be a valid dictionary")
    result, problems = {}, _Failed()
    for key, item in value.items():
        converted = _convert(item, value_hint, None, (*loc, key))
        if isinstance(converted, _Failed):
            problems.extend(converted)
        else:
            result[key] = converted
    return problems or result


def _constraint_messages(value: Any, field: Spec) -> Iterator[str]:
    """Why a value of the right type is wrong, first reason first (pydantic reports one per field)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if field.le is not None and not value <= field.le:  # pydantic's order, which shows for NaN
            yield f"Input should be less than or equal to {field.le}"
        if field.ge is not None and not value >= field.ge:
            yield f"Input should be greater than or equal to {field.ge}"
        if field.gt is not None and not value > field.gt:
            yield f"Input should be greater than {field.gt}"
    if isinstance(value, str | list):
        noun = "String" if isinstance(value, str) else "List"
        unit, after = ("character", "") if isinstance(value, str) else ("item", f" after validation, not {len(value)}")
        if field.min_length is not None and len(value) < field.min_length:
            yield f"{noun} should have at least {_count(field.min_length, unit)}{after}"
        if field.max_length is not None and len(value) > field.max_length:
            yield f"{noun} should have at most {_count(field.max_length, unit)}{after}"
    if isinstance(value, str) and field.pattern is not None and not _regex(field.pattern).search(value):
        yield f"String should match pattern '{field.pattern}'"
    message = field.check(value) if field.check is not None else None
    if message:
        yield f"Value error, {message}"


def _regex(pattern: str) -> re.Pattern[str]:
    # A final '$' ends the text, as in pydantic's (Rust) regex; Python's would also match before a last newline.
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern)


def _too_many(maximum: int, given: int) -> str:
    return f"List should have at most {_count(maximum, 'item')} after validation, not {given}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


# ---- scalars, converted as pydantic's lax mode converts them ------------------------------------------------


class _Invalid(str):
    """Why a scalar is not of its type."""


def _str(value: Any) -> Any:
    return value if isinstance(value, str) else _Invalid("Input should be a valid string")


_INTEGER = re.compile(r"\s*([+-]?\d+(?:_\d+)*)(?:\.0+)?\s*", re.ASCII)  # "5", "5_000", "5.0"; not "5." nor "1e3"


def _int(value: Any) -> Any:
    if isinstance(value, str):
        digits = _INTEGER.fullmatch(value)
        if digits:
            return int(digits.group(1))
        return _Invalid("Input should be a valid integer, unable to parse string as an integer")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        return _Invalid("Input should be a valid integer, got a number with a fractional part")
    return _Invalid("Input should be a valid integer")


def _float(value: Any) -> Any:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            if value.isascii():
                return float(value)
        except ValueError:
            pass
        return _Invalid("Input should be a valid number, unable to parse string as a number")
    return _Invalid("Input should be a valid number")


_BOOLS = {"1": True, "on": True, "t": True, "true": True, "y": True, "yes": True}
_BOOLS.update({"0": False, "off": False, "f": False, "false": False, "n": False, "no": False})


def _bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _BOOLS:
        return _BOOLS[value.lower()]
    if isinstance(value, int | str):
        return _Invalid("Input should be a valid boolean, unable to interpret input")
    return _Invalid("Input should be a valid boolean")


def _datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    number = _float(value) if isinstance(value, str) else value  # a number is a Unix time (beyond 2e10: in ms)
    if isinstance(value, str) and isinstance(number, _Invalid):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return _Invalid("Input should be a valid datetime or date")
    try:
        if isinstance(number, int | float) and not isinstance(number, bool):
            return datetime.fromtimestamp(number / 1000 if abs(number) > 2e10 else number, UTC)
    except (OverflowError, OSError, ValueError):
        pass
    return _Invalid("Input should be a valid datetime")


_SCALARS: dict[Any, Callable[[Any], Any]] = {str: _str, int: _int, float: _float, bool: _bool, datetime: _datetime}
