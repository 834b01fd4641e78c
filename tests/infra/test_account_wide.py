"""Account-wide mode (context key followAllJobs): off by default; on, a scheduled sweep and JobEvents may start
executions, with exactly the List permissions of the followed kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import SettingsError, TrackerSettings
from tests.infra.stack_template import Synthesized, render, synthesize
from tracker.contract import JOB_TYPES
from tracker.settings import SweepSettings


@pytest.fixture(scope="module")
def account_wide(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    context = {"followAllJobs": ["RUN", "READ_SET_IMPORT"], "allJobsSweepMinutes": 30}
    return synthesize(tmp_path_factory.mktemp("cdk.out"), context=context)


def test_the_mode_is_off_by_default_no_sweep_and_job_events_start_nothing(synth: Synthesized) -> None:
    assert synth.stack.sweep is None
    assert not synth.of_type("AWS::Events::Rule").keys() - {
        synth.logical_id("JobEvents/JobStatusChanged"),
        synth.logical_id("UploadTrigger/ReferenceUploaded"),
    }
    statements = synth.statements_of_role("JobEvents/Function/ServiceRole")
    assert not [s for s in statements if "states:StartExecution" in s["Action"]]


def test_the_sweep_runs_on_the_configured_schedule_with_its_failure_queues(account_wide: Synthesized) -> None:
    rule = account_wide.resource("AccountWide/SweepSchedule")["Properties"]

    assert rule["ScheduleExpression"] == "rate(30 minutes)"
    (target,) = rule["Targets"]
    assert render(target["Arn"]) == f"${{{account_wide.logical_id('AccountWide/Function')}.Arn}}"
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 1800, "MaximumRetryAttempts": 2}
    assert "DeadLetterConfig" in target


def test_the_sweep_reads_the_followed_kinds_and_looks_two_periods_back(account_wide: Synthesized) -> None:
    variables = account_wide.resource("AccountWide/Function")["Properties"]["Environment"]["Variables"]
    environment = {key: render(value) for key, value in variables.items()}

    settings = SweepSettings.model_validate(environment)

    assert settings.follow_all_jobs == ("READ_SET_IMPORT", "RUN")
    assert settings.sweep_lookback_seconds == 3600


def test_the_sweep_may_list_only_the_followed_kinds_and_start_executions(account_wide: Synthesized) -> None:
    statements = account_wide.statements_of_role("AccountWide/Function/ServiceRole")
    omics = {(action, resource) for s in statements for action in s["Action"] for resource in s["Resource"]}
    omics = {(action, resource) for action, resource in omics if action.startswith("omics:")}

    sequence_stores = "arn:${AWS::Partition}:omics:${AWS::Region}:${AWS::AccountId}:sequenceStore/*"
    assert omics == {
        ("omics:ListRuns", "*"),
        ("omics:ListSequenceStores", "*"),
        ("omics:ListReadSetImportJobs", sequence_stores),
    }
    machine = f"${{{account_wide.logical_id('Workflow/StateMachine')}}}"
    assert {"Action": ["states:StartExecution"], "Effect": "Allow", "Resource": [machine]} in statements


def test_job_events_may_start_executions_in_account_wide_mode(account_wide: Synthesized) -> None:
    statements = account_wide.statements_of_role("JobEvents/Function/ServiceRole")
    variables = account_wide.resource("JobEvents/Function")["Properties"]["Environment"]["Variables"]

    (starts,) = [s for s in statements if "states:StartExecution" in s["Action"]]
    assert starts["Resource"] == [f"${{{account_wide.logical_id('Workflow/StateMachine')}}}"]
    assert render(variables["FOLLOW_ALL_JOBS"]) == '["READ_SET_IMPORT", "RUN"]'


@pytest.mark.parametrize(
    ("value", "kinds"),
    [
        (True, tuple(JOB_TYPES)),
        (False, ()),
        ([], ()),
        ("true", 6),
        ("RUN, READ_SET_IMPORT", ("READ_SET_IMPORT", "RUN")),
    ],
)
def test_follow_all_jobs_takes_true_false_or_job_types(value: object, kinds: object) -> None:
    followed = TrackerSettings.model_validate({"followAllJobs": value}).follow_all_jobs

    assert (len(followed) if isinstance(kinds, int) else followed) == kinds


def test_an_unknown_job_type_stops_synthesis_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"invalid value for 'followAllJobs': 'RUNS': not a job type"):
        synthesize(tmp_path, context={"followAllJobs": ["RUNS"]})


def test_the_sweeps_errors_and_failure_queues_have_alarms_sent_to_the_topic(account_wide: Synthesized) -> None:
    topic = f"${{{account_wide.logical_id('Notifications/Topic')}}}"
    paths = ("Monitoring/SweepErrors", "AccountWide/DeadLettersAlarm", "AccountWide/FailuresAlarm")
    for path in paths:
        alarm = account_wide.resource(path)["Properties"]
        assert [render(action) for action in alarm["AlarmActions"]] == [topic], path


def test_the_sweeps_queues_are_stack_outputs_that_omics_tracker_failures_reads(account_wide: Synthesized) -> None:
    outputs = account_wide.json["Outputs"]

    for name, path in (
        ("SweepDeadLetterQueueUrl", "AccountWide/DeadLetters"),
        ("SweepFailureQueueUrl", "AccountWide/Failures"),
    ):
        assert outputs[name]["Value"] == {"Ref": account_wide.logical_id(path)}


def test_prepare_reads_the_history_only_in_account_wide_mode(synth: Synthesized, account_wide: Synthesized) -> None:
    def table_actions(stack: Synthesized) -> set[str]:
        statements = stack.statements_of_role("Workflow/PrepareFunction/ServiceRole")
        return {action for s in statements for action in s["Action"] if action.startswith("dynamodb:")}

    assert table_actions(synth) == {"dynamodb:UpdateItem"}
    assert table_actions(account_wide) == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
