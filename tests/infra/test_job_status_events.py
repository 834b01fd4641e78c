"""The aws.omics rule: HealthOmics job status-change events reach the JobEvents function, and nothing else."""

from __future__ import annotations

from typing import Any

from tests.infra.stack_template import Synthesized, render
from tracker.contract import JOB_TYPES


def _rule(synth: Synthesized) -> dict[str, Any]:
    return synth.resource("JobEvents/JobStatusChanged")["Properties"]


def test_rule_matches_the_status_events_of_every_job_type_in_the_table(synth: Synthesized) -> None:
    pattern = _rule(synth)["EventPattern"]

    assert pattern == {"source": ["aws.omics"], "detail-type": [spec.event_detail_type for spec in JOB_TYPES.values()]}


def test_rule_targets_the_job_event_function_with_retries_and_a_dead_letter_queue(synth: Synthesized) -> None:
    [target] = _rule(synth)["Targets"]

    assert render(target["Arn"]) == render({"Fn::GetAtt": [synth.logical_id("JobEvents/Function"), "Arn"]})
    assert render(target["DeadLetterConfig"]["Arn"]) == render(
        {"Fn::GetAtt": [synth.logical_id("JobEvents/DeadLetters"), "Arn"]}
    )
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 4}
    assert "InputTransformer" not in target  # the handler reads the event as HealthOmics sent it


def test_job_event_function_may_only_record_history_read_jobs_and_answer_tokens(synth: Synthesized) -> None:
    table_arn = render({"Fn::GetAtt": [synth.logical_id("Storage/History"), "Arn"]})
    statements = [
        s
        for s in synth.statements_of_role("JobEvents/Function/ServiceRole")
        if any("dynamodb:" in a for a in s["Action"])
    ]

    assert [(s["Action"], s["Resource"]) for s in statements] == [
        (["dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], [table_arn])
    ]
    actions = {a for s in synth.statements_of_role("JobEvents/Function/ServiceRole") for a in s["Action"]}
    # it reads the job (item statuses) and answers the waiting execution's token, nothing more
    assert {a for a in actions if a.startswith(("omics:", "states:", "s3:"))} == {
        *(spec.iam_action for spec in JOB_TYPES.values()),
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
        "states:SendTaskSuccess",
    }
