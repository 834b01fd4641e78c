"""`make bench`: the tracker against the classic job poller, on the local cloud's simulated clock.

Both run as synthesized state machines with real handlers; jobs of 10 minutes to 7 days take seconds
because every Wait, Retry interval and task-token wait moves the simulated clock instead of
sleeping (localcloud/clock.py). Writes bench/results.json and the table in README.md.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
import warnings
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.baseline_app import STACK_NAME as BASELINE_STACK
from localcloud.cloud import ROOT, LocalCloud, synthesize
from localcloud.omics import Job, Timeline

RESULTS = ROOT / "bench" / "results.json"
README = ROOT / "README.md"
DURATIONS = {"10 min": 600, "2 h": 7_200, "24 h": 86_400, "7 d": 604_800}
SUBMITTED_SECONDS = 60
STORE = "2222222222"


def _job(cloud: LocalCloud, seconds: int, job_type: str = "READ_SET_EXPORT") -> tuple[Job, dict[str, str]]:
    timeline = Timeline.ending(submitted=SUBMITTED_SECONDS, running=seconds - SUBMITTED_SECONDS)
    store = STORE if job_type == "READ_SET_EXPORT" else ""
    items = ["3333333333"] if job_type == "READ_SET_EXPORT" else ["s3://bench-variants/sample.vcf.gz"]
    job = cloud.omics.add_job(job_type, timeline, store_id=store, items=items)
    ids = {"sequenceStoreId": STORE} if job_type == "READ_SET_EXPORT" else {}
    return job, {"jobType": job_type, **ids, "jobId": job.job_id}


def _executions_of(cloud: LocalCloud, state_machine_arn: str) -> list[str]:
    import boto3

    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn)
    return [e["executionArn"] for page in pages for e in page["executions"]]


def _measure(cloud: LocalCloud, state_machine_arn: str, job: Job, ref: dict[str, str], tracker: bool) -> dict[str, Any]:
    cloud.drain(timeout=3600)
    arns = _executions_of(cloud, state_machine_arn)
    histories = [cloud.events(arn) for arn in arns]
    gets = [moment for name, moment in cloud.omics.calls if name.startswith("Get")]
    end = job.completion_time()
    saw_end = max(gets)  # the last Get is the one that saw the job ended; the execution ends right after
    run: dict[str, Any] = {
        "executions": len(arns),
        "state_transitions": sum(1 for h in histories for e in h if e["type"].endswith("StateEntered")),
        "lambda_invocations": len(cloud.lambdas.invocations),
        "healthomics_get_calls": len(gets),
        "max_history_events_in_one_execution": max(len(h) for h in histories),
        "seconds_end_to_execution_end": (saw_end - end).total_seconds(),
        "final_status": cloud.wait(arns[0])["status"],
    }
    if tracker:
        history = cloud.history(ref)
        terminal = next(e for e in history if e["status"] == "COMPLETED")
        run.update(
            {
                "dynamodb_history_writes": len(history),
                "distinct_changes": len(job.timeline.steps),
                "history_in_order": [e["sequence"] for e in history] == list(range(1, len(history) + 1))
                and [e["status"] for e in history] == [status for status, _ in job.timeline.steps],
                "seconds_end_to_terminal_recorded": (
                    datetime.fromisoformat(terminal["observedAt"]) - end
                ).total_seconds(),
                "history_entries_by": dict(Counter(e["observedBy"] for e in history)),
            }
        )
    else:
        run["seconds_end_to_terminal_recorded"] = run["seconds_end_to_execution_end"]  # it records nothing else
    hours = job.timeline.ends_after() / 3600
    for key in ("state_transitions", "healthomics_get_calls", "lambda_invocations"):
        run[f"{key}_per_job_hour"] = round(run[key] / hours, 2)
    return run


def _tracker_run(tracker_out: Path, seconds: int, events: str) -> dict[str, Any]:
    with LocalCloud(tracker_out) as cloud:
        cloud.omics.event_delivery = events
        job, ref = _job(cloud, seconds)
        cloud.start_execution(ref)
        return _measure(cloud, cloud.state_machine_arn, job, ref, tracker=True)


def _baseline_run(tracker_out: Path, baseline_out: Path, seconds: int, wait: int) -> dict[str, Any]:
    with LocalCloud(tracker_out) as cloud:
        baseline = cloud.deploy_stack(baseline_out, BASELINE_STACK)
        arn = baseline.refs[baseline.one("AWS::StepFunctions::StateMachine", f"Poller{wait}")]
        job, ref = _job(cloud, seconds)
        import boto3

        boto3.client("stepfunctions", region_name="us-east-1").start_execution(
            stateMachineArn=arn, input=json.dumps(ref)
        )
        return _measure(cloud, arn, job, ref, tracker=False)


def _concurrent_variant_imports(tracker_out: Path, jobs: int = 5, seconds: int = 7_200) -> dict[str, Any]:
    """Variant import's Get is limited to 1 call per second per account: 5 jobs, no events."""
    with LocalCloud(tracker_out) as cloud:
        cloud.omics.event_delivery = "none"
        for _ in range(jobs):
            _, ref = _job(cloud, seconds, job_type="VARIANT_IMPORT")
            cloud.start_execution(ref)
        cloud.drain(timeout=3600)
        calls = sorted(m for name, m in cloud.omics.accepted if name == "GetVariantImportJob")
        throttled = sum(1 for name, _ in cloud.omics.throttled if name == "GetVariantImportJob")
        statuses = [cloud.wait(e["executionArn"])["status"] for e in cloud.executions()]
        per_second = Counter(m.replace(microsecond=0) for m in calls)
        busiest_minute = max(
            sum(1 for other in calls if moment <= other < moment + timedelta(seconds=60)) for moment in calls
        )
        return {
            "jobs": jobs,
            "job_seconds": seconds,
            "get_calls": len(calls),
            "throttled_get_calls_retried": throttled,
            "executions_succeeded": statuses.count("SUCCEEDED"),
            "max_get_calls_in_one_second": max(per_second.values()),
            "max_get_calls_in_one_minute": busiest_minute,
            "mean_get_calls_per_second": round(len(calls) / seconds, 4),
        }


def main() -> int:
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module="aws_lambda_powertools")
    started = time.monotonic()
    results: dict[str, Any] = {"durations": {}, "notes": __doc__.strip().splitlines()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-") as out:
        print("Synthesizing the tracker and the classic poller ...", flush=True)
        tracker_out = synthesize(Path(out) / "tracker")
        baseline_out = synthesize(Path(out) / "baseline", app=ROOT / "bench" / "baseline_app.py")
        for label, seconds in DURATIONS.items():
            runs = {}
            for events in ("all", "none"):
                name = "tracker, events delivered" if events == "all" else "tracker, all events lost"
                print(f"  {label}: {name} ...", flush=True)
                runs[name] = _tracker_run(tracker_out, seconds, events)
            for wait in (30, 60):
                print(f"  {label}: classic poller, {wait} s ...", flush=True)
                runs[f"classic poller {wait} s"] = _baseline_run(tracker_out, baseline_out, seconds, wait)
            results["durations"][label] = runs
        print("  5 variant imports at once, events lost ...", flush=True)
        results["concurrent_variant_imports"] = _concurrent_variant_imports(tracker_out)
    results["bench_seconds"] = round(time.monotonic() - started, 1)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    table = render_table(results)
    _write_readme_table(table)
    print(table)
    print(f"Wrote {RESULTS.relative_to(ROOT)} in {results['bench_seconds']} s")
    return 0


def render_table(results: dict[str, Any]) -> str:
    rows = [
        "| job | run | transitions / job-h | Get calls / job-h | Lambda / job-h | history writes (changes) "
        "| end → recorded (s) | end → execution end (s) | max events / execution | transitions vs 60 s poller |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, runs in results["durations"].items():
        baseline = runs["classic poller 60 s"]["state_transitions"]
        for name, run in runs.items():
            writes = (
                f"{run['dynamodb_history_writes']} ({run['distinct_changes']})" if "distinct_changes" in run else "-"
            )
            ratio = baseline / run["state_transitions"] if run["state_transitions"] else float("inf")
            rows.append(
                f"| {label} | {name} | {run['state_transitions_per_job_hour']} | "
                f"{run['healthomics_get_calls_per_job_hour']} | {run['lambda_invocations_per_job_hour']} | {writes} | "
                f"{run['seconds_end_to_terminal_recorded']:.0f} | {run['seconds_end_to_execution_end']:.0f} | "
                f"{run['max_history_events_in_one_execution']} | {ratio:.1f}x fewer |"
            )
    concurrent = results["concurrent_variant_imports"]
    rows.append("")
    rows.append(
        f"{concurrent['jobs']} variant imports of {concurrent['job_seconds'] // 3600} h at once, events lost: "
        f"{concurrent['executions_succeeded']} of {concurrent['jobs']} followed to the end with "
        f"{concurrent['get_calls']} GetVariantImportJob calls ({concurrent['mean_get_calls_per_second']} per second on "
        f"average), at most {concurrent['max_get_calls_in_one_second']} in one second and "
        f"{concurrent['max_get_calls_in_one_minute']} in one minute; {concurrent['throttled_get_calls_retried']} calls "
        "over the 1-per-second quota (the first polls of jobs started at the same instant) were throttled and "
        "retried with backoff and jitter."
    )
    return "\n".join(rows)


def _write_readme_table(table: str) -> None:
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    text = README.read_text()
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        README.write_text(f"{before}{start}\n{table}\n{end}{after}")


if __name__ == "__main__":
    sys.exit(main())
