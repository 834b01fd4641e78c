"""The aws.omics rule: HealthOmics job status-change events reach the JobEvent function, and nothing else."""

from __future__ import annotations

from typing import Any

from stack_template import Synthesized, render

from infra.job_events import JOB_STATUS_DETAIL_TYPES
from tracker.job_types import JOB_TYPES


def _rule(synth: Synthesized) -> dict[str, Any]:
    return synth.resource("JobEvents/JobStatusChanged")["Properties"]


def test_rule_matches_the_status_events_of_every_job_type_in_the_table(synth: Synthesized) -> None:
    pattern = _rule(synth)["EventPattern"]

    assert pattern == {"source": ["aws.omics"], "detail-type": list(JOB_STATUS_DETAIL_TYPES)}
    # the infra list and the handler's job-type table cannot drift apart
    assert set(JOB_STATUS_DETAIL_TYPES) == {spec.event_detail_type for spec in JOB_TYPES.values()}


def test_rule_targets_the_job_event_function_with_retries_and_a_dead_letter_queue(synth: Synthesized) -> None:
    [target] = _rule(synth)["Targets"]

    assert render(target["Arn"]) == render({"Fn::GetAtt": [synth.logical_id("Functions/JobEvent"), "Arn"]})
    assert render(target["DeadLetterConfig"]["Arn"]) == render(
        {"Fn::GetAtt": [synth.logical_id("JobEvents/DeadLetters"), "Arn"]}
    )
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 4}
    assert "InputTransformer" not in target  # the handler reads the event as HealthOmics sent it


def test_job_event_function_may_only_record_history_read_jobs_and_answer_tokens(synth: Synthesized) -> None:
    table_arn = render({"Fn::GetAtt": [synth.logical_id("Storage/History"), "Arn"]})
    statements = [
        s
        for s in synth.statements_of_role("Functions/JobEvent/ServiceRole")
        if any("dynamodb:" in a for a in s["Action"])
    ]

    assert [(s["Action"], s["Resource"]) for s in statements] == [
        (["dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], [table_arn])
    ]
    actions = {a for s in synth.statements_of_role("Functions/JobEvent/ServiceRole") for a in s["Action"]}
    # it reads the job (item statuses) and answers the waiting execution's token, nothing more
    assert {a for a in actions if a.startswith(("omics:", "states:", "s3:"))} == {
        "omics:GetReferenceImportJob",
        "omics:GetReadSetExportJob",
        "omics:GetVariantImportJob",
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
        "states:SendTaskSuccess",
    }
