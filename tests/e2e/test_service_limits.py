"""Races and limits of the services, as the local cloud reproduces them: a DynamoDB transaction conflict
on the wait's UpdateItem, and Step Functions' 25,000-event execution history."""

from __future__ import annotations

import json

import boto3

from localcloud.cloud import REGION, LocalCloud
from localcloud.omics import Timeline
from localcloud.patches import HISTORY_EVENT_LIMIT, DynamoDbFault


def test_wait_that_meets_a_transaction_conflict_is_retried_and_the_history_is_unchanged(cloud: LocalCloud) -> None:
    # Given the wait's UpdateItem conflicting with a JobEvents transaction on the job's STATE item
    cloud.dynamodb_faults.append(DynamoDbFault("UpdateItem", "TransactionConflictException", when="waitToken"))
    job = cloud.omics.add_job("READ_SET_EXPORT", Timeline.ending(), store_id="2222222222", items=["3333333333"])
    ref = {"jobType": "READ_SET_EXPORT", "sequenceStoreId": "2222222222", "jobId": job.job_id}

    described = cloud.wait(cloud.start_execution(ref))

    # Then the wait is retried, the execution completes, and each change is recorded once
    assert described["status"] == "SUCCEEDED"
    failures = [e for e in cloud.events(described["executionArn"]) if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failures] == ["DynamoDb.TransactionConflictException"]
    assert [e["status"] for e in cloud.history(ref)] == ["SUBMITTED", "IN_PROGRESS", "COMPLETED"]
    assert cloud.dynamodb_faults[0].remaining == 0


def test_execution_that_reaches_25000_history_events_fails(cloud: LocalCloud) -> None:
    # Given a state machine that loops through Pass states forever (each pass adds two events)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = {
        "StartAt": "Loop",
        "States": {"Loop": {"Type": "Pass", "Next": "Again"}, "Again": {"Type": "Pass", "Next": "Loop"}},
    }
    arn = sfn.create_state_machine(
        name="endless", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/x"
    )["stateMachineArn"]

    execution_arn = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    described = cloud.wait(execution_arn, timeout=120)

    # Then Step Functions' quota ends it: failed, with no more than 25,000 events
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert "25000 events" in described["cause"]
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    assert sum(len(page["events"]) for page in pages) <= HISTORY_EVENT_LIMIT
