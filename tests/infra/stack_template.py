"""Synthesizing the stack with cdk-nag, and reading the synthesized template."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

# jsii prints a banner about the Node.js version on every start; it is noise in test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from constructs import IConstruct

import infra.nag
from infra.cdk_json import feature_flags
from infra.settings import TrackerSettings
from infra.stack import OmicsJobTrackerStack

STACK_NAME = "OmicsJobTracker"
# The stack's functions by handler, and where each is in the construct tree.
FUNCTION_PATHS = {
    "Prepare": "Workflow/PrepareFunction",
    "Poll": "Workflow/PollFunction",
    "TakeTurn": "Workflow/TakeTurnFunction",
    "Trigger": "UploadTrigger/Function",
    "JobEvents": "JobEvents/Function",
    "Notify": "Notifications/Function",
}


def cdk_app(outdir: Path, context: dict[str, Any] | None = None) -> cdk.App:
    """An app as `cdk synth` makes it: cdk.json's feature flags, then `context`."""
    return cdk.App(outdir=str(outdir), context={**feature_flags(), **(context or {})})


def render(value: Any) -> str:
    """A CloudFormation value as one string: Ref and GetAtt become ${Name} / ${Name.Attr}, joins are joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"${{{argument}}}"
        if function == "Fn::GetAtt":
            return f"${{{argument[0]}.{argument[1]}}}"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(render(part) for part in parts)
    return json.dumps(value, sort_keys=True)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Acknowledged:
    construct_path: str
    finding: str
    reason: str


@dataclass
class ValidationsRecorder:
    """Stands in for ``aws_cdk.Validations`` inside infra.nag: records what it is told, then does it."""

    acknowledged: list[Acknowledged] = field(default_factory=list)
    plugins: list[Any] = field(default_factory=list)
    apply_acknowledgments: bool = True  # False: record them only, so synthesis reports every finding

    def of(self, scope: IConstruct) -> _RecordingValidations:
        return _RecordingValidations(self, scope)


class _RecordingValidations:
    def __init__(self, recorder: ValidationsRecorder, scope: IConstruct) -> None:
        self._recorder = recorder
        self._scope = scope
        self._real = cdk.Validations.of(scope)

    def add_plugins(self, *plugins: Any) -> None:
        self._recorder.plugins.extend(plugins)
        self._real.add_plugins(*plugins)

    def acknowledge(self, *acknowledgments: cdk.Acknowledgment) -> None:
        for acknowledgment in acknowledgments:
            self._recorder.acknowledged.append(
                Acknowledged(self._scope.node.path, acknowledgment.id, acknowledgment.reason)
            )
        if self._recorder.apply_acknowledgments:
            self._real.acknowledge(*acknowledgments)


@contextmanager
def recording_validations(recorder: ValidationsRecorder) -> Iterator[ValidationsRecorder]:
    """``Validations`` in every infra module (infra.nag, and constructs that acknowledge their own findings)
    replaced by ``recorder`` while the block runs."""
    with pytest.MonkeyPatch.context() as patch:
        for name, module in list(sys.modules.items()):
            if name.split(".")[0] == "infra" and getattr(module, "Validations", None) is cdk.Validations:
                patch.setattr(module, "Validations", recorder)
        yield recorder


def add_recorded_nag_checks(stack: cdk.Stack) -> ValidationsRecorder:
    """infra.nag.add_nag_checks, unchanged, with its acknowledgments recorded for inspection."""
    with recording_validations(ValidationsRecorder()) as recorder:
        infra.nag.add_nag_checks(stack)
    return recorder


def synthesize_unacknowledged(outdir: Path) -> tuple[ValidationsRecorder, set[tuple[str, str]]]:
    """The stack with every pack and no acknowledgment applied (each one recorded, wherever it is made):
    the acknowledgments, and every finding the packs report."""
    app = cdk_app(outdir)
    with recording_validations(ValidationsRecorder(apply_acknowledgments=False)) as recorder:
        infra.nag.add_nag_checks(OmicsJobTrackerStack(app, STACK_NAME, settings=TrackerSettings()))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    return recorder, nag_violations(outdir)


@dataclass
class Synthesized:
    stack: OmicsJobTrackerStack
    settings: TrackerSettings
    template: Template
    nag: ValidationsRecorder
    outdir: Path

    @cached_property
    def json(self) -> dict[str, Any]:
        return self.template.to_json()

    @property
    def resources(self) -> dict[str, Any]:
        return self.json["Resources"]

    def construct(self, path: str) -> IConstruct:
        node: IConstruct = self.stack
        for part in path.split("/"):
            node = node.node.find_child(part)
        return node

    def logical_id(self, path: str) -> str:
        construct = self.construct(path)
        element = construct.node.default_child or construct
        assert isinstance(element, cdk.CfnElement), path
        return str(self.stack.resolve(self.stack.get_logical_id(element)))

    def resource(self, path: str) -> dict[str, Any]:
        return self.resources[self.logical_id(path)]

    def of_type(self, resource_type: str) -> dict[str, Any]:
        return {key: value for key, value in self.resources.items() if value["Type"] == resource_type}

    def statements_of_role(self, role_path: str) -> list[dict[str, Any]]:
        """Every statement granted to a role (inline, attached policies, managed policies), normalised."""
        role_id = self.logical_id(role_path)
        role = self.resources[role_id]["Properties"]
        documents = [policy["PolicyDocument"] for policy in role.get("Policies", [])]
        for resource in self.resources.values():
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": role_id} in resource[
                "Properties"
            ].get("Roles", []):
                documents.append(resource["Properties"]["PolicyDocument"])
        return [_normalise(statement) for document in documents for statement in document["Statement"]]

    def all_statements(self) -> list[tuple[str, dict[str, Any]]]:
        """(policy logical id, normalised statement) for every identity policy in the template."""
        found = []
        for key, resource in self.resources.items():
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                found.extend((key, _normalise(s)) for s in resource["Properties"]["PolicyDocument"]["Statement"])
            if resource["Type"] == "AWS::IAM::Role":
                for policy in resource["Properties"].get("Policies", []):
                    found.extend((key, _normalise(s)) for s in policy["PolicyDocument"]["Statement"])
        return found

    @cached_property
    def definition(self) -> dict[str, Any]:
        """The state machine definition, with every token replaced by a ${...} placeholder."""
        properties = self.resource("Workflow/StateMachine")["Properties"]
        return json.loads(render(properties["DefinitionString"]))


def nag_violations(outdir: Path) -> set[tuple[str, str]]:
    """(rule, construct path) of every finding in a failed synthesis's validation report."""
    report = json.loads((outdir / "validation-report.json").read_text())
    return {
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }


def _normalise(statement: dict[str, Any]) -> dict[str, Any]:
    normalised = dict(statement)
    normalised["Action"] = sorted(as_list(statement.get("Action", [])))
    normalised["Resource"] = sorted(render(resource) for resource in as_list(statement.get("Resource", [])))
    return normalised


def synthesize(
    outdir: Path, context: dict[str, Any] | None = None, settings: TrackerSettings | None = None
) -> Synthesized:
    app = cdk_app(outdir, context)
    settings = settings or TrackerSettings.from_context(app.node)
    stack = OmicsJobTrackerStack(app, STACK_NAME, settings=settings)
    nag = add_recorded_nag_checks(stack)
    # Synthesis runs the cdk-nag validation plugin: any unacknowledged finding raises here.
    template = Template.from_stack(stack)
    return Synthesized(stack=stack, settings=settings, template=template, nag=nag, outdir=outdir)
