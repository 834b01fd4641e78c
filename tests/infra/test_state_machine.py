"""The state machine definition, read from the synthesized template (tokens become ${...} placeholders)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.infra.stack_template import Synthesized
from tracker.contract import FATAL_POLL_ERRORS, RETRYABLE_ERRORS, SUCCESS_STATUS, TERMINAL_STATUSES, InvalidInput
from tracker.steps import PollOutcome, StartImport

RETRYABLE_NAMES = [error.__name__ for error in RETRYABLE_ERRORS]
FAIL_STATES = {
    "JobFailed": "Job.FAILED",
    "JobCancelled": "Job.CANCELLED",
    "JobCompletedWithFailures": "Job.COMPLETED_WITH_FAILURES",
}


def _states(synth: Synthesized) -> dict[str, Any]:
    return synth.definition["States"]


def _targets(state: dict[str, Any]) -> set[str]:
    targets = {choice["Next"] for choice in state.get("Choices", [])}
    targets |= {catch["Next"] for catch in state.get("Catch", [])}
    targets |= {state[key] for key in ("Next", "Default") if key in state}
    return targets


def _choice_targets(state: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    return [({k: v for k, v in choice.items() if k != "Next"}, choice["Next"]) for choice in state["Choices"]]


def _retry(state: dict[str, Any], error: str) -> dict[str, Any]:
    (retrier,) = [retrier for retrier in state["Retry"] if error in retrier["ErrorEquals"]]
    return retrier


def _paths(definition: Any, prefix: str) -> set[str]:
    """Every field below ``prefix`` (e.g. "$.poll.") that the definition reads."""
    found: set[str] = set()
    if isinstance(definition, dict):
        for value in definition.values():
            found |= _paths(value, prefix)
    elif isinstance(definition, list):
        for value in definition:
            found |= _paths(value, prefix)
    elif isinstance(definition, str):
        found |= set(re.findall(re.escape(prefix) + r"(\w+)", definition))
    return found


# --- shape of the workflow ---------------------------------------------------------------------------


def test_execution_starts_by_preparing_the_input(synth: Synthesized) -> None:
    assert synth.definition["StartAt"] == "Prepare"
    assert _states(synth)["Prepare"]["Next"] == "StartOrFollow"


def test_start_or_follow_starts_an_import_only_when_prepare_asks_for_one(synth: Synthesized) -> None:
    state = _states(synth)["StartOrFollow"]

    assert state["Type"] == "Choice"
    assert _choice_targets(state) == [({"Variable": "$.start", "IsPresent": True}, "StartReferenceImport")]
    assert state["Default"] == "PollJob"


def test_a_started_import_is_polled(synth: Synthesized) -> None:
    assert _states(synth)["StartReferenceImport"]["Next"] == "PollJob"
    assert _states(synth)["PollJob"]["Next"] == "JobFinished?"


def test_job_finished_waits_while_running_and_ends_named_for_the_final_status(synth: Synthesized) -> None:
    state = _states(synth)["JobFinished?"]

    assert state["Type"] == "Choice"
    assert _choice_targets(state) == [
        ({"Variable": "$.poll.continueAsNew", "BooleanEquals": True}, "ContinueAsNew"),
        ({"Variable": "$.poll.terminal", "BooleanEquals": False}, "WaitForChangeOrTimeout"),
        ({"Variable": "$.poll.succeeded", "BooleanEquals": True}, "JobCompleted"),
        ({"Variable": "$.poll.status", "StringEquals": "FAILED"}, "JobFailed"),
        ({"Variable": "$.poll.status", "StringEquals": "CANCELLED"}, "JobCancelled"),
        ({"Variable": "$.poll.status", "StringEquals": "COMPLETED_WITH_FAILURES"}, "JobCompletedWithFailures"),
    ]
    assert _states(synth)[state["Default"]]["Type"] == "Fail"


def test_every_unsuccessful_terminal_status_has_its_own_ending(synth: Synthesized) -> None:
    choices = _states(synth)["JobFinished?"]["Choices"]
    named = {choice["StringEquals"] for choice in choices if choice["Variable"] == "$.poll.status"}

    assert named == TERMINAL_STATUSES - {SUCCESS_STATUS}


def test_wait_parks_a_task_token_with_the_job_and_polls_again_on_wake_or_timeout(synth: Synthesized) -> None:
    state = _states(synth)["WaitForChangeOrTimeout"]

    assert state["Type"] == "Task"
    assert state["Resource"].endswith(":states:::aws-sdk:dynamodb:updateItem.waitForTaskToken")
    # the backoff is the timeout: no event within it means "poll now"
    assert state["TimeoutSecondsPath"] == "$.poll.waitSeconds"
    assert state["Next"] == "PollJob"
    parameters = state["Parameters"]
    assert parameters["Key"] == {"pk": {"S.$": "$.poll.jobKey"}, "sk": {"S": "STATE"}}
    assert parameters["UpdateExpression"] == "SET waitToken = :token"
    # an event recorded between the poll and this write makes the condition fail: poll at once
    assert parameters["ConditionExpression"] == "version = :version AND terminal = :running"
    assert parameters["ExpressionAttributeValues"][":token"] == {"S.$": "$$.Task.Token"}
    assert parameters["ExpressionAttributeValues"][":version"] == {"N.$": "States.Format('{}', $.poll.historyVersion)"}
    catches = {error: catch["Next"] for catch in state["Catch"] for error in catch["ErrorEquals"]}
    assert catches == {"States.Timeout": "PollJob", "DynamoDb.ConditionalCheckFailedException": "PollJob"}


def test_completed_job_ends_in_success(synth: Synthesized) -> None:
    assert _states(synth)["JobCompleted"] == {"Type": "Succeed"}


@pytest.mark.parametrize(("state_name", "error"), FAIL_STATES.items())
def test_unsuccessful_job_fails_the_execution_with_the_status_and_its_message(
    synth: Synthesized, state_name: str, error: str
) -> None:
    state = _states(synth)[state_name]

    assert state["Type"] == "Fail"
    assert state["Error"] == error
    assert state["CausePath"] == "$.poll.statusMessage"


def test_every_transition_leads_to_a_state_and_every_state_is_reachable(synth: Synthesized) -> None:
    states = _states(synth)
    reachable, frontier = set(), [synth.definition["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name in reachable:
            continue
        assert name in states, f"transition to missing state {name}"
        reachable.add(name)
        frontier.extend(_targets(states[name]))

    assert reachable == set(states)


def test_only_succeed_and_fail_states_end_the_execution(synth: Synthesized) -> None:
    for name, state in _states(synth).items():
        if state["Type"] not in ("Succeed", "Fail"):
            assert _targets(state) and not state.get("End"), name


# --- retries and error routing -------------------------------------------------------------------------


def test_poll_retries_throttling_and_outages_with_capped_jittered_backoff(synth: Synthesized) -> None:
    poll = _states(synth)["PollJob"]

    for error in RETRYABLE_NAMES:
        retrier = _retry(poll, error)
        assert retrier["JitterStrategy"] == "FULL"
        assert retrier["MaxDelaySeconds"] >= retrier["IntervalSeconds"]
        assert retrier["BackoffRate"] > 1
        assert retrier["MaxAttempts"] > 1


def test_poll_retry_names_match_the_errors_the_handlers_raise(synth: Synthesized) -> None:
    assert set(RETRYABLE_NAMES) == {"ServiceThrottled", "ServiceUnavailable"}
    retried = {error for retrier in _states(synth)["PollJob"]["Retry"] for error in retrier["ErrorEquals"]}
    assert retried >= set(RETRYABLE_NAMES)


def test_fatal_poll_errors_end_the_execution_cleanly(synth: Synthesized) -> None:
    (catch,) = _states(synth)["PollJob"]["Catch"]

    assert set(catch["ErrorEquals"]) == {e.__name__ for e in FATAL_POLL_ERRORS}
    assert catch["ResultPath"] == "$.error"
    assert _states(synth)[_states(synth)[catch["Next"]]["Next"]]["Type"] == "Fail"


def test_invalid_input_fails_in_prepare_before_anything_is_started(synth: Synthesized) -> None:
    (catch,) = _states(synth)["Prepare"]["Catch"]

    assert catch["ErrorEquals"] == [InvalidInput.__name__]
    assert _states(synth)[_states(synth)[catch["Next"]]["Next"]]["Type"] == "Fail"


def test_busy_reference_store_is_retried_patiently(synth: Synthesized) -> None:
    retrier = _retry(_states(synth)["StartReferenceImport"], "Omics.ServiceQuotaExceededException")

    assert retrier["IntervalSeconds"] >= 60
    assert retrier["MaxDelaySeconds"] >= 600
    assert retrier["JitterStrategy"] == "FULL"


def test_transient_start_errors_are_retried_quickly(synth: Synthesized) -> None:
    for error in ("Omics.ThrottlingException", "Omics.InternalServerException"):
        retrier = _retry(_states(synth)["StartReferenceImport"], error)
        assert retrier["IntervalSeconds"] < 60
        assert retrier["JitterStrategy"] == "FULL"


def test_rejected_import_request_fails_the_execution(synth: Synthesized) -> None:
    (catch,) = _states(synth)["StartReferenceImport"]["Catch"]

    assert "Omics.ValidationException" in catch["ErrorEquals"]
    assert "Omics.ServiceQuotaExceededException" not in catch["ErrorEquals"]
    assert _states(synth)[catch["Next"]]["Type"] == "Fail"


# --- data passed between states ------------------------------------------------------------------------


def test_start_reference_import_calls_healthomics_with_the_prepared_request_and_the_import_role(
    synth: Synthesized,
) -> None:
    state = _states(synth)["StartReferenceImport"]

    assert state["Resource"].endswith(":states:::aws-sdk:omics:startReferenceImportJob")
    assert state["Parameters"] == {
        "ReferenceStoreId.$": "$.start.ReferenceStoreId",
        "RoleArn": f"${{{synth.logical_id('Storage/ImportRole')}.Arn}}",
        "ClientToken.$": "$.start.ClientToken",
        "Sources.$": "$.start.Sources",
    }


def test_started_job_becomes_the_job_to_poll(synth: Synthesized) -> None:
    state = _states(synth)["StartReferenceImport"]

    assert state["ResultPath"] == "$.job"
    assert state["ResultSelector"] == {
        "jobType": "REFERENCE_IMPORT",
        "referenceStoreId.$": "$.ReferenceStoreId",
        "jobId.$": "$.Id",
    }


def test_poll_result_replaces_only_the_poll_state(synth: Synthesized) -> None:
    state = _states(synth)["PollJob"]

    assert state["ResultPath"] == "$.poll"
    assert state["Parameters"]["job.$"] == "$.job"
    assert state["Parameters"]["poll.$"] == "$.poll"


def _aliases(model: type[PollOutcome] | type[StartImport]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def test_definition_reads_only_fields_prepare_produces(synth: Synthesized) -> None:
    assert _paths(synth.definition, "$.start.") == _aliases(StartImport)


def test_definition_reads_only_fields_the_poll_handler_returns(synth: Synthesized) -> None:
    read = _paths(synth.definition, "$.poll.")

    assert read <= _aliases(PollOutcome)
    assert {"waitSeconds", "jobKey", "historyVersion", "terminal", "status", "nextInput"} <= read


# --- the state machine resource ------------------------------------------------------------------------


def test_state_machine_is_standard_with_full_logging_and_tracing(synth: Synthesized) -> None:
    properties = synth.resource("Workflow/StateMachine")["Properties"]

    assert properties["StateMachineType"] == "STANDARD"
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    assert properties["LoggingConfiguration"]["IncludeExecutionData"] is True
    assert properties["TracingConfiguration"] == {"Enabled": True}


def test_execution_timeout_comes_from_the_settings(synth: Synthesized) -> None:
    assert synth.definition["TimeoutSeconds"] == synth.settings.execution_timeout_days * 86400


def test_execution_logs_keep_the_configured_retention(synth: Synthesized) -> None:
    destinations = synth.resource("Workflow/StateMachine")["Properties"]["LoggingConfiguration"]["Destinations"]
    (destination,) = destinations
    log_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]

    assert synth.resources[log_group]["Properties"]["RetentionInDays"] == synth.settings.log_retention_days
