"""The state machine definition, read from the synthesized template (tokens become ${...} placeholders)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.infra.stack_template import FUNCTION_PATHS, Synthesized
from tracker.contract import (
    FATAL_POLL_ERRORS,
    RETRYABLE_ERRORS,
    SUCCESS_STATUS,
    TERMINAL_STATUSES,
    BudgetExhausted,
    InvalidInput,
)
from tracker.import_queue_table import Outcome
from tracker.steps import CamelModel, PollOutcome, Turn, TurnAction

RETRYABLE_NAMES = [error.__name__ for error in RETRYABLE_ERRORS]
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.TooManyRequestsException",
    "Sandbox.Timedout",
]
TABLE_ERRORS = [
    "DynamoDb.ProvisionedThroughputExceededException",
    "DynamoDb.RequestLimitExceededException",
    "DynamoDb.InternalServerErrorException",
    "DynamoDb.ThrottlingException",
    "DynamoDb.TransactionConflictException",
]


def _retrier(errors: list[str], interval: int, rate: float, attempts: int, max_delay: int) -> dict[str, Any]:
    return {
        "ErrorEquals": errors,
        "IntervalSeconds": interval,
        "BackoffRate": rate,
        "MaxAttempts": attempts,
        "MaxDelaySeconds": max_delay,
        "JitterStrategy": "FULL",
    }


# The backoffs (infra.workflow): a Lambda hiccup, the tracker's HealthOmics call budget taken, HealthOmics
# throttling or an outage, DynamoDB throttling.
QUICK_LAMBDA_RETRY = _retrier(LAMBDA_SERVICE_ERRORS, 2, 2, 6, 60)
BUDGET_RETRY = _retrier([BudgetExhausted.__name__], 10, 1.5, 40, 900)
PATIENT_RETRY = _retrier(RETRYABLE_NAMES, 5, 2, 8, 300)
TABLE_RETRY = _retrier(TABLE_ERRORS, 1, 2, 5, 30)
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


BOOKED = {"Variable": "$.poll.bookedSlot", "IsPresent": True}
QUEUED_IMPORT_ENDED_OR_HANDING_OVER = {
    "And": [
        {"Variable": "$.turn", "IsPresent": True},
        {
            "Or": [
                {"Variable": "$.poll.terminal", "BooleanEquals": True},
                {"Variable": "$.poll.continueAsNew", "BooleanEquals": True},
            ]
        },
    ]
}


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


def test_start_or_follow_queues_an_import_request_only_when_prepare_asks_for_one(synth: Synthesized) -> None:
    state = _states(synth)["StartOrFollow"]

    assert state["Type"] == "Choice"
    # An import request takes its turn in the store's queue; a job started elsewhere is waited for at once (its
    # first event, recorded on Prepare's follow marker, or the first poll's time).
    # An execution account-wide mode started ends if another one began to follow the job before its Prepare.
    assert _choice_targets(state) == [
        ({"Variable": "$.start", "IsPresent": True}, "TakeTurn"),
        ({"Variable": "$.followedElsewhere", "IsPresent": True}, "FollowedElsewhere"),
    ]
    assert state["Default"] == "WaitForChangeOrTimeout"
    assert _states(synth)["FollowedElsewhere"]["Type"] == "Succeed"


def test_the_state_machine_never_calls_healthomics_itself(synth: Synthesized) -> None:
    # Imports are started by the TakeTurn function, one at a time per store; no aws-sdk:omics task is left.
    resources = [state.get("Resource", "") for state in _states(synth).values()]

    assert not [resource for resource in resources if ":omics:" in resource]
    assert "StartReferenceImport" not in _states(synth)
    assert _paths(synth.definition, "$.start.") == set()  # the request reaches TakeTurn whole, with the state


def test_take_turn_hands_the_whole_execution_state_to_the_queue_function(synth: Synthesized) -> None:
    state = _states(synth)["TakeTurn"]

    assert state["Type"] == "Task"
    assert state["Resource"] == f"${{{synth.logical_id(FUNCTION_PATHS['TakeTurn'])}.Arn}}"  # the payload only
    assert state["Parameters"] == {"execution.$": "$", "executionArn.$": "$$.Execution.Id"}
    # The turn is kept beside the request: the next turn (and the JobFinished? rule) finds it at $.turn.
    assert state["ResultPath"] == "$.turn"
    assert state["Next"] == "Turn?"


def test_turn_routes_each_action_the_queue_returns_and_fails_on_any_other(synth: Synthesized) -> None:
    state = _states(synth)["Turn?"]

    assert state["Type"] == "Choice"
    assert _choice_targets(state) == [
        ({"Variable": "$.turn.action", "StringEquals": "follow"}, "LeadImport"),
        ({"Variable": "$.turn.action", "StringEquals": "wait"}, "WaitForTurn"),
        ({"Variable": "$.turn.action", "StringEquals": "handover"}, "HandOverTurn"),
        ({"Variable": "$.turn.action", "StringEquals": "done"}, "ImportEnded"),
    ]
    # one route for each action the queue can return
    assert [condition["StringEquals"] for condition, _ in _choice_targets(state)] == list(TurnAction)
    assert state["Default"] == "UnknownTurn"
    assert _states(synth)["UnknownTurn"] == {
        "Type": "Fail",
        "Error": "Queue.UNKNOWN_ACTION",
        "CausePath": "$.turn.action",
    }


def test_the_request_leading_its_import_follows_the_started_job_by_polling(synth: Synthesized) -> None:
    state = _states(synth)["LeadImport"]

    # Given the queue started the import with this request first, when it says "follow",
    # then the job it names becomes the job to poll, and the poll loop follows it for the whole batch.
    assert (state["Type"], state["InputPath"], state["ResultPath"]) == ("Pass", "$.turn.job", "$.job")
    assert state["Next"] == "PollJob"
    assert _states(synth)["PollJob"]["Next"] == "JobFinished?"


def test_a_waiting_request_parks_its_task_token_on_its_queue_entry_and_takes_another_turn(synth: Synthesized) -> None:
    state = _states(synth)["WaitForTurn"]

    assert state["Type"] == "Task"
    assert state["Resource"].endswith(":states:::aws-sdk:dynamodb:updateItem.waitForTaskToken")
    # the queue decides how long: no wake-up within it means "look again"
    assert state["TimeoutSecondsPath"] == "$.turn.waitSeconds"
    parameters = state["Parameters"]
    assert parameters["TableName"] == f"${{{synth.logical_id('Storage/History')}}}"
    assert parameters["Key"] == {"pk": {"S.$": "$.turn.entryPk"}, "sk": {"S.$": "$.turn.entrySk"}}
    assert parameters["UpdateExpression"] == "SET waitToken = :token"
    # a queue move since TakeTurn read the entry bumps turnVersion: the condition fails and the turn is taken at once
    assert parameters["ConditionExpression"] == "turnVersion = :version"
    assert parameters["ExpressionAttributeValues"] == {
        ":token": {"S.$": "$$.Task.Token"},
        ":version": {"N.$": "States.Format('{}', $.turn.turnVersion)"},
    }
    assert state["ResultPath"] == "$.wake"


def test_a_waiting_request_takes_its_turn_again_when_woken_timed_out_or_outdated(synth: Synthesized) -> None:
    state = _states(synth)["WaitForTurn"]

    assert state["Next"] == "TakeTurn"  # woken by the queue (SendTaskSuccess)
    (catch,) = state["Catch"]
    assert catch == {
        "ErrorEquals": ["States.Timeout", "DynamoDb.ConditionalCheckFailedException"],
        "ResultPath": "$.wake",  # the request and its turn are kept
        "Next": "TakeTurn",
    }


def test_a_request_at_its_execution_limit_hands_over_its_place_to_a_new_execution(synth: Synthesized) -> None:
    states = _states(synth)
    state = states["HandOverTurn"]

    # The queue builds the new execution's input; ContinueAsNew starts it from $.poll.nextInput.
    assert state["Type"] == "Pass"
    assert state["Parameters"] == {"nextInput.$": "$.turn.nextInput"}
    assert state["ResultPath"] == "$.poll"
    assert state["Next"] == "ContinueAsNew"
    assert states["ContinueAsNew"]["Parameters"]["Input.$"] == "$.poll.nextInput"


def test_an_ended_import_names_its_job_and_ends_the_request_with_its_own_outcome(synth: Synthesized) -> None:
    states = _states(synth)
    ended = states["ImportEnded"]

    assert (ended["Type"], ended["InputPath"], ended["ResultPath"]) == ("Pass", "$.turn.job", "$.job")
    assert ended["Next"] == "ImportOutcome"
    outcome = states["ImportOutcome"]
    assert outcome["Type"] == "Choice"
    assert _choice_targets(outcome) == [
        ({"Variable": "$.turn.outcome.supersededBy", "IsPresent": True}, "SourcesSuperseded"),
        ({"Variable": "$.turn.outcome.succeeded", "BooleanEquals": True}, "SourcesImported"),
    ]
    assert outcome["Default"] == "SourcesNotImported"


def test_a_request_whose_sources_were_imported_or_superseded_succeeds(synth: Synthesized) -> None:
    states = _states(synth)

    assert states["SourcesImported"]["Type"] == states["SourcesSuperseded"]["Type"] == "Succeed"


def test_a_request_whose_sources_were_not_imported_fails_with_the_queues_error_and_cause(synth: Synthesized) -> None:
    state = _states(synth)["SourcesNotImported"]

    assert state["Type"] == "Fail"
    assert (state["ErrorPath"], state["CausePath"]) == ("$.turn.outcome.error", "$.turn.outcome.cause")
    # the queue always reports both (empty when the request succeeded), so the paths resolve
    assert {"succeeded", "error", "cause"} <= set(Outcome(succeeded=False).to_json())


def test_job_finished_waits_while_running_and_ends_named_for_the_final_status(synth: Synthesized) -> None:
    state = _states(synth)["JobFinished?"]

    assert state["Type"] == "Choice"
    assert _choice_targets(state) == [
        (BOOKED, "WaitForSlot"),
        (QUEUED_IMPORT_ENDED_OR_HANDING_OVER, "TakeTurn"),
        ({"Variable": "$.poll.continueAsNew", "BooleanEquals": True}, "ContinueAsNew"),
        ({"Variable": "$.poll.terminal", "BooleanEquals": False}, "WaitForChangeOrTimeout"),
        ({"Variable": "$.poll.succeeded", "BooleanEquals": True}, "JobCompleted"),
        ({"Variable": "$.poll.status", "StringEquals": "FAILED"}, "JobFailed"),
        ({"Variable": "$.poll.status", "StringEquals": "CANCELLED"}, "JobCancelled"),
        ({"Variable": "$.poll.status", "StringEquals": "COMPLETED_WITH_FAILURES"}, "JobCompletedWithFailures"),
        ({"Variable": "$.poll.status", "StringEquals": "DELETED"}, "JobDeleted"),
    ]
    assert _states(synth)[state["Default"]]["Type"] == "Fail"


def test_a_queued_import_that_ended_or_must_hand_over_goes_back_to_its_store_queue_first(synth: Synthesized) -> None:
    # Given an execution that leads a queued import ($.turn present), when its poll says the job ended or the
    # execution must hand over, then the queue settles every request of the batch (and starts the store's next
    # import) or hands the request over in its place, before any ending or plain ContinueAsNew is considered
    # (a booked poll, which saw nothing, only waits for its slot).
    booked, queued, *_ = _choice_targets(_states(synth)["JobFinished?"])

    assert booked == (BOOKED, "WaitForSlot")
    assert queued == (QUEUED_IMPORT_ENDED_OR_HANDING_OVER, "TakeTurn")


def test_a_poll_that_booked_its_slot_waits_for_it_and_polls_again(synth: Synthesized) -> None:
    # Given the call budget booked the poll's HealthOmics call (many jobs share it), then the execution waits
    # waitSeconds (until just before the slot) in a plain Wait, no retry and no task, and polls with the slot.
    state = _states(synth)["WaitForSlot"]

    assert state == {
        "Type": "Wait",
        "Comment": state["Comment"],
        "SecondsPath": "$.poll.waitSeconds",
        "Next": "PollJob",
    }


def test_a_followed_job_without_a_turn_still_ends_or_hands_over_by_itself(synth: Synthesized) -> None:
    # The queue rule needs $.turn; a job started elsewhere reaches the usual rules.
    rules = _choice_targets(_states(synth)["JobFinished?"])[2:]

    assert all("$.turn" not in str(condition) for condition, _ in rules)
    assert ({"Variable": "$.poll.continueAsNew", "BooleanEquals": True}, "ContinueAsNew") in rules


def test_every_unsuccessful_terminal_status_has_its_own_ending(synth: Synthesized) -> None:
    choices = _states(synth)["JobFinished?"]["Choices"]
    named = {choice["StringEquals"] for choice in choices if choice.get("Variable") == "$.poll.status"}

    assert named == TERMINAL_STATUSES - {SUCCESS_STATUS}


def test_wait_parks_a_task_token_with_the_job_and_goes_on_with_the_wake_s_outcome_or_polls(
    synth: Synthesized,
) -> None:
    state = _states(synth)["WaitForChangeOrTimeout"]

    assert state["Type"] == "Task"
    assert state["Resource"].endswith(":states:::aws-sdk:dynamodb:updateItem.waitForTaskToken")
    # the backoff is the timeout: no event within it means "poll now"
    assert state["TimeoutSecondsPath"] == "$.poll.waitSeconds"
    # woken by an event that recorded a change: its output is the poll's outcome, and no poll follows
    assert (state["ResultPath"], state["Next"]) == ("$.poll", "JobFinished?")
    parameters = state["Parameters"]
    assert parameters["Key"] == {"pk": {"S.$": "$.poll.jobKey"}, "sk": {"S": "STATE"}}
    # the poll count is kept with the token: the waker counts on from it
    assert parameters["UpdateExpression"] == "SET waitToken = :token, waitAttempt = :waitAttempt"
    assert parameters["ExpressionAttributeValues"][":waitAttempt"] == {"N.$": "States.Format('{}', $.poll.attempt)"}
    # an event recorded between the poll and this write makes the condition fail: poll at once
    assert parameters["ConditionExpression"] == "version = :version AND terminal = :running"
    assert parameters["ExpressionAttributeValues"][":token"] == {"S.$": "$$.Task.Token"}
    assert parameters["ExpressionAttributeValues"][":version"] == {"N.$": "States.Format('{}', $.poll.historyVersion)"}
    catches = {error: catch["Next"] for catch in state["Catch"] for error in catch["ErrorEquals"]}
    # timed out, not parked (the history moved), or woken to poll (the event's read of the job failed)
    assert catches == {
        "States.Timeout": "PollJob",
        "DynamoDb.ConditionalCheckFailedException": "PollJob",
        "Wake.Poll": "PollJob",
    }
    assert {catch["ResultPath"] for catch in state["Catch"]} == {"$.wake"}


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


def test_poll_retries_lambda_hiccups_then_waits_out_the_call_budget_then_healthomics(synth: Synthesized) -> None:
    # In this order: a budget wait is not a HealthOmics failure, and gets its own long, jittered backoff.
    assert _states(synth)["PollJob"]["Retry"] == [QUICK_LAMBDA_RETRY, BUDGET_RETRY, PATIENT_RETRY]


def test_take_turn_retries_lambda_hiccups_then_waits_out_the_call_budget_then_healthomics(synth: Synthesized) -> None:
    state = _states(synth)["TakeTurn"]

    assert state["Retry"] == [QUICK_LAMBDA_RETRY, BUDGET_RETRY, PATIENT_RETRY]
    assert "Catch" not in state  # what the queue cannot wait out fails the execution with the function's error


@pytest.mark.parametrize("state_name", ["PollJob", "TakeTurn"])
def test_an_exhausted_call_budget_is_waited_out_for_hours_not_failed(synth: Synthesized, state_name: str) -> None:
    retrier = _retry(_states(synth)[state_name], BudgetExhausted.__name__)

    # Given the tracker's share of a HealthOmics rate limit is taken, when a handler raises BudgetExhausted,
    # then the execution backs off, jittered, growing to 15 minutes apart: many jobs slow down together.
    delays = [
        min(retrier["IntervalSeconds"] * retrier["BackoffRate"] ** attempt, retrier["MaxDelaySeconds"])
        for attempt in range(retrier["MaxAttempts"])
    ]
    assert retrier["JitterStrategy"] == "FULL"
    assert max(delays) == 900
    assert sum(delays) > 7 * 3600


def test_budget_exhausted_is_the_name_the_handlers_raise_and_no_other_retrier_takes_it(synth: Synthesized) -> None:
    assert BudgetExhausted.__name__ == "BudgetExhausted"
    assert BudgetExhausted not in RETRYABLE_ERRORS
    assert BudgetExhausted not in FATAL_POLL_ERRORS
    for state_name in ("PollJob", "TakeTurn"):
        takers = [
            r for r in _states(synth)[state_name]["Retry"] if {"BudgetExhausted", "States.ALL"} & {*r["ErrorEquals"]}
        ]
        assert takers == [BUDGET_RETRY]


@pytest.mark.parametrize("state_name", ["WaitForChangeOrTimeout", "WaitForTurn"])
def test_parking_a_task_token_retries_table_throttling_and_transaction_conflicts(
    synth: Synthesized, state_name: str
) -> None:
    assert _states(synth)[state_name]["Retry"] == [TABLE_RETRY]


# --- data passed between states ------------------------------------------------------------------------


def test_poll_result_replaces_only_the_poll_state(synth: Synthesized) -> None:
    state = _states(synth)["PollJob"]

    assert state["ResultPath"] == "$.poll"
    assert state["Parameters"]["job.$"] == "$.job"
    assert state["Parameters"]["poll.$"] == "$.poll"


def _aliases(model: type[CamelModel]) -> set[str]:
    return {str(field.alias) for field in model.model_fields.values()}


def test_definition_reads_only_fields_the_take_turn_handler_returns(synth: Synthesized) -> None:
    read = _paths(synth.definition, "$.turn.")

    assert read <= _aliases(Turn)
    assert read == {"action", "entryPk", "entrySk", "turnVersion", "waitSeconds", "job", "nextInput", "outcome"}


def test_definition_reads_only_outcome_fields_the_queue_records(synth: Synthesized) -> None:
    read = _paths(synth.definition, "$.turn.outcome.")

    assert read == {"succeeded", "error", "cause", "supersededBy"}
    assert read <= set(Outcome(succeeded=True, superseded_by="arn:execution").to_json())


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
