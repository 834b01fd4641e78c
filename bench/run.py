"""`make bench`: the tracker at scale, and beside the classic job poller, on the local cloud's simulated clock.

Scenarios (bench/scenarios.py), each on a fresh local cloud in a process of its own, two at a time (two cores):
- 1,000 jobs of the three followed types at once (1 to 2 hours each), with HealthOmics' events delivered and with
  every event lost;
- account-wide mode: 1,000 jobs of all six kinds started outside the tracker (no execution started by anyone),
  every 20th with all its events lost;
- a burst of 200 reference uploads into the stack's one store;
- jobs of 10 minutes to 24 hours followed by the tracker (events delivered / lost) and by the classic poller of the
  CDK README (Wait 30 s or 60 s → Get → Choice), their ends not aligned to the poll interval.
First, each function's cold import against `import boto3` (bench/cold_starts.py). Writes bench/results.json,
bench/chart.png and the tables in docs/benchmark.md; prints its own wall time.

    python -m bench.run [--jobs N] [--uploads N]   (the tables say how many were run)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import chart, cold_starts, scenarios
from bench.pricing import PRICES
from localcloud.cloud import ROOT, synthesize

RESULTS = ROOT / "bench" / "results.json"
CHART = ROOT / "bench" / "chart.png"
PAGE = ROOT / "docs" / "benchmark.md"
JOBS, UPLOADS = 1_000, 200
LENGTHS_HOURS = {"10 min": 1 / 6, "1 h": 1.0, "6 h": 6.0, "24 h": 24.0}
# IN_PROGRESS may last 45 minutes before a job is reported stalled (24 hours by default): the scale runs' 1-2 h jobs
# still running at a poll past it, and every 6 h and 24 h job, stall, so each figure includes what finding them costs.
STALL_LIMIT_SECONDS = 2700
BENCH_CONTEXT = {"stalledAfterSeconds": {"default": {"IN_PROGRESS": STALL_LIMIT_SECONDS}}}
ACCOUNT_WIDE_CONTEXT = {**BENCH_CONTEXT, "followAllJobs": True}
LOST_EVERY = 20  # in the account-wide run, every 20th job's events are all lost
RUNNERS = {
    "tracker-events": "tracker, events delivered",
    "tracker-no-events": "tracker, all events lost",
    "poller-60": "classic poller 60 s",
    "poller-30": "classic poller 30 s",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=JOBS, help="jobs at once in the scale runs")
    parser.add_argument("--uploads", type=int, default=UPLOADS, help="uploads in the burst")
    args = parser.parse_args(argv)
    started = time.monotonic()
    # First, on a quiet machine: each function's cold import against `import boto3` (reported, no target).
    print("Cold starts: each handler's import next to `import boto3` ...", flush=True)
    imports = cold_starts.measure()
    with tempfile.TemporaryDirectory(prefix="bench-") as out:
        print("Synthesizing the tracker (default and account-wide) and the classic poller ...", flush=True)
        with ThreadPoolExecutor(max_workers=2) as synths:  # each is a process of its own
            tracker, account_wide, baseline = synths.map(
                lambda named: synthesize(Path(out) / named[0], context=named[1], app=named[2]),
                [
                    ("tracker", BENCH_CONTEXT, ROOT / "app.py"),
                    ("account-wide", ACCOUNT_WIDE_CONTEXT, ROOT / "app.py"),
                    ("baseline", None, ROOT / "bench" / "baseline_app.py"),
                ],
            )
        # Longest first, so the two workers finish together.
        tasks: dict[tuple[str, ...], tuple[Callable[..., dict[str, Any]], tuple[Any, ...]]] = {
            ("scale", "events lost"): (scenarios.at_scale, (tracker, args.jobs, "none")),
            ("scale", "events delivered"): (scenarios.at_scale, (tracker, args.jobs, "all")),
            ("account-wide",): (scenarios.account_wide, (account_wide, args.jobs, LOST_EVERY)),
        }
        for label, hours in reversed(LENGTHS_HOURS.items()):  # (a few small runs per process: fewer start-ups)
            tasks["side", label] = (scenarios.side_by_side_runs, (tracker, baseline, hours, RUNNERS))
        tasks["burst",] = (scenarios.upload_burst, (tracker, args.uploads))
        figures = _run_all(tasks)
    results: dict[str, Any] = {
        "scale": {name: figures["scale", name] for name in ("events delivered", "events lost")},
        "account_wide": figures["account-wide",],
        "burst": figures["burst",],
        "side_by_side": {label: figures["side", label]["runs"] for label in LENGTHS_HOURS},
        "scenario_seconds": {" / ".join(key): figures[key].pop("wall_seconds") for key in figures},
        "cold_starts": imports,
        "pricing": {key: vars(price) for key, price in PRICES.items()},
        "wall_seconds": round(time.monotonic() - started, 1),
        "cpus": os.cpu_count(),
    }
    chart.draw(results["side_by_side"], LENGTHS_HOURS, CHART)
    tables = render(results)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    _write_page(tables)
    print(tables)
    print(f"make bench: {results['wall_seconds']} s of wall time ({os.cpu_count()} CPUs)")
    return 0


def _timed(function: Callable[..., dict[str, Any]], *arguments: Any) -> dict[str, Any]:
    started = time.monotonic()
    figures = function(*arguments)
    return {**figures, "wall_seconds": round(time.monotonic() - started, 1)}


def _run_all(
    tasks: dict[tuple[str, ...], tuple[Callable[..., dict[str, Any]], tuple[Any, ...]]],
) -> dict[tuple[str, ...], dict[str, Any]]:
    """Every scenario in a process of its own (a local cloud patches its process), two at a time, longest first."""
    context = multiprocessing.get_context("spawn")  # fresh interpreters: nothing of this process's state
    results: dict[tuple[str, ...], dict[str, Any]] = {}
    # A fresh worker for every scenario: a 1,000-job run leaves a large heap behind (one worker died of MemoryError
    # in the next scenario, and the pool then waited for it forever).
    workers = max(2, os.cpu_count() or 2)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, max_tasks_per_child=1) as pool:
        futures: dict[tuple[str, ...], Future[dict[str, Any]]] = {
            key: pool.submit(_timed, function, *arguments) for key, (function, arguments) in tasks.items()
        }
        for key, future in futures.items():
            results[key] = future.result()
            print(f"  {' / '.join(key)}: done in {results[key]['wall_seconds']} s", flush=True)
    return results


def _peaks(run: dict[str, Any]) -> str:
    return ", ".join(
        f"{operation.removeprefix('Get').removesuffix('Job')} {peak['peak']}/{peak['limit']:g}"
        for operation, peak in run["peak_calls_per_second"].items()
        if peak["limit"]
    )


def _latency(run: dict[str, Any]) -> str:
    latency = run["detection_latency_seconds"]
    if latency["p50"] is None:
        return "-"
    return f"{latency['p50']:.0f} / {latency['p99']:.0f} / {latency['max']:.0f}"


def _writes(run: dict[str, Any]) -> str:
    per_change = run["dynamodb_writes_per_change"]
    if per_change is None:
        return "-"
    by = ", ".join(f"{purpose} {count}" for purpose, count in run["dynamodb"]["write_requests_by_purpose"].items())
    return f"{per_change:.1f} ({by})"


def _side_by_side_rows(side_by_side: dict[str, dict[str, Any]]) -> list[str]:
    """The table of each job length run by the tracker and by the classic poller, after a blank line."""
    rows = [
        "",
        "| job length | run | completed / lost | end → recorded mean / max (s) | transitions / job-h | Gets / job-h "
        "| Lambda invocations / job-h | $ / 1,000 job-days | transitions vs poller 60 s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, by_runner in side_by_side.items():
        poller = by_runner[RUNNERS["poller-60"]]["state_transitions_per_job_hour"]
        for name, run in by_runner.items():
            latency = run["detection_latency_seconds"]
            seen = "-" if latency["mean"] is None else f"{latency['mean']:.0f} / {latency['max']:.0f}"
            lost = f"{run['completed']} / {run['lost']}" + (
                " (history reached 25,000 events)" if run["lost"] and name.startswith("classic") else ""
            )
            invocations = round(run["lambda"]["invocations"] / run["job_hours"], 2)
            rows.append(
                f"| {label} | {name} | {lost} | {seen} | {run['state_transitions_per_job_hour']} | "
                f"{run['get_calls_per_job_hour']} | {invocations} | {run['cost_usd_per_1000_job_days']:.2f} | "
                f"{_times_fewer(poller, run['state_transitions_per_job_hour'])} |"
            )
    return rows


def _times_fewer(baseline: float, value: float) -> str:
    return f"{baseline / value:.1f}x fewer" if value else "-"


def _per_change_rows(results: dict[str, Any]) -> list[str]:
    """What each recorded change cost at scale, what became of HealthOmics' events, and the cost beside the 60 s
    classic poller following jobs of the same length (1 hour)."""
    poller = results["side_by_side"]["1 h"][RUNNERS["poller-60"]]["cost_usd_per_1000_job_days"]
    rows = [
        "",
        "| run | changes recorded | transitions / change | Gets / change | JobEvents results "
        "| $ / 1,000 job-days vs poller 60 s |",
        "|---|---|---|---|---|---|",
    ]
    runs = {**results["scale"], "account-wide": results["account_wide"]}
    for name, run in runs.items():
        events = ", ".join(f"{result} {count}" for result, count in run["job_events"].items()) or "-"
        cost = run["cost_usd_per_1000_job_days"]
        rows.append(
            f"| {run['jobs']} jobs, {name} | {run['status_changes_recorded']} | {run['state_transitions_per_change']} "
            f"| {run['get_calls_per_change']} | {events} | {poller / cost:.1f}x cheaper |"
        )
    return rows


def _account_wide_rows(run: dict[str, Any]) -> list[str]:
    """Account-wide mode: jobs nobody started an execution for, found by their first event or by the sweep."""
    seen, lost = run["first_seen_seconds"]["events delivered"], run["first_seen_seconds"]["events lost"]
    calls = sum(run["list_calls"].values())
    return [
        "",
        "| account-wide run | executions (jobs followed by more than one) | started by a first event / by the sweep "
        "| created → first entry p50 / p99 (s): events / events lost | sweeps, List calls (per sweep) |",
        "|---|---|---|---|---|",
        f"| {run['jobs']} jobs, {run['jobs_with_events_lost']} with every event lost | {run['executions']} "
        f"({run['jobs_followed_by_more_than_one_execution']}) | {run['job_events'].get('followed', 0)} / "
        f"{run['executions'] - run['job_events'].get('followed', 0)} | {seen['p50']:.0f} / {seen['p99']:.0f} ; "
        f"{lost['p50']:.0f} / {lost['p99']:.0f} | {run['sweeps']}, {calls} ({calls / max(run['sweeps'], 1):.1f}) |",
    ]


def _stall_rows(scale: dict[str, dict[str, Any]]) -> list[str]:
    """What finding stalled jobs cost in the scale runs (IN_PROGRESS limit STALL_LIMIT_SECONDS)."""
    rows = [
        "",
        f"| stalled jobs (IN_PROGRESS > {STALL_LIMIT_SECONDS // 60} min) | jobs reported | writes: reports and "
        "Notify's marks (write units) | $ / 1,000 job-days of those writes |",
        "|---|---|---|---|",
    ]
    for name, run in scale.items():
        stalls = run["stall_detection"]
        per_job_days = stalls["cost_usd"] / (run["job_hours"] / 24) * 1000
        rows.append(
            f"| {run['jobs']} jobs, {name} | {stalls['stalls_reported']} | {stalls['write_requests']} "
            f"({stalls['write_units']}) | {per_job_days:.4f} |"
        )
    return rows


def render(results: dict[str, Any]) -> str:
    rows = [
        "| run | jobs completed / lost | throttled | peak calls/s vs limit | end → recorded p50 / p99 / max (s) "
        "| transitions / job-h | Gets / job-h | DynamoDB writes per change (by purpose) | $ / 1,000 job-days |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    runs = [(f"{run['jobs']} jobs, {name}", run) for name, run in results["scale"].items()]
    wide = results["account_wide"]
    runs.append((f"{wide['jobs']} jobs, account-wide ({wide['jobs_with_events_lost']} with every event lost)", wide))
    burst = results["burst"]
    runs.append((f"burst of {burst['uploads']} uploads into one store ({burst['imports_started']} imports)", burst))
    for name, run in runs:
        if run is burst:  # per upload: a burst's few short imports make job-hours meaningless
            uploads = run["uploads"]
            completed = f"{run['uploads_imported']} / {run['uploads_lost']} uploads"
            transitions = f"{run['state_transitions'] / uploads:.1f} per upload"
            gets = f"{run['get_calls'] / uploads:.2f} per upload"
            writes = f"{run['dynamodb']['write_requests'] / uploads:.1f} per upload"
            cost = f"{run['cost_usd'] / uploads * 1000:.2f} per 1,000 uploads"
        else:
            completed = f"{run['completed']} / {run['lost']}"
            transitions, gets = run["state_transitions_per_job_hour"], run["get_calls_per_job_hour"]
            writes, cost = _writes(run), f"{run['cost_usd_per_1000_job_days']:.2f}"
        rows.append(
            f"| {name} | {completed} | {run['throttled_calls']} | {_peaks(run)} | {_latency(run)} | "
            f"{transitions} | {gets} | {writes} | {cost} |"
        )
    rows += _per_change_rows(results)
    rows += _account_wide_rows(wide)
    rows += _stall_rows(results["scale"])
    rows += _side_by_side_rows(results["side_by_side"])
    imports = results["cold_starts"]
    rows += [
        "",
        f"| function (cold import) | seconds | x `import boto3` ({imports['boto3_seconds']:.3f} s) |",
        "|---|---|---|",
    ]
    for module, measured in imports["functions"].items():
        rows.append(
            f"| {module.removeprefix('tracker.handlers.')} | {measured['seconds']:.3f} | "
            f"{measured['ratio_to_boto3']:.2f} |"
        )
    rows += ["", "| price | US$ | per | source | checked |", "|---|---|---|---|---|"]
    for price in results["pricing"].values():
        rows.append(
            f"| {price['name']} | {price['usd']:.10g} | {price['per']} | {price['source']} | {price['checked']} |"
        )
    rows += ["", f"`make bench` took {results['wall_seconds']:.0f} s of wall time on {results['cpus']} CPUs."]
    return "\n".join(rows)


def _write_page(tables: str) -> None:
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    text = PAGE.read_text()
    if start in text and end in text:
        before, rest = text.split(start, 1)
        PAGE.write_text(f"{before}{start}\n{tables}\n{end}{rest.split(end, 1)[1]}")


if __name__ == "__main__":
    sys.exit(main())
