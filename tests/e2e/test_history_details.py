"""What the history keeps besides statuses: why each source failed, and when HealthOmics says the job
was created and ended (next to when the tracker observed it)."""

from __future__ import annotations

from localcloud.cloud import LocalCloud


def test_import_with_a_missing_source_records_why_it_failed_and_when_the_job_really_ended(cloud: LocalCloud) -> None:
    # Given a console import of two sources, one of which does not exist
    cloud.put_object("s3://my-genomes/present.fa")
    present, missing = "s3://my-genomes/present.fa", "s3://my-genomes/missing.fa"
    console_input = {"jobType": "REFERENCE_IMPORT", "sources": [{"sourceFile": present}, {"sourceFile": missing}]}

    described = cloud.wait(cloud.start_execution(console_input))

    # Then the request fails because one of its own sources failed, saying which and why, and the last entry
    # says it too
    assert (described["status"], described["error"]) == ("FAILED", "Source.FAILED")
    assert described["cause"].startswith(f"{missing}: ") and "not found" in described["cause"]
    [job] = cloud.omics.jobs.values()
    ref = {"jobType": "REFERENCE_IMPORT", "referenceStoreId": job.store_id, "jobId": job.job_id}
    entries = cloud.history(ref)
    last = entries[-1]
    assert (last["status"], last["items"]) == ("COMPLETED_WITH_FAILURES", {present: "FINISHED", missing: "FAILED"})
    assert set(last["itemMessages"]) == {missing}
    assert "not found" in last["itemMessages"][missing]
    # and HealthOmics' own times are kept next to the time the change was observed
    assert {entry["creationTime"] for entry in entries} == {job.created.isoformat()}
    assert last["completionTime"] == job.completion_time().isoformat()
    assert "completionTime" not in entries[0]
