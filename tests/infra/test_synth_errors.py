"""Configuration that cannot be deployed stops synthesis with one line per problem, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.settings import SettingsError, TrackerSettings
from infra.trigger import EVENT_PATTERN_LIMIT, event_pattern_length, upload_event_pattern
from tests.infra.stack_template import Synthesized, synthesize

ROOT = Path(__file__).resolve().parents[2]
# jsii warns about the Node.js version on stderr unless told the major versions to accept.
NODE_MAJORS = ",".join(str(major) for major in range(14, 40))


def _synth_app(tmp_path: Path, context: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """``app.py`` as ``cdk synth`` runs it: context in CDK_CONTEXT_JSON, the assembly to CDK_OUTDIR."""
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path / "cdk.out"),
        "CDK_CONTEXT_JSON": json.dumps(context),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": NODE_MAJORS,
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": NODE_MAJORS,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


# --- app.py: exit status 1, one line on stderr ----------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "line"),
    [
        (
            {"pollFirstWaitSecond": "45"},
            "cdk.json context: unknown key 'pollFirstWaitSecond' (did you mean 'pollFirstWaitSeconds'?)",
        ),
        (
            {"logRetentionDays": "10"},
            "cdk.json context: invalid value for 'logRetentionDays': "
            "must be one of (7, 14, 30, 90, 180, 365, 731, 3653), got 10",
        ),
    ],
)
def test_app_stops_with_one_line_naming_the_key(tmp_path: Path, context: dict[str, Any], line: str) -> None:
    # The CDK CLI adds its own keys; they are not the user's and pass.
    result = _synth_app(
        tmp_path, {**context, "aws:cdk:enable-path-metadata": True, "@aws-cdk/aws-iam:minimizePolicies": True}
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [line]
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "cdk.out" / "manifest.json").exists()


# --- the upload rule's event pattern fits EventBridge's limit --------------------------------------------


def test_a_long_upload_prefix_stops_synthesis_naming_it_and_the_limit(tmp_path: Path) -> None:
    # Each 'é' is six characters once URL-encoded (%C3%A9), as the key appears in S3's events.
    prefix = "é" * 700 + "/"

    with pytest.raises(SettingsError) as raised:
        synthesize(tmp_path, context={"uploadPrefix": prefix})

    (problem,) = raised.value.problems
    assert problem.startswith("cdk.json context: uploadPrefix of 701 characters makes the upload rule's event pattern")
    assert "over EventBridge's limit of 4,096" in problem


def test_the_pattern_is_measured_with_the_prefix_url_encoded() -> None:
    base = event_pattern_length("")
    longest = EVENT_PATTERN_LIMIT - base

    assert event_pattern_length("p" * longest) <= EVENT_PATTERN_LIMIT < event_pattern_length("p" * (longest + 1))
    assert event_pattern_length("é") == base + len("%C3%A9")
    assert event_pattern_length(TrackerSettings().upload_prefix) < EVENT_PATTERN_LIMIT


def test_the_size_is_measured_on_the_pattern_the_template_gives_eventbridge(synth: Synthesized) -> None:
    uploads = {"Ref": synth.logical_id("Storage/Uploads")}
    rule = synth.resource("UploadTrigger/ReferenceUploaded")["Properties"]

    assert rule["EventPattern"] == upload_event_pattern(uploads, synth.settings.upload_prefix)


# --- the functions' layer is built, never looked up -------------------------------------------------------


def test_synthesis_without_the_built_layer_says_how_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("infra.functions.LAYER_DIR", tmp_path / "lambda-layer")

    with pytest.raises(SettingsError) as raised:
        synthesize(tmp_path / "cdk.out", settings=TrackerSettings())

    assert raised.value.problems == (
        f"{tmp_path / 'lambda-layer'} is missing: `make layer` builds it (requirements-lambda.txt)",
    )
