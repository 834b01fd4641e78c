"""The local cloud gives the same result on every run, whatever the threads do: actors take turns on the simulated
clock in an order that does not depend on thread timing (localcloud/clock.py, TurnClock)."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

from localcloud.omics import Timeline
from tests.e2e.conftest import running_cloud


def _busy(stop: threading.Event) -> None:
    """Competes for the interpreter, so the cloud's threads are scheduled differently from the other run."""
    while not stop.is_set():
        sum(range(10_000))


def _stable(name: str) -> str:
    return name.rsplit("-", 1)[0] if name.startswith("genome-") else name


def _run(cdk_out: Path, noisy: bool) -> dict[str, Any]:
    stop = threading.Event()
    noise = [threading.Thread(target=_busy, args=(stop,), daemon=True) for _ in range(3 if noisy else 0)]
    for thread in noise:
        thread.start()
    try:
        with contextlib.contextmanager(running_cloud)(cdk_out) as cloud:
            cloud.omics.event_delivery = "none"  # polls only: every execution's schedule meets the call budget
            refs = []
            with cloud.at_one_moment():
                for number in range(8):
                    timeline = Timeline.ending(submitted=60 + number, running=1_800 + 37 * number)
                    variant = cloud.omics.add_job("VARIANT_IMPORT", timeline, items=[f"s3://vcfs/{number}.vcf.gz"])
                    export = cloud.omics.add_job(
                        "READ_SET_EXPORT", timeline, store_id="2222222222", items=["3333333333"]
                    )
                    refs += [
                        {"jobType": "VARIANT_IMPORT", "jobId": variant.job_id},
                        {"jobType": "READ_SET_EXPORT", "sequenceStoreId": "2222222222", "jobId": export.job_id},
                    ]
                for index, ref in enumerate(refs):
                    cloud.start_execution(ref, name=f"follow-{index}")
                for number in range(6):
                    cloud.upload(f"references/same/genome-{number}.fa")
            cloud.drain(timeout=600)
            executions = sorted(cloud.executions(), key=lambda execution: execution["name"])
            imports = [job for job in cloud.omics.jobs.values() if job.job_type == "REFERENCE_IMPORT"]
            refs += [
                {"jobType": "REFERENCE_IMPORT", "referenceStoreId": cloud.reference_store_id, "jobId": job.job_id}
                for job in imports
            ]
            return {
                # (an upload's execution is named for its key and its S3 event, whose id differs on every run)
                "paths": {
                    _stable(e["name"]): (e["status"], cloud.states_entered(e["executionArn"])) for e in executions
                },
                "histories": [
                    [(entry["status"], entry["observedBy"], entry["observedAt"]) for entry in cloud.history(ref)]
                    for ref in refs
                ],
                "calls": list(cloud.omics.calls),
            }
    finally:
        stop.set()


def test_the_same_jobs_give_the_same_paths_histories_and_calls_on_every_run(cdk_out: Path) -> None:
    # Given the same jobs and uploads, run twice on fresh clouds: once quietly, once with threads competing
    quiet, noisy = _run(cdk_out, noisy=False), _run(cdk_out, noisy=True)

    # Then every execution took the same path to the same end, every job's history was recorded with the same
    # statuses by the same observer at the same simulated moments, and HealthOmics saw the same calls
    assert set(quiet["paths"]) == set(noisy["paths"]) and len(quiet["paths"]) == 16 + 6
    assert {status for status, _ in quiet["paths"].values()} == {"SUCCEEDED"}
    assert quiet["paths"] == noisy["paths"]
    assert quiet["histories"] == noisy["histories"]
    assert quiet["calls"] == noisy["calls"]
