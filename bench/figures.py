"""What the benchmark measures on a local cloud after a run, and what it would cost in AWS (bench/pricing.py).

Everything is counted from what the local cloud saw: the executions' histories, the HealthOmics simulator's calls,
the Lambda runtime's invocations and every DynamoDB request. Only what happened after `Mark` was taken counts (the
deployment's own calls do not).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bench.pricing import PRICES, WRU_PER_TRANSACTIONAL_WRITE, WRU_PER_WRITE
from localcloud.cloud import LocalCloud
from localcloud.deploy import Deployment
from localcloud.omics import Job

WRITE_ACTIONS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
READ_ACTIONS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
_KB, _READ_UNIT_BYTES = 1024, 4096


@dataclass(frozen=True)
class Mark:
    """Where the run began in each of the local cloud's records."""

    dynamodb: int
    lambdas: int
    omics: int
    throttled: int
    metrics: int = 0

    @classmethod
    def now(cls, cloud: LocalCloud) -> Mark:
        return cls(
            len(cloud.dynamodb_requests),
            len(cloud.lambdas.durations),
            len(cloud.omics.calls),
            len(cloud.omics.throttled),
            len(cloud.metrics),
        )


def limits() -> dict[str, float]:
    """HealthOmics' documented per-account limits (the tracker's contract, imported once the cloud set it up)."""
    from tracker.contract import OMICS_RATE_LIMITS

    return OMICS_RATE_LIMITS


def transitions(cloud: LocalCloud, execution_arns: Iterable[str]) -> int:
    """Billed state transitions: every state entered, and every retry of a task (Step Functions bills both)."""
    total = 0
    for arn in execution_arns:
        scheduled_in_state = 0
        for kind in cloud.event_types(arn):
            if kind.endswith("StateEntered"):
                total += 1
                scheduled_in_state = 0
            elif kind.endswith("Scheduled"):
                total += 1 if scheduled_in_state else 0  # a second scheduling in one state is a retry
                scheduled_in_state += 1
    return total


def job_event_results(cloud: LocalCloud, mark: Mark) -> dict[str, int]:
    """The JobEvents function's outcomes by result (its metrics JobEventsRecorded, ...Unchanged, ...Untracked,
    ...Ignored): an untracked event of a followed job is a dropped one."""
    results: Counter[str] = Counter()
    for record in cloud.metrics[mark.metrics :]:
        for name, value in record.items():
            if name.startswith("JobEvents") and name != "JobEvents":
                count = sum(value) if isinstance(value, list) else value
                results[name.removeprefix("JobEvents").lower()] += int(count)
    return dict(sorted(results.items()))


def states_entered(cloud: LocalCloud, execution_arns: Iterable[str]) -> dict[str, int]:
    """How often each state was entered, over the executions: what each path costs, and what is idle."""
    entered: Counter[str] = Counter()
    for arn in execution_arns:
        entered.update(cloud.states_entered_in_place(arn))
    return dict(entered.most_common())


def peak_calls_per_second(calls: list[tuple[str, datetime]]) -> dict[str, int]:
    """Each operation's most calls within any one second (a sliding window, not calendar seconds)."""
    moments: dict[str, list[datetime]] = defaultdict(list)
    for operation, moment in calls:
        moments[operation].append(moment)
    peaks = {}
    for operation, series in moments.items():
        series.sort()
        first, peak = 0, 0
        for last, moment in enumerate(series):
            while moment - series[first] >= timedelta(seconds=1):
                first += 1
            peak = max(peak, last - first + 1)
        peaks[operation] = peak
    return peaks


def _keys_written(request: Any) -> list[tuple[str, int, bool]]:
    """(partition key, write units, transactional) of each item a write request writes."""
    params = request.params

    def pk(item: dict[str, Any]) -> str:
        return str(next(iter(item.get("pk", {}).values()), ""))

    def units(item: dict[str, Any] | None) -> int:  # an item's size, about: its request JSON
        return max(1, math.ceil(len(repr(item)) / _KB)) if item else 1

    if request.action == "PutItem":
        return [(pk(params["Item"]), units(params["Item"]), False)]
    if request.action in ("UpdateItem", "DeleteItem"):
        return [(pk(params["Key"]), 1, False)]
    if request.action == "TransactWriteItems":
        written = []
        for entry in params["TransactItems"]:
            (kind, body), *_ = entry.items()
            item = body.get("Item") if kind == "Put" else body.get("Key")
            written.append((pk(item or {}), units(body.get("Item")), True))
        return written
    return [
        (pk(w.get("PutRequest", {}).get("Item") or w.get("DeleteRequest", {}).get("Key") or {}), 1, False)
        for writes in params.get("RequestItems", {}).values()
        for w in writes
    ]


def _purpose(pk: str) -> str:
    return {"JOB": "job state", "BUDGET": "call budget", "STORE": "store queue"}.get(pk.split("#", 1)[0], "other")


def _transaction_puts(request: Any, prefix: str) -> bool:
    """A transaction that puts an item whose sort key starts with `prefix` (EVENT#: a history entry with its STATE,
    history_table.write; STALLED#: a stall report with its STATE, history_table.report_stall)."""
    return request.action == "TransactWriteItems" and any(
        str(entry.get("Put", {}).get("Item", {}).get("sk", {}).get("S", "")).startswith(prefix)
        for entry in request.params["TransactItems"]
    )


def _stall_mark(request: Any) -> bool:
    """The Notify function marking a stall's event or message published (history_table.mark_published)."""
    values = request.params.get("ExpressionAttributeValues", {}) if request.action == "UpdateItem" else {}
    return any(str(mark).startswith("stalled-") for mark in values.get(":mark", {}).get("SS", []))


def stall_detection(cloud: LocalCloud, mark: Mark) -> dict[str, Any]:
    """What stalled jobs cost in writes: each report (a transaction, from the poll that found it) and the Notify
    function's marks of what it published. The check itself runs inside PollJob, on what the poll read."""
    requests = cloud.dynamodb_requests[mark.dynamodb :]
    reports = [r for r in requests if _transaction_puts(r, "STALLED#")]
    marks = [r for r in requests if _stall_mark(r)]
    units = sum(size * WRU_PER_TRANSACTIONAL_WRITE for r in reports for _, size, _ in _keys_written(r)) + len(marks)
    return {
        "stalls_reported": sum(1 for r in reports if r.succeeded),
        "write_requests": len(reports) + len(marks),
        "write_units": units,
        "cost_usd": round(units * PRICES["dynamodb_write_unit"].usd, 6),
    }


def dynamodb_use(cloud: LocalCloud, mark: Mark) -> dict[str, Any]:
    """Requests and capacity units: transactional items cost two write units, failed conditions cost theirs
    too; a read costs a unit per 4 KB read (half when eventually consistent)."""
    writes_by: Counter[str] = Counter()
    write_units, read_units, write_requests, read_requests = 0, 0.0, 0, 0
    for request in cloud.dynamodb_requests[mark.dynamodb :]:
        if request.action in WRITE_ACTIONS:
            write_requests += 1
            written = _keys_written(request)
            if _transaction_puts(request, "EVENT#"):
                purpose = "history entry"
            elif _transaction_puts(request, "STALLED#"):
                purpose = "stall report"
            else:
                purpose = _purpose(written[0][0]) if written else "other"
            writes_by[purpose] += 1
            write_units += sum(
                size * (WRU_PER_TRANSACTIONAL_WRITE if transactional else WRU_PER_WRITE)
                for _, size, transactional in written
            )
        elif request.action in READ_ACTIONS:
            read_requests += 1
            consistent = bool(request.params.get("ConsistentRead"))
            read_units += max(1, math.ceil(request.response_bytes / _READ_UNIT_BYTES)) * (1 if consistent else 0.5)
    return {
        "write_requests": write_requests,
        "write_requests_by_purpose": dict(sorted(writes_by.items())),
        "write_units": write_units,
        "read_requests": read_requests,
        "read_units": read_units,
    }


def terminal_recorded_at(cloud: LocalCloud, mark: Mark, pks: set[str]) -> dict[str, datetime]:
    """When each job's terminal status was written into its history (the first such write)."""
    from tracker.contract import TERMINAL_STATUSES

    return _recorded_at(cloud, mark, pks, lambda status: status in TERMINAL_STATUSES)


def first_recorded_at(cloud: LocalCloud, mark: Mark, pks: set[str]) -> dict[str, datetime]:
    """When each job's first history entry was written."""
    return _recorded_at(cloud, mark, pks, lambda status: bool(status))


def _recorded_at(
    cloud: LocalCloud, mark: Mark, pks: set[str], wanted: Callable[[str | None], bool]
) -> dict[str, datetime]:
    from tracker.contract import Table

    recorded: dict[str, datetime] = {}
    for request in cloud.dynamodb_requests[mark.dynamodb :]:
        if request.action != "TransactWriteItems" or not request.succeeded:
            continue
        for entry in request.params["TransactItems"]:
            item = entry.get("Put", {}).get("Item", {})
            pk = item.get(Table.PK, {}).get("S")
            if pk in pks and wanted(item.get(Table.STATUS, {}).get("S")):
                recorded.setdefault(pk, request.at)
    return recorded


def latency_summary(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(seconds)

    def percentile(share: float) -> float:  # nearest rank
        return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]

    return {
        "p50": round(percentile(0.50), 1),
        "p99": round(percentile(0.99), 1),
        "max": round(ordered[-1], 1),
        "mean": round(statistics.fmean(ordered), 1),
    }


def architectures(deployments: Iterable[Deployment]) -> dict[str, str]:
    """Each deployed function's architecture, by function name, as its template says (x86_64 if unsaid)."""
    found = {}
    for deployment in deployments:
        for logical_id in deployment.resources_of("AWS::Lambda::Function"):
            properties = deployment.template["Resources"][logical_id].get("Properties", {})
            found[str(deployment.refs[logical_id])] = (properties.get("Architectures") or ["x86_64"])[0]
    return found


def lambda_use(cloud: LocalCloud, mark: Mark, deployments: Iterable[Deployment]) -> dict[str, Any]:
    """Invocations and GB-seconds, each invocation rounded up to the millisecond as Lambda bills it."""
    architecture_of = architectures(deployments)
    by_function: Counter[str] = Counter()
    gb_seconds = {"arm64": 0.0, "x86_64": 0.0}
    for name, memory, seconds in cloud.lambdas.durations[mark.lambdas :]:
        by_function[name] += 1
        gb_seconds[architecture_of.get(name, "x86_64")] += math.ceil(seconds * 1000) / 1000 * memory / 1024
    return {
        "invocations": sum(by_function.values()),
        "gb_seconds_arm64": round(gb_seconds["arm64"], 3),
        "gb_seconds_x86_64": round(gb_seconds["x86_64"], 3),
    }


def cost_usd(state_transitions: int, lambdas: dict[str, Any], dynamodb: dict[str, Any], custom_events: int) -> float:
    """What the counted use costs at the prices in bench/pricing.py (HealthOmics' own calls are not priced)."""
    return (
        state_transitions * PRICES["sfn_transition"].usd
        + lambdas["invocations"] * PRICES["lambda_request"].usd
        + lambdas["gb_seconds_arm64"] * PRICES["lambda_gb_second_arm"].usd
        + lambdas["gb_seconds_x86_64"] * PRICES["lambda_gb_second_x86"].usd
        + dynamodb["write_units"] * PRICES["dynamodb_write_unit"].usd
        + dynamodb["read_units"] * PRICES["dynamodb_read_unit"].usd
        + custom_events * PRICES["eventbridge_custom_event"].usd
    )


def summarize(
    cloud: LocalCloud,
    mark: Mark,
    jobs: list[Job],
    execution_arns: list[str],
    latencies: list[float],
    changes: int,
    custom_events: int = 0,
    deployments: Iterable[Deployment] = (),
) -> dict[str, Any]:
    """The figures every scenario reports."""
    job_hours = sum(job.timeline.ends_after() for job in jobs) / 3600
    calls = cloud.omics.calls[mark.omics :]
    peaks = peak_calls_per_second(calls)
    state_transitions = transitions(cloud, execution_arns)
    lambdas = lambda_use(cloud, mark, [cloud.deployment, *deployments])
    dynamodb = dynamodb_use(cloud, mark)
    cost = cost_usd(state_transitions, lambdas, dynamodb, custom_events)
    gets = sum(1 for operation, _ in calls if operation.startswith("Get"))
    return {
        "jobs": len(jobs),
        "job_hours": round(job_hours, 2),
        "executions": len(execution_arns),
        "throttled_calls": len(cloud.omics.throttled) - mark.throttled,
        "peak_calls_per_second": {
            operation: {"peak": peak, "limit": limits().get(operation)} for operation, peak in sorted(peaks.items())
        },
        "detection_latency_seconds": latency_summary(latencies),
        "state_transitions": state_transitions,
        "state_transitions_per_job_hour": round(state_transitions / job_hours, 2),
        "get_calls": gets,
        "get_calls_per_job_hour": round(gets / job_hours, 2),
        "lambda": lambdas,
        "dynamodb": dynamodb,
        "status_changes_recorded": changes,
        "state_transitions_per_change": round(state_transitions / changes, 2) if changes else None,
        "get_calls_per_change": round(gets / changes, 2) if changes else None,
        "dynamodb_writes_per_change": round(dynamodb["write_requests"] / changes, 2) if changes else None,
        "job_events": job_event_results(cloud, mark),
        "states_entered": states_entered(cloud, execution_arns),
        "cost_usd": round(cost, 6),
        "cost_usd_per_1000_job_days": round(cost / (job_hours / 24) * 1000, 2),
        "stall_detection": stall_detection(cloud, mark),
    }
