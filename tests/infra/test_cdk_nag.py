"""cdk-nag (AwsSolutions) runs on every synthesis, every acknowledgment says why, and a new finding fails."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

from infra.settings import TrackerSettings
from infra.stack import OmicsJobTrackerStack
from tests.infra.stack_template import STACK_NAME, Synthesized, add_recorded_nag_checks

MIN_REASON_LENGTH = 20


def test_synthesis_with_nag_checks_succeeds(synth: Synthesized) -> None:
    # The fixture synthesized with add_nag_checks; an unacknowledged finding would have raised there.
    assert [type(plugin) for plugin in synth.nag.plugins] == [AwsSolutionsChecks]
    assert synth.resources


def test_every_acknowledgment_says_why(synth: Synthesized) -> None:
    assert synth.nag.acknowledged, "add_nag_checks acknowledged nothing"
    for acknowledged in synth.nag.acknowledged:
        assert len(acknowledged.reason.strip()) > MIN_REASON_LENGTH, acknowledged


def test_every_acknowledgment_names_an_aws_solutions_finding_on_a_construct_of_the_stack(synth: Synthesized) -> None:
    for acknowledged in synth.nag.acknowledged:
        assert re.fullmatch(r"AwsSolutions-[A-Z]+[0-9]+(\[.+\])?", acknowledged.finding), acknowledged
        assert acknowledged.construct_path.startswith(f"{STACK_NAME}/"), acknowledged


def test_wildcard_acknowledgments_name_the_exact_resource(synth: Synthesized) -> None:
    # IAM5 (wildcard) findings are acknowledged one resource at a time, never for the whole rule.
    for acknowledged in synth.nag.acknowledged:
        if acknowledged.finding.startswith("AwsSolutions-IAM"):
            assert "[" in acknowledged.finding, acknowledged


def test_a_new_wildcard_policy_fails_synthesis_with_iam5(tmp_path: Path) -> None:
    # Given the stack plus one role that may do anything with S3, anywhere
    app = cdk.App(outdir=str(tmp_path))
    stack = OmicsJobTrackerStack(app, STACK_NAME, settings=TrackerSettings())
    wild = iam.Role(stack, "Wildcard", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    wild.add_to_policy(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))
    add_recorded_nag_checks(stack)

    # When it is synthesized, Then synthesis fails
    with pytest.raises(RuntimeError, match="ValidationFailed") as raised:
        app.synth()

    # And the error names AwsSolutions-IAM5 on the new role only: the rest of the stack stays clean
    assert "AwsSolutions-IAM5" in str(raised.value)
    report = json.loads((tmp_path / "validation-report.json").read_text())
    violations = [
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    ]
    assert any(rule.startswith("AwsSolutions-IAM5") for rule, _ in violations), violations
    assert {path for _, path in violations} == {f"{STACK_NAME}/Wildcard/DefaultPolicy/Resource"}
