"""`make demo`: the main job on the local cloud, start to end, printed as a user would read it.

1. Synthesize the stack (cdk-nag included) and deploy it on the local cloud.
2. Upload a small FASTA: S3 → EventBridge → trigger → state machine → StartReferenceImportJob → polls.
3. Print the execution's path, and the job as `omics-tracker show` prints it (state, items, history, timeline).
4. Follow a variant import and a read-set export given as console inputs, and print theirs.
5. List every job with `omics-tracker jobs`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import boto3
import typer

from localcloud.cloud import REGION, LocalCloud, synthesize
from localcloud.omics import Timeline
from tracker_cli.main import app as cli

FASTA = b">chr1 demo reference\nACGTACGTACGTACGTNNNNACGT\n>chr2\nTTGACCATGGCA\n"


def omics_tracker(*args: str) -> None:
    """Print what `omics-tracker ARGS` prints (the CLI, run in this process against the local cloud)."""
    print(f"\n  $ omics-tracker {' '.join(args)}")
    command = typer.main.get_command(cli)
    try:
        command.main(list(args), prog_name="omics-tracker", standalone_mode=False)
    except SystemExit as stopped:  # the CLI's exit status (watch: 1 for a job that did not complete)
        if stopped.code not in (0, None):
            raise


def _subscribe_queue(cloud: LocalCloud) -> str:
    """An SQS queue subscribed to the notification topic: what an e-mail subscriber would read lands here."""
    sqs, sns = boto3.client("sqs", region_name=REGION), boto3.client("sns", region_name=REGION)
    url = sqs.create_queue(QueueName="demo-notifications")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=cloud.output("NotificationTopicArn"), Protocol="sqs", Endpoint=arn)
    return str(url)


def _print_notifications(queue_url: str) -> None:
    messages = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    for message in messages.get("Messages", []):
        body = json.loads(message["Body"])
        print(f"\n  Notification (SNS topic): {body['Subject']}")
        print("\n".join(f"    {line}" for line in body["Message"].splitlines()))


def _statuses(cloud: LocalCloud, job: dict[str, str]) -> list[str]:
    return [entry["status"] for entry in cloud.history(job)]


def _follow(cloud: LocalCloud, execution_arn: str) -> tuple[dict[str, Any], dict[str, str]]:
    described = cloud.wait(execution_arn)
    print(f"  execution {described['name']}: {described['status']}")
    print(f"  states: {' -> '.join(cloud.states_entered(execution_arn))}")
    output = json.loads(described.get("output") or "{}")
    return described, output.get("job", {})


def main() -> int:
    # The CLI's tables are as wide as the terminal; piped (CI, `| less`), Rich would assume 80 columns.
    os.environ.setdefault("COLUMNS", str(max(shutil.get_terminal_size((120, 24)).columns, 120)))
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

            notifications = _subscribe_queue(cloud)
            key = "references/demo-genome.fa"
            print(f"\n1. Upload s3://{cloud.bucket}/{key} ({len(FASTA)} bytes)")
            cloud.upload(key, FASTA)
            execution = cloud.wait_for_executions(1)[0]
            described, job = _follow(cloud, execution["executionArn"])
            omics_tracker("show", f"s3://{cloud.bucket}/{key}")
            cloud.drain()
            _print_notifications(notifications)
            statuses = _statuses(cloud, job)
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
                omics_tracker("show", described["name"])
                statuses = _statuses(cloud, job)
                if described["status"] != "SUCCEEDED" or statuses != ["SUBMITTED", "IN_PROGRESS", "COMPLETED"]:
                    problems.append(f"{job_type}: {described['status']} {statuses}")

            print("\n4. Every job the tracker knows, newest change first")
            omics_tracker("jobs")

    print("\nDemo finished: " + ("all jobs followed to COMPLETED." if not problems else f"PROBLEMS: {problems}"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
