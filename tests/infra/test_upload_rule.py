"""The EventBridge rule that turns an S3 upload of a reference file into a trigger invocation."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest

from tests.infra.stack_template import Synthesized
from tracker.contract import REFERENCE_ENDINGS
from tracker.inputs import TrackUpload, parse_request, reference_file_error


def _rule(synth: Synthesized) -> dict[str, Any]:
    return synth.resource("UploadTrigger/ReferenceUploaded")["Properties"]


def _key_patterns(synth: Synthesized) -> list[str]:
    patterns = _rule(synth)["EventPattern"]["detail"]["object"]["key"]
    assert all(set(pattern) == {"wildcard"} for pattern in patterns), patterns
    return [pattern["wildcard"] for pattern in patterns]


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


def test_key_patterns_are_every_reference_ending_plain_and_gzipped_under_the_prefix(synth: Synthesized) -> None:
    prefix = synth.settings.upload_prefix
    lower = [f"{prefix}*{ending}{gz}" for ending in REFERENCE_ENDINGS for gz in ("", ".gz")]
    expected = lower + [pattern.replace(prefix, "", 1).upper() for pattern in lower]
    expected = lower + [f"{prefix}{pattern}" for pattern in expected[len(lower) :]]

    assert sorted(_key_patterns(synth)) == sorted(expected)
    assert len(_key_patterns(synth)) == 4 * len(REFERENCE_ENDINGS)


def test_every_key_the_rule_matches_is_accepted_by_the_validator(synth: Synthesized) -> None:
    for pattern in _key_patterns(synth):
        key = pattern.replace("*", "GRCh38/hg38")

        assert reference_file_error(key) is None, key
        upload = {"bucket": "omics-uploads", "key": key, "sequencer": "617f08299329d189"}
        assert isinstance(parse_request({"jobType": "REFERENCE_IMPORT", "s3Upload": upload}), TrackUpload)


@pytest.mark.parametrize(
    "key",
    ["references/sample.bam", "references/hg38.fa.zip", "references/hg38.fa.bak", "elsewhere/hg38.fa", "hg38.fa"],
)
def test_rule_ignores_keys_that_are_not_reference_files_under_the_prefix(synth: Synthesized, key: str) -> None:
    assert not any(fnmatchcase(key, pattern) for pattern in _key_patterns(synth))


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
