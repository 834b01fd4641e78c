"""cdk-nag (AwsSolutions, HIPAA Security, Serverless) runs on every synthesis, every acknowledgment says why and
is needed, and a new finding fails."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, ServerlessChecks
from constructs import Construct

from infra.encryption import TrackerKey
from infra.nag import PACKS
from infra.settings import TrackerSettings
from infra.stack import OmicsJobTrackerStack
from tests.infra.stack_template import (
    STACK_NAME,
    Synthesized,
    add_recorded_nag_checks,
    cdk_app,
    nag_violations,
    synthesize_unacknowledged,
)

MIN_REASON_LENGTH = 20
FINDING_ID = re.compile(r"(AwsSolutions|HIPAA\.Security|Serverless)-[A-Za-z0-9]+(\[.+\])?")


def test_synthesis_with_nag_checks_succeeds(synth: Synthesized) -> None:
    # The fixture synthesized with add_nag_checks; an unacknowledged finding would have raised there.
    assert (AwsSolutionsChecks, HIPAASecurityChecks, ServerlessChecks) == PACKS
    assert [type(plugin) for plugin in synth.nag.plugins] == list(PACKS)
    assert synth.resources


def test_every_acknowledgment_says_why(synth: Synthesized) -> None:
    assert synth.nag.acknowledged, "add_nag_checks acknowledged nothing"
    for acknowledged in synth.nag.acknowledged:
        assert len(acknowledged.reason.strip()) > MIN_REASON_LENGTH, acknowledged


def test_every_acknowledgment_names_a_finding_of_a_pack_on_a_construct_of_the_stack(synth: Synthesized) -> None:
    for acknowledged in synth.nag.acknowledged:
        assert FINDING_ID.fullmatch(acknowledged.finding), acknowledged
        assert acknowledged.construct_path.startswith(f"{STACK_NAME}/"), acknowledged


def test_wildcard_acknowledgments_name_the_exact_resource(synth: Synthesized) -> None:
    # IAM5 (wildcard) findings are acknowledged one resource at a time, never for the whole rule.
    for acknowledged in synth.nag.acknowledged:
        if acknowledged.finding.startswith("AwsSolutions-IAM"):
            assert "[" in acknowledged.finding, acknowledged


def test_a_new_wildcard_policy_fails_synthesis_with_iam5(tmp_path: Path) -> None:
    # Given the stack plus one role that may do anything with S3, anywhere
    app = cdk_app(tmp_path)
    stack = OmicsJobTrackerStack(app, STACK_NAME, settings=TrackerSettings())
    wild = iam.Role(stack, "Wildcard", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    wild.add_to_policy(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))
    add_recorded_nag_checks(stack)

    # When it is synthesized, Then synthesis fails
    with pytest.raises(RuntimeError, match="ValidationFailed") as raised:
        app.synth()

    # And the error names AwsSolutions-IAM5 on the new role only: the rest of the stack stays clean
    assert "AwsSolutions-IAM5" in str(raised.value)
    violations = nag_violations(tmp_path)
    assert any(rule.startswith("AwsSolutions-IAM5") for rule, _ in violations), violations
    assert {path for _, path in violations} == {f"{STACK_NAME}/Wildcard/DefaultPolicy/Resource"}


def test_every_acknowledgment_is_needed(tmp_path: Path) -> None:
    # Given the stack synthesized with every pack and no acknowledgment applied
    acknowledgments, violations = synthesize_unacknowledged(tmp_path)

    # Then each acknowledgment answers a finding the packs report on its construct (or below it):
    # a fixed finding leaves no acknowledgment behind
    assert acknowledgments.acknowledged
    unneeded = [
        acknowledged
        for acknowledged in acknowledgments.acknowledged
        if not any(
            rule == acknowledged.finding and f"{path}/".startswith(f"{acknowledged.construct_path}/")
            for rule, path in violations
        )
    ]
    assert unneeded == [], "\n".join(f"{a.construct_path}: {a.finding}" for a in unneeded)


def _unencrypted_log_group(stack: OmicsJobTrackerStack) -> Construct:
    return logs.LogGroup(stack, "NewConstruct", retention=logs.RetentionDays.ONE_MONTH)


def _log_group_kept_forever(stack: OmicsJobTrackerStack) -> Construct:
    return logs.LogGroup(
        stack, "NewConstruct", retention=logs.RetentionDays.INFINITE, encryption_key=TrackerKey.of(stack).key
    )


@pytest.mark.parametrize(
    ("add", "finding"),
    [
        (_unencrypted_log_group, "HIPAA.Security-CloudWatchLogGroupEncrypted"),
        (_log_group_kept_forever, "Serverless-CloudWatchLogGroupRetentionPeriod"),
    ],
)
def test_a_new_finding_of_the_hipaa_or_serverless_pack_fails_synthesis(
    tmp_path: Path, add: Callable[[OmicsJobTrackerStack], Construct], finding: str
) -> None:
    # Given the stack plus one resource a pack finds fault with
    app = cdk_app(tmp_path)
    stack = OmicsJobTrackerStack(app, STACK_NAME, settings=TrackerSettings())
    add(stack)
    add_recorded_nag_checks(stack)

    # When it is synthesized, Then synthesis fails naming the finding, on the new resource only
    with pytest.raises(RuntimeError, match="ValidationFailed") as raised:
        app.synth()

    assert finding in str(raised.value)
    violations = nag_violations(tmp_path)
    assert finding in {rule for rule, _ in violations}
    assert {path for _, path in violations} == {f"{STACK_NAME}/NewConstruct/Resource"}
