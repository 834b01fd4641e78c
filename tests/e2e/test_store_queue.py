"""Reference imports queue in their store: one import at a time, in arrival order, waiting requests batched.

HealthOmics imports one reference at a time per store and does not document what a busy store answers, so
no test here relies on that answer: the queue must never meet a busy store, except for an import started
outside the tracker in the moment between its check and its start, whatever that answer's code.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.omics import Job, Timeline
from tests.cli.conftest import run_cli


def imports(cloud: LocalCloud) -> list[Job]:
    """The store's reference imports, in the order they were created."""
    jobs = [job for job in cloud.omics.jobs.values() if job.job_type == "REFERENCE_IMPORT"]
    return sorted(jobs, key=lambda job: (job.created, int(job.job_id)))


def assert_one_at_a_time(jobs: list[Job]) -> None:
    for earlier, later in itertools.pairwise(jobs):
        assert later.created >= earlier.completion_time(), f"{later.job_id} started while {earlier.job_id} ran"


def queue_entries(cloud: LocalCloud) -> list[dict[str, Any]]:
    """The store's queue entries, in arrival order (their keys sort by arrival)."""
    items = [item for item in cloud.job_items() if str(item["sk"]).startswith("QUEUE#")]
    return sorted(items, key=lambda item: item["sk"])


def source_of(described: dict[str, Any], cloud: LocalCloud) -> str:
    return f"s3://{cloud.bucket}/{json.loads(described['input'])['s3Upload']['key']}"


def outside_import(cloud: LocalCloud, hours: float, status: str = "COMPLETED") -> Job:
    """An import started from the console into the stack's store, running for `hours`."""
    seconds = int(hours * 3600)
    return cloud.omics.add_job(
        "REFERENCE_IMPORT",
        Timeline.ending(status, submitted=60, running=seconds - 60),
        store_id=cloud.reference_store_id,
        items=["s3://elsewhere/console.fa"],
    )


def wait_until_time_moves(cloud: LocalCloud, timeout: float = 60) -> None:
    """Real-time wait until the simulated clock has moved on (every execution is waiting)."""
    start, deadline = cloud.clock.now(), time.monotonic() + timeout
    while cloud.clock.now() == start:
        assert time.monotonic() < deadline, "simulated time did not move"
        time.sleep(0.02)


def test_burst_of_uploads_is_imported_in_batches_one_import_at_a_time_in_arrival_order(cloud: LocalCloud) -> None:
    # Given a folder of N references uploaded into the stack's one store (more than one import's 100), in three
    # waves a little apart, while the first imports run
    uploads, started = 130, 0
    for wave in (50, 50, 30):
        for number in range(started, started + wave):
            cloud.upload(f"references/burst/genome-{number:03d}.fa")
        started += wave
        cloud.wait_for_executions(started, timeout=120)
        wait_until_time_moves(cloud)
    executions = cloud.executions()
    described = [cloud.wait(execution["executionArn"], timeout=600) for execution in executions]

    # Then every upload's execution succeeded, with its own source imported, none lost
    assert [d["status"] for d in described] == ["SUCCEEDED"] * uploads
    for d in described:
        job = json.loads(d["output"])["job"]
        assert cloud.history(job)[-1]["items"][source_of(d, cloud)] == "FINISHED"
    jobs = imports(cloud)
    imported = [source["sourceFile"] for job in jobs for source in job.items]
    assert sorted(imported) == sorted(source_of(d, cloud) for d in described)

    # and the imports ran one at a time, each request in one of them, about ceil(N/100)+1 of them
    assert_one_at_a_time(jobs)
    assert 2 <= len(jobs) <= math.ceil(uploads / 100) + 1
    assert cloud.omics.call_count("StartReferenceImportJob") == len(jobs)
    assert all(len(job.items) <= 100 for job in jobs)

    # and in arrival order: no request of an import arrived after a request of a later one (requests that
    # arrive at the same moment are equals), and the waves arrived at different moments
    entries = queue_entries(cloud)
    assert len(entries) == uploads and len({entry["arrivedAt"] for entry in entries}) >= 3
    arrivals = {job.job_id: [e["arrivedAt"] for e in entries if e["jobId"] == job.job_id] for job in jobs}
    for earlier, later in itertools.pairwise(jobs):
        assert max(arrivals[earlier.job_id]) <= min(arrivals[later.job_id])

    # and the history of each shared import shows every source's status
    for job in jobs:
        ref = {"jobType": "REFERENCE_IMPORT", "referenceStoreId": cloud.reference_store_id, "jobId": job.job_id}
        final = cloud.history(ref)[-1]
        assert final["status"] == "COMPLETED"
        assert final["items"] == {source["sourceFile"]: "FINISHED" for source in job.items}


def test_import_started_outside_the_tracker_is_waited_for(cloud: LocalCloud) -> None:
    # Given an import started from the console that holds the store for two hours
    console = outside_import(cloud, hours=2)

    # When a reference is uploaded meanwhile
    cloud.upload("references/after-console.fa")
    [execution] = cloud.wait_for_executions(1)
    described = cloud.wait(execution["executionArn"])

    # Then its import starts only once the console's has ended, and succeeds; the store was never found busy
    assert described["status"] == "SUCCEEDED"
    [first, ours] = imports(cloud)
    assert first is console
    assert ours.created >= console.completion_time()
    assert cloud.omics.call_count("StartReferenceImportJob") == 1
    path = cloud.states_entered(described["executionArn"])
    assert path[:5] == ["Prepare", "StartOrFollow", "TakeTurn", "Turn?", "WaitForTurn"]
    # and the console's import is in the history, as the queue saw it
    ref = {"jobType": "REFERENCE_IMPORT", "referenceStoreId": cloud.reference_store_id, "jobId": console.job_id}
    assert cloud.history(ref)[-1]["status"] == "COMPLETED"


def test_source_that_fails_inside_a_shared_import_fails_only_its_own_upload(cloud: LocalCloud) -> None:
    # Given three uploads that wait together while a console import holds the store
    outside_import(cloud, hours=1)
    for name in ("a", "b", "c"):
        cloud.upload(f"references/{name}.fa")
    executions = cloud.wait_for_executions(3)
    # and b's file is gone before its import starts (HealthOmics cannot read it)
    cloud.delete_object(f"s3://{cloud.bucket}/references/b.fa")
    described = {source_of(d, cloud).rsplit("/", 1)[-1]: d for d in (cloud.wait(e["executionArn"]) for e in executions)}

    # Then the three were imported in one job, which completed with failures
    [_, shared] = imports(cloud)
    assert sorted(source["sourceFile"].rsplit("/", 1)[-1] for source in shared.items) == ["a.fa", "b.fa", "c.fa"]
    # and only b's execution failed, saying why; a's and c's succeeded
    assert described["a.fa"]["status"] == described["c.fa"]["status"] == "SUCCEEDED"
    failed = described["b.fa"]
    assert (failed["status"], failed["error"]) == ("FAILED", "Source.FAILED")
    assert failed["cause"].startswith(f"s3://{cloud.bucket}/references/b.fa: ") and "not found" in failed["cause"]
    assert cloud.states_entered(failed["executionArn"])[-3:] == ["ImportEnded", "ImportOutcome", "SourcesNotImported"]
    ref = {"jobType": "REFERENCE_IMPORT", "referenceStoreId": cloud.reference_store_id, "jobId": shared.job_id}
    final = cloud.history(ref)[-1]
    assert final["status"] == "COMPLETED_WITH_FAILURES"
    assert sorted(final["items"].values()) == ["FAILED", "FINISHED", "FINISHED"]


def test_a_file_uploaded_again_while_its_import_waits_is_imported_once_and_the_earlier_upload_says_so(
    cloud: LocalCloud,
) -> None:
    # Given a console import holding the store, and one key uploaded twice meanwhile (S3 keeps the latest content,
    # which is what HealthOmics reads when the import runs)
    outside_import(cloud, hours=1)
    cloud.upload("references/genome.fa", b">chr1\nAAAA\n")
    cloud.wait_for_executions(1)
    wait_until_time_moves(cloud)
    cloud.upload("references/genome.fa", b">chr1\nCCCC\n")
    executions = sorted(cloud.wait_for_executions(2), key=lambda execution: execution["startDate"])
    earlier, later = (cloud.wait(execution["executionArn"]) for execution in executions)

    # Then the file is imported once, by the later upload's request, which succeeded
    [_, ours] = imports(cloud)
    uri = f"s3://{cloud.bucket}/references/genome.fa"
    assert [source["sourceFile"] for source in ours.items] == [uri]
    assert cloud.omics.call_count("StartReferenceImportJob") == 1
    assert later["status"] == "SUCCEEDED"
    assert json.loads(later["output"])["job"]["jobId"] == ours.job_id
    # and the earlier upload's execution succeeded too, saying which later request imports the file's content
    assert earlier["status"] == "SUCCEEDED"
    assert cloud.states_entered(earlier["executionArn"])[-2:] == ["ImportOutcome", "SourcesSuperseded"]
    outcome = json.loads(earlier["output"])["turn"]["outcome"]
    assert outcome["supersededBy"] == later["executionArn"]
    assert outcome["sources"] == {uri: "SUPERSEDED"}
    assert outcome["cause"] == (
        f"{uri} was uploaded again before its import started; the later request imports its latest content"
    )
    # and watching the earlier upload follows the later one's import (not "ended without a job")
    watched = run_cli("watch", earlier["name"], "--interval", "0.05")
    assert watched.code == 0, watched.stderr
    assert watched.lines[-1] == f"REFERENCE_IMPORT {ours.job_id} (store {cloud.reference_store_id}) ended COMPLETED"


@pytest.mark.parametrize("busy_error", ["ServiceQuotaExceededException", "ValidationException"])
def test_store_taken_between_the_check_and_the_start_is_waited_for_whatever_the_answer(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch, busy_error: str
) -> None:
    # Given a console import that starts just before the queue's StartReferenceImportJob reaches HealthOmics
    # (after the queue found the store free), and a busy store that answers `busy_error` (AWS does not document
    # which error it is)
    cloud.omics.busy_store_error = busy_error
    started: list[Job] = []
    start = cloud.omics._op_StartReferenceImportJob

    def console_starts_first(params: dict[str, Any]) -> dict[str, Any]:
        if not started:
            started.append(outside_import(cloud, hours=1))
        return start(params)

    monkeypatch.setattr(cloud.omics, "_op_StartReferenceImportJob", console_starts_first)
    cloud.upload("references/raced.fa")
    [execution] = cloud.wait_for_executions(1)
    described = cloud.wait(execution["executionArn"])

    # Then the upload's import waited for the console's, and succeeded with the same request
    assert described["status"] == "SUCCEEDED"
    [console, ours] = imports(cloud)
    assert console is started[0]
    assert ours.created >= console.completion_time()
    assert cloud.omics.call_count("StartReferenceImportJob") == 2  # refused while the console's ran, then ours
    assert ours.items == [
        {
            "sourceFile": f"s3://{cloud.bucket}/references/raced.fa",
            "name": "raced",
            "description": f"Uploaded to s3://{cloud.bucket}/references/raced.fa",
        }
    ]


def test_request_waiting_longer_than_one_execution_keeps_its_place_across_hand_overs(short_cloud: LocalCloud) -> None:
    cloud = short_cloud  # maxPollsPerExecution = 3: a waiting request hands over after three turns
    # Given a console import holding the store for three hours, and two uploads waiting behind it
    console = outside_import(cloud, hours=3)
    cloud.upload("references/first.fa")
    [first] = cloud.wait_for_executions(1)
    wait_until_time_moves(cloud)  # the second arrives later (the same moment would make them equals)
    cloud.upload("references/second.fa")
    cloud.wait_for_executions(2)
    cloud.drain(timeout=600)

    # Then each request continued in new executions, the last of which succeeded
    executions = cloud.executions()
    ended = {e["status"] for e in executions}
    assert ended <= {"SUCCEEDED"}
    assert len(executions) > 2  # hand-overs
    inputs = [json.loads(cloud.wait(e["executionArn"])["input"]) for e in executions]
    assert any(execution_input.get("continuedFrom") for execution_input in inputs)
    # and both sources were imported after the console's import, in their arrival order
    jobs = imports(cloud)
    assert jobs[0] is console
    assert_one_at_a_time(jobs)
    imported = [source["sourceFile"].rsplit("/", 1)[-1] for job in jobs[1:] for source in job.items]
    assert imported == ["first.fa", "second.fa"]
    assert first["name"].startswith("first-fa-")
