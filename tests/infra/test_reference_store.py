"""The account's reference store: a custom resource finds it or creates it once, the stack outputs the one used.

Without ``referenceStoreId`` context the stack has a ``Custom::AccountReferenceStore`` (CDK's Provider framework
in front of the tracker's own handler) and no ``AWS::Omics::ReferenceStore``; with it there is no custom resource
at all (tests/infra/test_context_settings.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from constructs import IConstruct

import infra.reference_store
from infra.settings import TrackerSettings
from infra.stack import OmicsJobTrackerStack
from tests.infra.stack_template import (
    FUNCTION_PATHS,
    STACK_NAME,
    Synthesized,
    add_recorded_nag_checks,
    cdk_app,
    render,
)
from tracker.contract import ReferenceStoreResource

STORE = "Storage/ReferenceStore"
HANDLER = f"{STORE}/Function"
FRAMEWORK = f"{STORE}/Provider/framework-onEvent"
ROOT = Path(__file__).resolve().parents[2]


def _attr(synth: Synthesized, path: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [synth.logical_id(path), attribute]}


def test_one_custom_resource_stands_for_the_store_and_no_store_is_owned_by_the_stack(synth: Synthesized) -> None:
    (store_id,) = synth.of_type(ReferenceStoreResource.TYPE)

    assert store_id == synth.logical_id(STORE)
    assert synth.of_type("AWS::Omics::ReferenceStore") == {}
    properties = synth.resources[store_id]["Properties"]
    assert properties["ReferenceStoreName"] == synth.settings.reference_store_name
    assert properties["ServiceToken"] == _attr(synth, FRAMEWORK, "Arn")


def test_the_provider_framework_runs_the_trackers_own_handler(synth: Synthesized) -> None:
    framework = synth.resource(FRAMEWORK)["Properties"]
    handler = synth.resource(HANDLER)["Properties"]

    assert framework["Environment"]["Variables"]["USER_ON_EVENT_FUNCTION_ARN"] == _attr(synth, HANDLER, "Arn")
    assert handler["Handler"] == "tracker.handlers.reference_store.handler"
    assert (ROOT / "lambdas/tracker/handlers/reference_store.py").is_file()
    # The tracker's way of defining a function: its runtime, architecture, layer and tracing.
    prepare = synth.resource(FUNCTION_PATHS["Prepare"])["Properties"]
    for key in ("Runtime", "Architectures", "Layers", "TracingConfig", "Code"):
        assert handler[key] == prepare[key], key


def test_the_handler_may_only_list_and_create_reference_stores(synth: Synthesized) -> None:
    statements = synth.statements_of_role(f"{HANDLER}/ServiceRole")
    omics = [statement for statement in statements if any(a.startswith("omics:") for a in statement["Action"])]

    # No resource-level permissions exist for either action (Service Authorization Reference): "*".
    assert omics == [
        {"Action": ["omics:CreateReferenceStore", "omics:ListReferenceStores"], "Effect": "Allow", "Resource": ["*"]}
    ]
    others = {action for statement in statements for action in statement["Action"]} - set(omics[0]["Action"])
    assert others == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    assert all("Condition" not in statement and statement["Effect"] == "Allow" for statement in statements)
    managed = synth.resource(f"{HANDLER}/ServiceRole")["Properties"].get("ManagedPolicyArns", [])
    assert [render(arn) for arn in managed] == [
        "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"  # logs only
    ]


def test_the_handlers_policy_exists_before_the_request_is_sent(synth: Synthesized) -> None:
    # CloudFormation would otherwise be free to send the request before attaching the handler's policy.
    depends_on = synth.resource(STORE).get("DependsOn", [])

    assert synth.logical_id(f"{STORE}/StoreAccess") in depends_on


def test_the_framework_may_only_invoke_the_handler(synth: Synthesized) -> None:
    statements = synth.statements_of_role(f"{FRAMEWORK}/ServiceRole")
    handler = render(_attr(synth, HANDLER, "Arn"))

    assert {action for statement in statements for action in statement["Action"]} == {
        "lambda:InvokeFunction",
        "lambda:GetFunction",
    }
    assert {resource for statement in statements for resource in statement["Resource"]} == {handler, f"{handler}:*"}


def test_the_output_and_the_functions_name_the_store_the_custom_resource_chose(synth: Synthesized) -> None:
    chosen = _attr(synth, STORE, "ReferenceStoreId")

    assert synth.json["Outputs"]["ReferenceStoreId"]["Value"] == chosen
    prepare = synth.resource(FUNCTION_PATHS["Prepare"])["Properties"]
    assert prepare["Environment"]["Variables"]["REFERENCE_STORE_ID"] == chosen


def test_the_framework_logs_to_the_handlers_log_group(synth: Synthesized) -> None:
    framework = synth.resource(FRAMEWORK)["Properties"]
    handler = synth.resource(HANDLER)["Properties"]

    assert framework["LoggingConfig"]["LogGroup"] == handler["LoggingConfig"]["LogGroup"]


# --- cdk-nag: the construct acknowledges exactly its own findings --------------------------------------------


@dataclass
class _RecordOnly:
    """Stands in for ``aws_cdk.Validations`` in infra.reference_store: records acknowledgments, applies none."""

    acknowledged: list[tuple[str, str, str]] = field(default_factory=list)

    def of(self, scope: IConstruct) -> _RecordOnly.Scoped:
        return _RecordOnly.Scoped(self, scope)

    @dataclass
    class Scoped:
        recorder: _RecordOnly
        scope: IConstruct

        def acknowledge(self, *acknowledgments: cdk.Acknowledgment) -> None:
            for acknowledgment in acknowledgments:
                self.recorder.acknowledged.append((self.scope.node.path, acknowledgment.id, acknowledgment.reason))


def _covers(acknowledged_at: str, path: str) -> bool:
    return path == acknowledged_at or path.startswith(f"{acknowledged_at}/")


def test_the_construct_acknowledges_exactly_the_findings_of_its_resources(tmp_path: Path) -> None:
    # Given the stack with the construct's acknowledgments recorded but not applied (infra/nag.py's applied)
    recorder = _RecordOnly()
    app = cdk_app(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(infra.reference_store, "Validations", recorder)
        stack = OmicsJobTrackerStack(app, STACK_NAME, settings=TrackerSettings())
    packs = {plugin.read_pack_name for plugin in add_recorded_nag_checks(stack).plugins}

    # When it is synthesized, Then the construct's resources have findings left
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    found = {
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
        if construct["constructPath"].startswith(f"{STACK_NAME}/{STORE}/")
    }
    assert found
    # And each is acknowledged on its construct, and each acknowledgment of a pack that ran answers a finding
    acknowledged = recorder.acknowledged
    assert all(any(rule == ack and _covers(at, path) for at, ack, _ in acknowledged) for rule, path in found)
    ran = [(at, ack) for at, ack, _ in acknowledged if ack.split("-", 1)[0] in packs]
    assert all(any(rule == ack and _covers(at, path) for rule, path in found) for at, ack in ran), ran
    # And says why, naming the exact resource of a wildcard
    for _, ack, reason in acknowledged:
        assert len(reason) > 40, ack
        assert not ack.startswith("AwsSolutions-IAM") or "[" in ack, ack
