"""The EventBridge rule that turns an S3 upload under the prefix into a trigger invocation (the trigger
keeps the reference files: see tests/unit/test_trigger.py and tests/e2e/test_uploads.py)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

import pytest
from moto.events.models import EventPattern

from infra.trigger import upload_key_filter
from tests.infra.stack_template import Synthesized


def _rule(synth: Synthesized) -> dict[str, Any]:
    return synth.resource("UploadTrigger/ReferenceUploaded")["Properties"]


def _key_prefix(synth: Synthesized) -> str:
    [key_filter] = _rule(synth)["EventPattern"]["detail"]["object"]["key"]
    assert set(key_filter) == {"prefix"}, key_filter
    return str(key_filter["prefix"])


def _target(synth: Synthesized) -> dict[str, Any]:
    targets = _rule(synth)["Targets"]
    assert len(targets) == 1
    return targets[0]


def test_rule_matches_object_created_events_from_s3(synth: Synthesized) -> None:
    pattern = _rule(synth)["EventPattern"]

    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert _rule(synth).get("State", "ENABLED") == "ENABLED"


def test_rule_matches_only_the_upload_bucket(synth: Synthesized) -> None:
    bucket = _rule(synth)["EventPattern"]["detail"]["bucket"]

    assert bucket == {"name": [{"Ref": synth.logical_id("Storage/Uploads")}]}


def test_rule_matches_every_key_under_the_prefix_as_s3_encodes_it(synth: Synthesized) -> None:
    assert _key_prefix(synth) == synth.settings.upload_prefix == "references/"
    assert upload_key_filter("my refs/é/") == [{"prefix": "my+refs/%C3%A9/"}]


@pytest.mark.parametrize(
    ("key", "matched"),
    [
        ("references/hg38.fa", True),
        ("references/notes.docx", True),  # the trigger, not the rule, keeps reference files
        ("references/my genome.FA", True),
        ("elsewhere/hg38.fa", False),
        ("hg38.fa", False),
        ("References/hg38.fa", False),
    ],
)
def test_rule_matches_the_events_of_keys_under_the_prefix_only(synth: Synthesized, key: str, matched: bool) -> None:
    # The synthesized pattern, evaluated by moto's EventBridge pattern matcher on an event as S3 sends it.
    pattern = json.loads(json.dumps(_rule(synth)["EventPattern"]).replace(json.dumps(_bucket_ref(synth)), '"b"'))
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "b"}, "object": {"key": quote_plus(key, safe="/")}},
    }

    assert EventPattern.load(json.dumps(pattern)).matches_event(event) is matched


def _bucket_ref(synth: Synthesized) -> dict[str, str]:
    return {"Ref": synth.logical_id("Storage/Uploads")}


def test_target_is_the_trigger_function_with_retries_and_a_dead_letter_queue(synth: Synthesized) -> None:
    target = _target(synth)

    assert target["Arn"] == {"Fn::GetAtt": [synth.logical_id("UploadTrigger/Function"), "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [synth.logical_id("UploadTrigger/DeadLetters"), "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_trigger_gets_the_event_as_s3_sent_it(synth: Synthesized) -> None:
    # The trigger parses it with Powertools' S3 EventBridge model, so the rule must not reshape it.
    target = _target(synth)

    assert "InputTransformer" not in target
    assert "Input" not in target
    assert "InputPath" not in target


def test_eventbridge_may_invoke_the_trigger_for_this_rule_only(synth: Synthesized) -> None:
    rule_id = synth.logical_id("UploadTrigger/ReferenceUploaded")
    trigger_id = synth.logical_id("UploadTrigger/Function")
    permissions = [
        p["Properties"]
        for p in synth.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [trigger_id, "Arn"]}
    ]

    assert len(permissions) == 1
    assert permissions[0]["Principal"] == "events.amazonaws.com"
    assert permissions[0]["SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}


def test_upload_bucket_sends_its_events_to_eventbridge(synth: Synthesized) -> None:
    uploads = {"Ref": synth.logical_id("Storage/Uploads")}
    notifications = [
        n["Properties"]
        for n in synth.of_type("Custom::S3BucketNotifications").values()
        if n["Properties"]["BucketName"] == uploads
    ]

    assert len(notifications) == 1
    assert "EventBridgeConfiguration" in notifications[0]["NotificationConfiguration"]
