"""The benchmark's arithmetic: peaks in a sliding second, percentiles, capacity units and their price."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from bench.figures import Mark, cost_usd, dynamodb_use, latency_summary, peak_calls_per_second
from bench.pricing import PRICES
from localcloud.fixes import DynamoDbRequest

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_peak_counts_calls_in_any_one_second_not_in_calendar_seconds() -> None:
    # Two calls at the end of one calendar second and one at the start of the next are 3 in one second
    calls = [("GetVariantImportJob", _at(s)) for s in (0.6, 0.9, 1.2, 2.5)] + [("GetReadSetExportJob", _at(0))]

    assert peak_calls_per_second(calls) == {"GetVariantImportJob": 3, "GetReadSetExportJob": 1}


def test_calls_exactly_one_second_apart_are_in_different_seconds() -> None:
    calls = [("GetVariantImportJob", _at(s)) for s in (0, 1, 2, 3)]

    assert peak_calls_per_second(calls) == {"GetVariantImportJob": 1}


def test_latency_percentiles_are_nearest_rank() -> None:
    summary = latency_summary([float(n) for n in range(1, 101)])

    assert summary == {"p50": 50.0, "p99": 99.0, "max": 100.0, "mean": 50.5}
    assert latency_summary([]) == {"p50": None, "p99": None, "max": None, "mean": None}


def _request(action: str, params: dict[str, Any], response_bytes: int = 100, succeeded: bool = True) -> DynamoDbRequest:
    return DynamoDbRequest(T0, action, succeeded, params, response_bytes)


def test_write_units_count_transactions_twice_and_failed_conditions_too() -> None:
    entry = {"pk": {"S": "JOB#VARIANT_IMPORT#1"}, "sk": {"S": "EVENT#0001"}, "status": {"S": "COMPLETED"}}
    state_key = {"pk": {"S": "JOB#VARIANT_IMPORT#1"}, "sk": {"S": "STATE"}}
    budget_key = {"pk": {"S": "BUDGET#GetVariantImportJob"}, "sk": {"S": "RATE"}}
    requests = [
        _request("TransactWriteItems", {"TransactItems": [{"Put": {"Item": entry}}, {"Update": {"Key": state_key}}]}),
        _request("UpdateItem", {"Key": budget_key}, succeeded=False),  # a failed condition is still a write
        _request("UpdateItem", {"Key": budget_key}),
        _request("UpdateItem", {"Key": state_key}),
        _request("GetItem", {"Key": state_key, "ConsistentRead": True}, response_bytes=5000),
        _request("Query", {"KeyConditionExpression": "pk = :pk"}, response_bytes=100),
    ]
    cloud = SimpleNamespace(dynamodb_requests=requests)

    use = dynamodb_use(cloud, Mark(0, 0, 0, 0))  # type: ignore[arg-type]

    assert use["write_requests"] == 4
    assert use["write_requests_by_purpose"] == {"call budget": 2, "history entry": 1, "job state": 1}
    assert use["write_units"] == 2 * 2 + 1 + 1 + 1
    # 5,000 bytes read consistently: 2 units of 4 KB; an eventually consistent query: half a unit
    assert (use["read_requests"], use["read_units"]) == (2, 2.5)


def test_cost_prices_every_counted_unit() -> None:
    lambdas = {"invocations": 1_000_000, "gb_seconds_arm64": 1_000.0, "gb_seconds_x86_64": 0.0}
    dynamodb = {"write_units": 1_000_000, "read_units": 1_000_000}

    cost = cost_usd(1_000, lambdas, dynamodb, custom_events=1_000_000)

    expected = (
        1_000 * PRICES["sfn_transition"].usd
        + 1_000_000 * PRICES["lambda_request"].usd
        + 1_000 * PRICES["lambda_gb_second_arm"].usd
        + 1_000_000 * (PRICES["dynamodb_write_unit"].usd + PRICES["dynamodb_read_unit"].usd)
        + 1_000_000 * PRICES["eventbridge_custom_event"].usd
    )
    assert cost == pytest.approx(expected)
    # and the list prices themselves, per unit (us-east-1, as checked)
    assert (PRICES["sfn_transition"].usd, PRICES["dynamodb_write_unit"].usd) == (0.000025, 0.000000625)
