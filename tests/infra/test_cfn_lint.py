"""cfn-lint finds no error in the synthesized template, and every warning it gives is fixed or listed below."""

from __future__ import annotations

from cfnlint.api import ManualArgs, Match, lint_file

from tests.infra.stack_template import STACK_NAME, Synthesized

# Regions with HealthOmics and its CloudFormation resources (cfn-lint checks that each resource type and
# property of the template exists there).
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-central-1", "ap-southeast-1"]

# Warnings left as they are: rule id -> why.
IGNORED_WARNINGS = {
    "W3005": (
        "CDK gives every function a DependsOn on its role (and the role's default policy) next to the "
        "Fn::GetAtt of the role: redundant, harmless, and CDK's to emit"
    ),
}


def _lint(synth: Synthesized) -> list[Match]:
    return lint_file(synth.outdir / f"{STACK_NAME}.template.json", ManualArgs(regions=REGIONS))


def _describe(matches: list[Match]) -> str:
    return "\n".join(f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches)


def test_the_template_has_no_cfn_lint_error_and_only_the_listed_warnings(synth: Synthesized) -> None:
    matches = _lint(synth)

    errors = [m for m in matches if m.rule.id.startswith("E")]
    assert errors == [], _describe(errors)
    unexpected = [m for m in matches if m.rule.id not in IGNORED_WARNINGS]
    assert unexpected == [], _describe(unexpected)
    # A warning fixed since is taken off the list.
    assert {m.rule.id for m in matches} == set(IGNORED_WARNINGS)


def test_every_ignored_warning_says_why() -> None:
    for rule, reason in IGNORED_WARNINGS.items():
        assert rule.startswith("W") and len(reason) > 20, rule
