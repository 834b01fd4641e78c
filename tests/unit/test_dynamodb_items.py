"""The one DynamoDB item codec: Python values in, plain Python values (no Decimal) out."""

from __future__ import annotations

from decimal import Decimal

from tracker.dynamodb_items import from_item, to_item


def test_numbers_come_back_as_int_when_whole_and_float_otherwise_at_any_depth() -> None:
    item = to_item({"version": 3, "rate": Decimal("0.5"), "nested": {"counts": [1, Decimal("2.25")]}})

    plain = from_item(item)

    assert plain == {"version": 3, "rate": 0.5, "nested": {"counts": [1, 2.25]}}
    # (Decimal compares equal to both: the types are what callers see.)
    assert [type(n) for n in (plain["version"], plain["rate"], *plain["nested"]["counts"])] == [int, float, int, float]


def test_a_none_value_is_no_attribute_and_a_string_set_stays_a_set() -> None:
    item = to_item({"statusMessage": None, "executionArns": {"arn:b", "arn:a"}, "items": {}})

    assert set(item) == {"executionArns", "items"}
    assert from_item(item) == {"executionArns": {"arn:a", "arn:b"}, "items": {}}
