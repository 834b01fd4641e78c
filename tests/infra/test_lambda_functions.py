"""The tracker's functions: runtime, their layer, tracing, logs, and exactly the environment each handler reads."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.functions import LAYER_DIR, RUNTIME, check_interpreter, layer_code, layer_packages
from infra.settings import SettingsError
from tests.infra.stack_template import FUNCTION_PATHS, Synthesized, render
from tracker.schedule import PollSchedule
from tracker.settings import (
    JobEventSettings,
    NotifySettings,
    PollSettings,
    PrepareSettings,
    QueueSettings,
    Settings,
    TriggerSettings,
)

FUNCTIONS = list(FUNCTION_PATHS)
SETTINGS_READ: dict[str, type[Settings]] = {
    "Prepare": PrepareSettings,
    "Poll": PollSettings,
    "TakeTurn": QueueSettings,
    "Trigger": TriggerSettings,
    "JobEvents": JobEventSettings,
    "Notify": NotifySettings,
}


def _function(synth: Synthesized, name: str) -> dict[str, Any]:
    return synth.resource(FUNCTION_PATHS[name])["Properties"]


def _variables(model: type[Settings]) -> set[str]:
    """The environment variables a handler's settings read (their fields' aliases)."""
    return {str(field.alias) for field in model.model_fields.values()}


def _required(model: type[Settings]) -> set[str]:
    return {str(field.alias) for field in model.model_fields.values() if field.is_required()}


def _environment(synth: Synthesized, name: str) -> dict[str, str]:
    """The deployed environment (tokens stand in for the values CloudFormation fills in)."""
    return {key: render(value) for key, value in _function(synth, name)["Environment"]["Variables"].items()}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_runs_python_3_13_on_arm_with_active_tracing(synth: Synthesized, name: str) -> None:
    function = _function(synth, name)

    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["TracingConfig"] == {"Mode": "Active"}


def test_the_tests_run_on_the_functions_python() -> None:
    assert f"python{sys.version_info.major}.{sys.version_info.minor}" == RUNTIME.name


def test_synthesis_on_another_python_stops_naming_both() -> None:
    with pytest.raises(SettingsError, match=r"synthesis runs on Python 3\.11, but the functions run on python3\.13"):
        check_interpreter((3, 11))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_has_the_stacks_own_layer_and_no_deploy_time_lookup(synth: Synthesized, name: str) -> None:
    (layer,) = _function(synth, name)["Layers"]
    [layer_id] = synth.of_type("AWS::Lambda::LayerVersion")

    assert layer == {"Ref": layer_id}
    assert "resolve:ssm" not in json.dumps(synth.json)
    # The one SSM parameter is CDK's own check that the account is bootstrapped (assets need that anyway)
    parameters = synth.json.get("Parameters", {})
    assert [name for name, p in parameters.items() if p["Type"].startswith("AWS::SSM::")] == ["BootstrapVersion"]


def test_the_layer_ships_the_packages_the_tests_run_built_for_the_runtime_and_architecture(synth: Synthesized) -> None:
    [layer] = synth.of_type("AWS::Lambda::LayerVersion").values()
    shipped = dict(package.split("==") for package in layer_packages())

    for name in ("aws-lambda-powertools", "pydantic", "pydantic-core", "typing-extensions", "annotated-types"):
        assert shipped[name] == importlib.metadata.version(name), name
    [compiled] = (LAYER_DIR / "python").glob("pydantic_core/_pydantic_core.*.so")
    assert compiled.name.endswith(".cpython-313-aarch64-linux-gnu.so")
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert "aws-lambda-powertools==3.37.0, " in layer["Properties"]["Description"]


def test_a_missing_layer_build_stops_synthesis_saying_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"is missing: `make layer` builds it"):
        layer_code(tmp_path)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_environment_is_exactly_what_its_handler_reads(synth: Synthesized, name: str) -> None:
    environment = _environment(synth, name)
    model = SETTINGS_READ[name]

    # Every variable set is read; every one read is set, but those of a mode this stack leaves off
    set_here = {key for key in environment if not key.startswith("POWERTOOLS_")}
    assert _required(model) <= set_here <= _variables(model)
    assert _variables(model) - set_here <= {"STATE_MACHINE_ARN"}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_handler_loads_its_settings_at_cold_start_from_the_deployed_environment(
    synth: Synthesized, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module_name, _, attribute = _function(synth, name)["Handler"].rpartition(".")
    for key in _variables(SETTINGS_READ[name]):  # (another test may have left a variable this stack does not set)
        monkeypatch.delenv(key, raising=False)
    for key, value in _environment(synth, name).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delitem(sys.modules, module_name, raising=False)

    module = importlib.import_module(module_name)

    assert callable(getattr(module, attribute))
    # By value: an end-to-end test in this worker may have re-imported `tracker` (a local cold start), so the
    # handler's settings class can be another copy of the same class.
    expected = SETTINGS_READ[name].model_validate(_environment(synth, name))
    assert type(module.SETTINGS).__name__ == type(expected).__name__
    assert module.SETTINGS.model_dump() == expected.model_dump()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_handler_without_its_settings_fails_at_cold_start_naming_them(
    synth: Synthesized, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module_name = _function(synth, name)["Handler"].rpartition(".")[0]
    for key in _environment(synth, name):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delitem(sys.modules, module_name, raising=False)

    with pytest.raises(RuntimeError, match="invalid Lambda environment") as raised:
        importlib.import_module(module_name)

    for key in _required(SETTINGS_READ[name]):
        assert key in str(raised.value)


def test_trigger_knows_the_state_machine_to_start(synth: Synthesized) -> None:
    environment = _function(synth, "Trigger")["Environment"]["Variables"]

    assert environment["STATE_MACHINE_ARN"] == {"Ref": synth.logical_id("Workflow/StateMachine")}


def test_every_tracker_handler_in_the_stack_is_checked_here(synth: Synthesized) -> None:
    handlers = {
        function["Properties"]["Handler"]
        for function in synth.of_type("AWS::Lambda::Function").values()
        if str(function["Properties"].get("Handler", "")).startswith("tracker.")
    }

    # The reference store's custom resource runs at deployment only (tests/infra/test_reference_store.py).
    assert handlers - {"tracker.handlers.reference_store.handler"} == {
        _function(synth, name)["Handler"] for name in FUNCTIONS
    }
    assert _function(synth, "TakeTurn")["Handler"] == "tracker.handlers.take_turn.handler"


def test_history_functions_name_the_table_and_prepare_the_reference_store(synth: Synthesized) -> None:
    for name in ("Poll", "TakeTurn", "JobEvents"):
        assert _function(synth, name)["Environment"]["Variables"]["TABLE_NAME"] == {
            "Ref": synth.logical_id("Storage/History")
        }
    assert _function(synth, "Prepare")["Environment"]["Variables"]["REFERENCE_STORE_ID"] == {
        "Fn::GetAtt": [synth.logical_id("Storage/ReferenceStore"), "ReferenceStoreId"]
    }


def test_poll_reads_the_schedule_the_stack_was_configured_with(synth: Synthesized) -> None:
    settings = PollSettings.model_validate(_environment(synth, "Poll"))
    configured = synth.settings

    assert settings.poll_schedule == PollSchedule(
        configured.poll_first_wait_seconds,
        configured.poll_backoff_factor,
        configured.poll_max_wait_seconds,
        configured.poll_wait_with_events_seconds,
    )
    assert settings.max_polls_per_execution == configured.max_polls_per_execution


def test_take_turn_starts_imports_with_the_import_role_and_the_queue_rules_the_stack_was_configured_with(
    synth: Synthesized,
) -> None:
    settings = QueueSettings.model_validate(_environment(synth, "TakeTurn"))
    configured = synth.settings

    assert settings.import_role_arn == f"${{{synth.logical_id('Storage/ImportRole')}.Arn}}"
    assert settings.import_batch_window_seconds == configured.import_batch_window_seconds == 0
    assert settings.store_queue_check_seconds == configured.store_queue_check_seconds == 300
    # A waiting request hands over like a polling one, and waits for the leader's events as long.
    assert settings.max_polls_per_execution == configured.max_polls_per_execution
    assert settings.poll_wait_with_events_seconds == configured.poll_wait_with_events_seconds


def test_every_function_that_calls_healthomics_keeps_to_the_same_call_share(synth: Synthesized) -> None:
    shares = {name: _environment(synth, name).get("OMICS_CALL_SHARE") for name in FUNCTIONS}

    # The budget is account-wide: every caller must count against the same share.
    callers = {"Poll", "TakeTurn", "JobEvents", "Prepare"}  # Prepare books a followed job's first poll
    assert {name for name, share in shares.items() if share is not None} == callers
    assert {shares[name] for name in callers} == {str(synth.settings.omics_call_share)}
    assert synth.settings.omics_call_share == 0.5


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_logs_to_its_own_group_with_the_configured_retention(synth: Synthesized, name: str) -> None:
    logging = _function(synth, name)["LoggingConfig"]
    log_group = synth.resources[logging["LogGroup"]["Ref"]]

    assert logging["LogFormat"] == "JSON"
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == synth.settings.log_retention_days
