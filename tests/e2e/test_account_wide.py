"""Account-wide mode on the local cloud: jobs started directly through HealthOmics, with no execution started by
anyone, are each followed to their end by exactly one execution: from their first status event (JobEvents), or,
with every event lost, found by the scheduled sweep (a long run while it runs, a short import after it ended).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud, synthesize
from localcloud.omics import Job, Timeline
from tests.cli.conftest import run_cli
from tests.e2e.conftest import E2E_CONTEXT, running_cloud
from tests.e2e.test_notifications import Listener
from tracker.account_wide import follow_execution_name
from tracker.contract import JobRef

pytestmark = pytest.mark.e2e

SEQUENCE_STORE = "2222222222"
SWEEP_MINUTES = 15
RUN_STEPS = [("PENDING", 60), ("STARTING", 120), ("RUNNING", 3000), ("STOPPING", 90)]


@pytest.fixture(scope="module")
def cdk_out_account_wide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    context = {**E2E_CONTEXT, "followAllJobs": True, "allJobsSweepMinutes": SWEEP_MINUTES}
    return synthesize(tmp_path_factory.mktemp("cdk.out-account-wide"), context=context)


@pytest.fixture
def account_cloud(cdk_out_account_wide: Path) -> Iterator[LocalCloud]:
    yield from running_cloud(cdk_out_account_wide)


def _ref(job: Job) -> dict[str, str]:
    return {"jobType": job.job_type, **job.ids}


def _history(cloud: LocalCloud, job: Job) -> list[tuple[str, str]]:
    return [(entry["status"], entry["observedBy"]) for entry in cloud.history(_ref(job))]


def _execution_of(cloud: LocalCloud, job: Job) -> dict[str, str]:
    name = follow_execution_name(JobRef(job.job_type, job.ids))
    (execution,) = [e for e in cloud.executions() if e["name"] == name]
    return execution


def test_jobs_nobody_started_an_execution_for_are_each_followed_once_to_their_end(account_cloud: LocalCloud) -> None:
    cloud = account_cloud
    listener = Listener(cloud)
    # Given jobs started through HealthOmics directly: their events are delivered...
    run = cloud.omics.add_job("RUN", Timeline([*RUN_STEPS, ("COMPLETED", 0)]))
    failed_run = Timeline([*RUN_STEPS, ("FAILED", 0)], "Task align ran out", failure_reason="OUT_OF_MEMORY")
    failing = cloud.omics.add_job("RUN", failed_run)
    reads = cloud.omics.add_job(
        "READ_SET_IMPORT",
        Timeline.ending(submitted=60, running=1800),
        store_id=SEQUENCE_STORE,
        items=["s3://reads/sample-a.fq.gz"],
    )
    export = cloud.omics.add_job("READ_SET_EXPORT", Timeline.ending(), store_id=SEQUENCE_STORE, items=["1000000777"])
    annotations = cloud.omics.add_job("ANNOTATION_IMPORT", Timeline.ending(), items=["s3://annotations/genes.gff3"])
    # ...or every one of them is lost: a long run (found while it runs) and a short import (found after its end)
    lost_run = cloud.omics.add_job("RUN", Timeline([*RUN_STEPS, ("COMPLETED", 0)]))
    lost_import = cloud.omics.add_job(
        "READ_SET_IMPORT",
        Timeline.ending(submitted=30, running=240),
        store_id=SEQUENCE_STORE,
        items=["s3://reads/sample-b.fq.gz"],
    )
    cloud.omics.events_lost_for |= {lost_run.job_id, lost_import.job_id}

    # When three hours pass
    cloud.pass_time(3 * 3600)
    cloud.drain()

    # Then each job has exactly one execution, named after it, and none other was started
    jobs = [run, failing, reads, export, annotations, lost_run, lost_import]
    assert len(cloud.executions()) == len(jobs)
    statuses = {job.job_id: _execution_of(cloud, job)["status"] for job in jobs}
    assert statuses == {**{job.job_id: "SUCCEEDED" for job in jobs}, failing.job_id: "FAILED"}
    # Jobs with events: every status once, in order, from the first event on
    assert _history(cloud, run) == [
        ("PENDING", "event"),
        ("STARTING", "event"),
        ("RUNNING", "event"),
        ("STOPPING", "event"),
        ("COMPLETED", "event"),
    ]
    assert _history(cloud, reads) == [("SUBMITTED", "event"), ("IN_PROGRESS", "event"), ("COMPLETED", "event")]
    for job in (export, annotations):
        assert _history(cloud, job) == [("SUBMITTED", "event"), ("IN_PROGRESS", "event"), ("COMPLETED", "event")]
    assert cloud.history(_ref(failing))[-1]["status"] == "FAILED"
    assert cloud.history(_ref(failing))[-1]["statusMessage"] == "OUT_OF_MEMORY: Task align ran out"
    # Jobs whose events were lost: found by the sweep, then followed by polls to their end
    # (the run's 90 s in STOPPING fall between two polls)
    assert _history(cloud, lost_run) == [("RUNNING", "poll"), ("COMPLETED", "poll")]
    first_seen = datetime.fromisoformat(cloud.history(_ref(lost_run))[0]["observedAt"])
    assert first_seen - lost_run.created <= timedelta(minutes=SWEEP_MINUTES + 1)  # by the first sweep
    assert _history(cloud, lost_import) == [("COMPLETED", "poll")]
    # The sweep ran on its schedule; the failed run's message names why
    assert len(cloud.schedule_firings) >= 3 * 60 // SWEEP_MINUTES - 1
    failed = [m for m in listener.messages() if failing.job_id in m["Subject"]]
    assert [m["Subject"] for m in failed] == [f"HealthOmics RUN {failing.job_id}: FAILED"]
    assert "OUT_OF_MEMORY" in failed[0]["Message"]
    shown = run_cli("show", run.job_id)
    assert shown.code == 0 and "COMPLETED" in shown.stdout


def test_a_job_the_tracker_already_follows_is_not_started_again(account_cloud: LocalCloud) -> None:
    cloud = account_cloud
    # Given a run followed from the console before its first event
    run = cloud.omics.add_job("RUN", Timeline([*RUN_STEPS, ("COMPLETED", 0)]))
    console = cloud.start_execution(_ref(run))

    # When its events arrive and sweeps run
    cloud.pass_time(2 * 3600)
    cloud.drain()

    # Then the console's execution followed it alone, every status recorded once
    assert [e["executionArn"] for e in cloud.executions()] == [console]
    assert [status for status, _ in _history(cloud, run)] == ["PENDING", "STARTING", "RUNNING", "STOPPING", "COMPLETED"]


def test_the_trackers_own_import_is_followed_by_its_upload_execution_alone(account_cloud: LocalCloud) -> None:
    cloud = account_cloud
    # Given an upload: its execution starts the import and records the start answer before any event
    cloud.upload("references/genome.fa")

    # When the import's events arrive and sweeps run
    cloud.pass_time(2 * 3600)
    cloud.drain()

    # Then no second execution follows it
    (execution,) = cloud.executions()
    assert execution["status"] == "SUCCEEDED" and not execution["name"].startswith("follow-")
    (job,) = [job for job in cloud.omics.jobs.values() if job.job_type == "REFERENCE_IMPORT"]
    ref = {"jobType": "REFERENCE_IMPORT", "referenceStoreId": cloud.reference_store_id, "jobId": job.job_id}
    assert [entry["status"] for entry in cloud.history(ref)] == ["SUBMITTED", "IN_PROGRESS", "COMPLETED"]


def test_an_account_wide_execution_started_after_another_began_to_follow_ends_at_once(
    account_cloud: LocalCloud,
) -> None:
    cloud = account_cloud
    # Given a run an execution already follows (here from the console: its Prepare marked it)
    run = cloud.omics.add_job("RUN", Timeline([*RUN_STEPS, ("COMPLETED", 0)]))
    console = cloud.start_execution(_ref(run))
    cloud.pass_time(1)

    # When the mode's execution for it starts late (its first event, or a sweep, raced the other start)
    late = cloud.start_execution(_ref(run), name=follow_execution_name(JobRef(run.job_type, run.ids)))
    cloud.pass_time(2 * 3600)
    cloud.drain()

    # Then it ends without following the job, naming the execution that does; that one follows it to the end
    described = cloud.wait(late)
    assert described["status"] == "SUCCEEDED"
    assert cloud.states_entered(late) == ["Prepare", "StartOrFollow", "FollowedElsewhere"]
    assert json.loads(described["output"])["followedElsewhere"] == [console]
    assert cloud.wait(console)["status"] == "SUCCEEDED"
    assert [status for status, _ in _history(cloud, run)] == ["PENDING", "STARTING", "RUNNING", "STOPPING", "COMPLETED"]
    state = next(item for item in cloud.job_items() if item["sk"] == "STATE")
    assert state["executionArns"] == {console}
