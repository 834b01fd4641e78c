"""The three functions: runtime, Powertools layer, tracing, logs and the environment the handlers read."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from stack_template import Synthesized, render

from tracker.settings import Settings
from tracker.status import PollSchedule

FUNCTIONS = ["Prepare", "Poll", "Trigger"]
POWERTOOLS_ACCOUNT = "017000801446"


def _function(synth: Synthesized, name: str) -> dict[str, Any]:
    return synth.resource(f"Functions/{name}")["Properties"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_runs_python_3_14_on_arm_with_active_tracing(synth: Synthesized, name: str) -> None:
    function = _function(synth, name)

    assert function["Runtime"] == "python3.14"
    assert function["Architectures"] == ["arm64"]
    assert function["TracingConfig"] == {"Mode": "Active"}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_uses_the_public_powertools_layer_for_its_runtime_and_architecture(
    synth: Synthesized, name: str
) -> None:
    (layer,) = _function(synth, name)["Layers"]
    version = synth.settings.powertools_layer_version

    assert render(layer) == (
        f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:{POWERTOOLS_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-python314-arm64:{version}"
    )


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_handler_exists_in_the_lambda_code(synth: Synthesized, name: str) -> None:
    module_name, _, attribute = _function(synth, name)["Handler"].rpartition(".")

    assert callable(getattr(importlib.import_module(module_name), attribute))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_poll_schedule_environment_comes_from_the_settings(synth: Synthesized, name: str) -> None:
    environment = _function(synth, name)["Environment"]["Variables"]
    settings = synth.settings

    assert environment["POLL_FIRST_WAIT_SECONDS"] == str(settings.poll_first_wait_seconds)
    assert environment["POLL_BACKOFF_FACTOR"] == str(settings.poll_backoff_factor)
    assert environment["POLL_MAX_WAIT_SECONDS"] == str(settings.poll_max_wait_seconds)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_environment_names_the_table_and_the_reference_store(synth: Synthesized, name: str) -> None:
    environment = _function(synth, name)["Environment"]["Variables"]

    assert environment["TABLE_NAME"] == {"Ref": synth.logical_id("Storage/History")}
    assert environment["REFERENCE_STORE_ID"] == {
        "Fn::GetAtt": [synth.logical_id("Storage/ReferenceStore"), "ReferenceStoreId"]
    }


def test_trigger_knows_the_state_machine_to_start(synth: Synthesized) -> None:
    environment = _function(synth, "Trigger")["Environment"]["Variables"]

    assert environment["STATE_MACHINE_ARN"] == {"Ref": synth.logical_id("Workflow/StateMachine")}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_handlers_read_the_environment_as_the_schedule_the_stack_was_configured_with(
    synth: Synthesized, name: str
) -> None:
    # Given the deployed environment (tokens stand in for the values CloudFormation fills in)
    environment = {key: render(value) for key, value in _function(synth, name)["Environment"]["Variables"].items()}
    # When the handler reads it
    settings = Settings.model_validate(environment)
    # Then it polls on the schedule the stack was synthesized with
    configured = synth.settings
    assert settings.poll_schedule == PollSchedule(
        configured.poll_first_wait_seconds, configured.poll_backoff_factor, configured.poll_max_wait_seconds
    )


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_logs_to_its_own_group_with_the_configured_retention(synth: Synthesized, name: str) -> None:
    logging = _function(synth, name)["LoggingConfig"]
    log_group = synth.resources[logging["LogGroup"]["Ref"]]

    assert logging["LogFormat"] == "JSON"
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == synth.settings.log_retention_days
