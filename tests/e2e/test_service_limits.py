"""Races and limits of the services, as the local cloud reproduces them: a DynamoDB transaction conflict
on the wait's UpdateItem, and Step Functions' 25,000-event execution history."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta

import boto3

from localcloud.cloud import REGION, LocalCloud
from localcloud.fixes import HISTORY_EVENT_LIMIT, DynamoDbFault
from localcloud.omics import Timeline
from tracker.call_budget import BudgetRate
from tracker.contract import DEFAULTS, OMICS_RATE_LIMITS


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
    events = [event for page in pages for event in page["events"]]
    assert len(events) <= HISTORY_EVENT_LIMIT
    assert events[-1]["type"] == "ExecutionFailed"  # the closing event still fits


def _calls_per_operation(calls: list[tuple[str, datetime]]) -> dict[str, list[datetime]]:
    by_operation: dict[str, list[datetime]] = {}
    for operation, moment in calls:
        by_operation.setdefault(operation, []).append(moment)
    return {operation: sorted(moments) for operation, moments in by_operation.items()}


def test_many_jobs_with_events_lost_never_exceed_the_share_of_any_rate_limit(cloud: LocalCloud) -> None:
    # Given many jobs of every type running at once, their aws.omics events all lost (polls only), among them
    # variant imports, whose Get allows 1 call per second per account
    cloud.omics.event_delivery = "none"
    refs = []
    for number in range(24):
        timeline = Timeline.ending(submitted=60 + number, running=1800 + 37 * number)  # ends not aligned
        variant = cloud.omics.add_job("VARIANT_IMPORT", timeline, items=[f"s3://vcfs/{number}.vcf.gz"])
        export = cloud.omics.add_job("READ_SET_EXPORT", timeline, store_id="2222222222", items=["3333333333"])
        refs += [
            {"jobType": "VARIANT_IMPORT", "jobId": variant.job_id},
            {"jobType": "READ_SET_EXPORT", "sequenceStoreId": "2222222222", "jobId": export.job_id},
        ]
    for number in range(12):
        cloud.upload(f"references/limits/genome-{number}.fa")
    executions = [cloud.start_execution(ref) for ref in refs]
    executions += [e["executionArn"] for e in cloud.wait_for_executions(len(refs) + 12, timeout=120)]

    # When they are all followed to their end
    described = [cloud.wait(arn, timeout=600) for arn in set(executions)]
    assert {d["status"] for d in described} == {"SUCCEEDED"}

    # Then HealthOmics never throttled the tracker, and no second held more calls of an operation than the
    # default share (half) of its documented limit allows
    assert cloud.omics.throttled == []
    for operation, moments in _calls_per_operation(cloud.omics.calls).items():
        if operation not in OMICS_RATE_LIMITS:
            continue  # the deployment's ListReferenceStores / CreateReferenceStore
        rate = BudgetRate.for_share(OMICS_RATE_LIMITS[operation], DEFAULTS.omics_call_share)
        interval = timedelta(microseconds=rate.interval_microseconds)
        assert all(later - earlier >= interval for earlier, later in itertools.pairwise(moments)), operation
        busiest = max(
            sum(1 for other in moments if moment <= other < moment + timedelta(seconds=1)) for moment in moments
        )
        assert busiest <= max(rate.calls_per_second, 1), (operation, busiest)
    # and the variant imports' Gets were spread at most one per 2 s: that is what slowed them down together
    assert len(_calls_per_operation(cloud.omics.calls)["GetVariantImportJob"]) >= 24 * 3
    # by booking: a poll whose slot was further than it may wait took the slot, waited for it (WaitForSlot) and
    # polled with it, instead of failing with BudgetExhausted and retrying until a slot came near
    assert sum(cloud.states_entered(arn).count("WaitForSlot") for arn in executions) >= 12
    budget_failures = [
        event
        for arn in set(executions)
        for event in cloud.events(arn)
        if event["type"] == "TaskFailed" and "BudgetExhausted" in json.dumps(event)
    ]
    assert budget_failures == []
