"""`make demo`: the main job on the local cloud, start to end, printed as a user would read it.

1. Synthesize the stack (cdk-nag included) and deploy it on the local cloud.
2. Upload a small FASTA: S3 → EventBridge → trigger → state machine → StartReferenceImportJob → polls.
3. Print the execution's path and the job's status history from DynamoDB.
4. Follow a variant import and a read-set export given as console inputs, and print theirs.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from localcloud.cloud import LocalCloud, synthesize
from localcloud.omics import Timeline

FASTA = b">chr1 demo reference\nACGTACGTACGTACGTNNNNACGT\n>chr2\nTTGACCATGGCA\n"


def _print_history(cloud: LocalCloud, job: dict[str, str]) -> list[str]:
    entries = cloud.history(job)
    print(f"  history of {job['jobType']} job {job['jobId']} ({len(entries)} entries):")
    for entry in entries:
        items = ", ".join(f"{key.rsplit('/', 1)[-1]}={status}" for key, status in sorted(entry["items"].items()))
        print(
            f"    #{entry['sequence']}  {entry['observedAt']}  {entry['status']:<12} "
            f"by {entry['observedBy']:<5}  items: {items}"
        )
    return [entry["status"] for entry in entries]


def _follow(cloud: LocalCloud, execution_arn: str) -> tuple[dict[str, Any], dict[str, str]]:
    described = cloud.wait(execution_arn)
    print(f"  execution {described['name']}: {described['status']}")
    print(f"  states: {' -> '.join(cloud.states_entered(execution_arn))}")
    output = json.loads(described.get("output") or "{}")
    return described, output.get("job", {})


def main() -> int:
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module="aws_lambda_powertools")
    problems = []
    with tempfile.TemporaryDirectory(prefix="tracker-cdk-out-") as out:
        print("Synthesizing the stack (cdk synth, with cdk-nag) ...")
        cdk_out = synthesize(Path(out))
        with LocalCloud(cdk_out) as cloud:
            print(
                f"Deployed locally: bucket {cloud.bucket}, table {cloud.table}, "
                f"reference store {cloud.reference_store_id}"
            )

            key = "references/demo-genome.fa"
            print(f"\n1. Upload s3://{cloud.bucket}/{key} ({len(FASTA)} bytes)")
            cloud.upload(key, FASTA)
            execution = cloud.wait_for_executions(1)[0]
            described, job = _follow(cloud, execution["executionArn"])
            statuses = _print_history(cloud, job)
            if described["status"] != "SUCCEEDED" or statuses != ["SUBMITTED", "IN_PROGRESS", "COMPLETED"]:
                problems.append(f"reference import: {described['status']} {statuses}")

            for number, (job_type, extra, items) in enumerate(
                [
                    ("VARIANT_IMPORT", {}, ["s3://demo-variants/sample1.vcf.gz"]),
                    ("READ_SET_EXPORT", {"sequenceStoreId": "2222222222"}, ["3333333333", "4444444444"]),
                ],
                start=2,
            ):
                started = cloud.omics.add_job(
                    job_type, Timeline.ending(), store_id=extra.get("sequenceStoreId", ""), items=items
                )
                console_input = {"jobType": job_type, **extra, "jobId": started.job_id}
                print(f"\n{number}. Follow a job started elsewhere, console input: {json.dumps(console_input)}")
                described, job = _follow(cloud, cloud.start_execution(console_input))
                statuses = _print_history(cloud, job)
                if described["status"] != "SUCCEEDED" or statuses != ["SUBMITTED", "IN_PROGRESS", "COMPLETED"]:
                    problems.append(f"{job_type}: {described['status']} {statuses}")

    print("\nDemo finished: " + ("all jobs followed to COMPLETED." if not problems else f"PROBLEMS: {problems}"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
