"""tracker.records: the standard-library records the handlers read and return, checked as their pydantic models were."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pytest

from tracker.records import Record, RecordError, spec


class Inner(Record):
    size: int = spec(default=0, ge=0)


class Outer(Record):
    unknown_fields: ClassVar[str] = "forbid"

    name: str = spec(key="Name", min_length=2, max_length=4)
    share: float = spec(default=0.5, gt=0, le=1)
    items: list[Inner] = spec(default_factory=list, max_length=2)
    tags: dict[str, str] | None = None
    inner: Inner | None = None


class Open(Record):
    kind: str
    rest: dict[str, Any] = spec(default_factory=dict, extras=True)


def _problems(data: Any, model: type[Record] = Outer) -> list[str]:
    with pytest.raises(RecordError) as raised:
        model.from_dict(data)
    return [f"{'.'.join(map(str, p.loc))}: {p.msg}" for p in raised.value.problems]


def test_a_record_is_read_by_json_key_and_written_back_without_nones() -> None:
    record = Outer.from_dict({"Name": "abc", "share": "0.25", "items": [{"size": "3"}], "tags": {"a": "b"}})

    assert record == Outer(name="abc", share=0.25, items=[Inner(size=3)], tags={"a": "b"})
    assert record.to_json() == {"Name": "abc", "share": 0.25, "items": [{"size": 3}], "tags": {"a": "b"}}
    assert Outer.path("$.x", "name") == "$.x.Name"
    assert Outer.json_keys() == {"name": "Name", "share": "share", "items": "items", "tags": "tags", "inner": "inner"}


def test_every_problem_is_listed_in_field_order_with_pydantics_wording() -> None:
    assert _problems({"share": 0, "items": [{"size": -1}, "x"], "tags": {"a": 1}, "inner": 5, "colour": "red"}) == [
        "Name: Field required",
        "share: Input should be greater than 0",
        "items.0.size: Input should be greater than or equal to 0",
        "items.1: Input should be a valid dictionary or instance of Inner",
        "tags.a: Input should be a valid string",
        "inner: Input should be a valid dictionary or instance of Inner",
        "colour: Extra inputs are not permitted",
    ]
    assert _problems({"Name": "a", "items": [{}, {}, {}]}) == [
        "Name: String should have at least 2 characters",
        "items: List should have at most 2 items after validation, not 3",
    ]
    assert _problems([], Inner) == [": Input should be a valid dictionary or instance of Inner"]


@pytest.mark.parametrize(("given", "size"), [("7", 7), (" 7 ", 7), ("5_000", 5000), ("7.00", 7), (7.0, 7), (True, 1)])
def test_integers_are_read_as_pydantic_reads_them(given: Any, size: int) -> None:
    assert Inner.from_dict({"size": given}).size == size


@pytest.mark.parametrize("given", ["7.", "1e3", "7.5", 7.5, "seven", None, [7]])
def test_what_pydantic_refuses_as_an_integer_is_refused(given: Any) -> None:
    assert _problems({"size": given}, Inner)[0].startswith("size: Input should be a valid integer")


def test_a_name_given_with_its_key_is_an_unknown_field() -> None:
    assert Outer.from_dict({"name": "abc"}).name == "abc"
    assert _problems({"Name": "abc", "name": "abcd"}) == ["name: Extra inputs are not permitted"]


def test_unknown_fields_go_to_the_extras_field_when_there_is_one() -> None:
    assert Open.from_dict({"kind": "x", "id": "1", "rest": 2}).rest == {"id": "1", "rest": 2}
    assert Open.from_dict({"kind": "x", "id": "1"}).to_json() == {"kind": "x", "id": "1"}


def test_a_record_built_in_code_keeps_its_constraints_and_is_frozen() -> None:
    with pytest.raises(RecordError, match="share: Input should be less than or equal to 1"):
        Outer(name="abc", share=2)
    with pytest.raises(TypeError, match="missing keyword argument: 'name'"):
        Outer()  # type: ignore[call-arg]

    record = Outer(name="abc")
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.name = "xyz"  # type: ignore[misc]
    assert hash(Inner(size=1)) == hash(Inner(size=1))
    assert repr(Inner(size=1)) == "Inner(size=1)"


def test_records_of_a_module_imported_again_still_read_their_own_types() -> None:
    # Given the inputs module imported, then imported afresh (what a Lambda cold start in the local cloud does
    # to the `tracker` package within one process)
    import importlib
    import sys

    from tracker import inputs as first

    saved = {name: module for name, module in sys.modules.items() if name == "tracker" or name.startswith("tracker.")}
    try:
        for name in saved:
            del sys.modules[name]
        importlib.import_module("tracker.inputs")

        # When the first copy reads an input with a nested record (its sources)
        request = first.parse_request(
            {"jobType": "REFERENCE_IMPORT", "sources": [{"sourceFile": "s3://genomes/references/hg38.fa"}]}
        )
    finally:
        sys.modules.update(saved)

    # Then its own classes read it
    assert isinstance(request, first.StartReferenceImport)
    assert [type(source) for source in request.sources] == [first.ReferenceSource]
