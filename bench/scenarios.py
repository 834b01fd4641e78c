"""The benchmark's scenarios. Each runs the synthesized state machines with the real handlers on a fresh local cloud
(on the simulated clock: hours of jobs take seconds), in a process of its own, and returns its figures.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import boto3

from bench.figures import Mark, first_recorded_at, latency_summary, summarize, terminal_recorded_at
from localcloud.cloud import REGION, LocalCloud
from localcloud.omics import Job, Timeline

JOB_TYPES = ("READ_SET_EXPORT", "VARIANT_IMPORT", "REFERENCE_IMPORT")
ACCOUNT_WIDE_KINDS = (
    "RUN",
    "READ_SET_IMPORT",
    "READ_SET_EXPORT",
    "VARIANT_IMPORT",
    "ANNOTATION_IMPORT",
    "REFERENCE_IMPORT",
)
SUBMITTED_SECONDS = 60
EXPORT_STORE = "2222222222"
# Ends a fixed number of seconds past the whole minute would line up with a 30 s or 60 s poll interval: these
# offsets do not (a poller's latency is then what a real one sees: up to one interval, about half on average).
END_OFFSETS_SECONDS = (13.7, 31.1, 47.9)


def quiet() -> None:
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.getLogger().setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore")


# Each kind's items (one per job), by the job's index: a read-set export's read set, an import's source file.
_ITEMS = {
    "READ_SET_EXPORT": "{index:010d}",
    "VARIANT_IMPORT": "s3://bench-variants/{index}.vcf.gz",
    "READ_SET_IMPORT": "s3://bench-reads/{index}.fastq.gz",
    "ANNOTATION_IMPORT": "s3://bench-annotations/{index}.gff3",
}
RUN_STEPS_SECONDS = (("PENDING", 60), ("STARTING", 120), ("STOPPING", 60))  # a run's RUNNING lasts the rest


def _add_job(cloud: LocalCloud, job_type: str, seconds: float, index: int) -> tuple[Job, dict[str, str]]:
    """A job of `seconds` started outside the tracker, and its follow input."""
    if job_type == "RUN":
        (pending, starting, stopping) = RUN_STEPS_SECONDS
        running = ("RUNNING", seconds - sum(step[1] for step in RUN_STEPS_SECONDS))
        job = cloud.omics.add_job(job_type, Timeline([pending, starting, running, stopping, ("COMPLETED", 0)]))
    else:
        timeline = Timeline.ending(submitted=SUBMITTED_SECONDS, running=seconds - SUBMITTED_SECONDS)
        store = cloud.reference_store_id if job_type == "REFERENCE_IMPORT" else EXPORT_STORE
        items = [_ITEMS[job_type].format(index=index)] if job_type in _ITEMS else []
        job = cloud.omics.add_job(job_type, timeline, store_id=store, items=items)
        if job_type == "REFERENCE_IMPORT":
            job.items = [{"sourceFile": f"s3://bench-references/{index}.fa", "name": f"ref-{index}"}]
    return job, {"jobType": job_type, **job.ids}


def _job_pk(ref: dict[str, str]) -> str:
    from tracker.contract import JobRef

    return JobRef.from_dict(ref).pk


def _tracker_figures(
    cloud: LocalCloud, mark: Mark, jobs: list[Job], refs: list[dict[str, str]], custom_events: int = 0
) -> dict[str, Any]:
    """The tracker's figures: every job's end as recorded in its history, every execution's end."""
    by_arn = cloud.execution_statuses()
    arns, statuses = list(by_arn), Counter(by_arn.values())
    pks = [_job_pk(ref) for ref in refs]
    recorded = terminal_recorded_at(cloud, mark, set(pks))
    latencies = [
        (recorded[pk] - job.completion_time()).total_seconds()
        for pk, job in zip(pks, jobs, strict=True)
        if pk in recorded
    ]
    changes = sum(
        1
        for request in cloud.dynamodb_requests[mark.dynamodb :]
        if request.action == "TransactWriteItems"
        and request.succeeded
        and any(
            entry.get("Put", {}).get("Item", {}).get("pk", {}).get("S") in recorded
            and entry["Put"]["Item"].get("sk", {}).get("S", "").startswith("EVENT#")  # not a stall report
            for entry in request.params["TransactItems"]
        )
    )
    figures = summarize(cloud, mark, jobs, arns, latencies, changes, custom_events)
    # A job is completed once its terminal status is recorded; executions that did not succeed show apart.
    figures.update(completed=len(recorded), lost=len(jobs) - len(recorded), execution_statuses=dict(statuses))
    return figures


def at_scale(cdk_out: Path, count: int, events: str, min_hours: float = 1, max_hours: float = 2) -> dict[str, Any]:
    """`count` jobs of the three followed types at once, of 1 to 2 hours (ends spread, not aligned)."""
    quiet()
    with LocalCloud(cdk_out) as cloud:
        cloud.omics.event_delivery = events
        mark = Mark.now(cloud)
        jobs, refs = [], []
        with cloud.at_one_moment():  # every job added and every execution started before any acts
            for index in range(count):
                seconds = (min_hours + (max_hours - min_hours) * index / max(count - 1, 1)) * 3600
                job, ref = _add_job(cloud, JOB_TYPES[index % len(JOB_TYPES)], seconds, index)
                jobs.append(job)
                refs.append(ref)
                cloud.start_execution(ref)
        cloud.drain(timeout=3600)
        return _tracker_figures(cloud, mark, jobs, refs)


def account_wide(cdk_out: Path, count: int, lost_every: int) -> dict[str, Any]:
    """Account-wide mode: `count` jobs of every kind started at once outside the tracker (no execution started by
    anyone), of 1 to 2 hours; every `lost_every`-th job's events are all lost (the sweep finds it)."""
    quiet()
    with LocalCloud(cdk_out) as cloud:
        mark = Mark.now(cloud)
        jobs, refs = [], []
        with cloud.at_one_moment():
            for index in range(count):
                seconds = (1 + index / max(count - 1, 1)) * 3600
                job, ref = _add_job(cloud, ACCOUNT_WIDE_KINDS[index % len(ACCOUNT_WIDE_KINDS)], seconds, index)
                jobs.append(job)
                refs.append(ref)
                if index % lost_every == lost_every - 1:
                    cloud.omics.events_lost_for.add(job.job_id)
        cloud.pass_time(2 * 3600 + 1800)
        cloud.drain(timeout=3600)
        # EventBridge's scheduled events, priced as custom events (the cautious reading of its pricing).
        sweeps = len(cloud.schedule_firings)
        figures = _tracker_figures(cloud, mark, jobs, refs, custom_events=sweeps)
        pks = {_job_pk(ref): job for job, ref in zip(jobs, refs, strict=True)}
        first_seen = first_recorded_at(cloud, mark, set(pks))
        lost = {pk for pk, job in pks.items() if job.job_id in cloud.omics.events_lost_for}

        def seen_after(which: set[str]) -> dict[str, float | None]:
            return latency_summary([(first_seen[pk] - pks[pk].created).total_seconds() for pk in which])

        states = [item for item in cloud.table_items() if item["sk"] == "STATE" and item["pk"] in pks]
        figures.update(
            sweeps=sweeps,
            list_calls=dict(Counter(op for op, _ in cloud.omics.calls[mark.omics :] if op.startswith("List"))),
            jobs_with_events_lost=len(lost),
            # From the job's creation to its first history entry (an event's, or the first poll after the sweep).
            first_seen_seconds={
                "events delivered": seen_after(set(first_seen) - lost),
                "events lost": seen_after(set(first_seen) & lost),
            },
            jobs_followed_by_more_than_one_execution=sum(1 for item in states if len(item["executionArns"]) > 1),
        )
        return figures


def upload_burst(cdk_out: Path, uploads: int) -> dict[str, Any]:
    """`uploads` reference files uploaded at one moment into the stack's one reference store."""
    quiet()
    with LocalCloud(cdk_out) as cloud:
        mark = Mark.now(cloud)
        with cloud.at_one_moment():
            for number in range(uploads):
                cloud.upload(f"references/burst/genome-{number:03d}.fa")
        cloud.drain(timeout=3600)
        imports = [job for job in cloud.omics.jobs.values() if job.job_type == "REFERENCE_IMPORT"]
        refs = [
            {"jobType": "REFERENCE_IMPORT", "referenceStoreId": cloud.reference_store_id, "jobId": job.job_id}
            for job in imports
        ]
        # S3 sends each upload's Object Created event to EventBridge (priced like a custom event here).
        figures = _tracker_figures(cloud, mark, imports, refs, custom_events=uploads)
        finished = {
            source
            for ref in refs
            for source, status in (cloud.history(ref)[-1]["items"] or {}).items()
            if status == "FINISHED"
        }
        bucket = cloud.bucket
        uploaded = {f"s3://{bucket}/references/burst/genome-{number:03d}.fa" for number in range(uploads)}
        succeeded = figures["execution_statuses"].get("SUCCEEDED", 0)
        in_order = sorted(imports, key=lambda job: job.created)
        one_at_a_time = all(later.created >= earlier.completion_time() for earlier, later in pairwise(in_order))
        figures.update(
            uploads=uploads,
            imports_started=cloud.omics.call_count("StartReferenceImportJob"),
            imports_one_at_a_time=one_at_a_time,
            largest_import_sources=max((len(job.items) for job in imports), default=0),
            uploads_imported=len(uploaded & finished),
            uploads_lost=len(uploaded - finished),
            upload_executions_succeeded=succeeded,
        )
        return figures


def side_by_side(cdk_out: Path, baseline_out: Path, hours: float, runner: str) -> dict[str, Any]:
    """Jobs of `hours` (ends not aligned to any poll interval) followed by the tracker (events delivered or
    lost) or by the classic poller (a Wait of 30 or 60 s, then a Get)."""
    quiet()
    with LocalCloud(cdk_out) as cloud:
        if runner.startswith("poller"):
            # (named as synthesized: importing bench.baseline_app would start the CDK's node runtime here)
            stack_name = next(baseline_out.glob("*.template.json")).name.removesuffix(".template.json")
            baseline = cloud.deploy_stack(baseline_out, stack_name)
            wait = int(runner.removeprefix("poller-"))
            state_machine = baseline.refs[baseline.one("AWS::StepFunctions::StateMachine", f"Poller{wait}")]
        else:
            cloud.omics.event_delivery = "all" if runner == "tracker-events" else "none"
            state_machine = cloud.state_machine_arn
        sfn = boto3.client("stepfunctions", region_name=REGION)
        mark = Mark.now(cloud)
        jobs, refs = [], []
        with cloud.at_one_moment():
            for index, offset in enumerate(END_OFFSETS_SECONDS):
                job, ref = _add_job(cloud, "READ_SET_EXPORT", hours * 3600 + offset, index)
                jobs.append(job)
                refs.append(ref)
                sfn.start_execution(stateMachineArn=state_machine, input=json.dumps(ref))
        cloud.drain(timeout=3600)
        if not runner.startswith("poller"):
            return _tracker_figures(cloud, mark, jobs, refs)
        by_arn = cloud.execution_statuses(state_machine)
        arns, statuses = list(by_arn), Counter(by_arn.values())
        seen = cloud.omics.end_seen_by_get
        # The poller records nothing: it knows a job ended when its Get first answers the terminal status.
        latencies = [(seen[job.job_id] - job.completion_time()).total_seconds() for job in jobs if job.job_id in seen]
        figures = summarize(cloud, mark, jobs, arns, latencies, changes=0, deployments=[baseline])
        figures.update(
            completed=sum(1 for job in jobs if job.job_id in seen) if set(statuses) <= {"SUCCEEDED"} else 0,
            lost=sum(1 for job in jobs if job.job_id not in seen),
            execution_statuses=dict(statuses),
        )
        return figures


def side_by_side_runs(cdk_out: Path, baseline_out: Path, hours: float, runners: dict[str, str]) -> dict[str, Any]:
    """`side_by_side` for each runner, one after the other in this process: {"runs": {name: figures}}."""
    return {"runs": {name: side_by_side(cdk_out, baseline_out, hours, runner) for runner, name in runners.items()}}
