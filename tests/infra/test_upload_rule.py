"""The EventBridge rule that turns an S3 upload of a reference file into a trigger invocation."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

import pytest
from stack_template import Synthesized

from infra import trigger
from tracker import inputs
from tracker.inputs import TrackUpload, parse_request, reference_file_error

# The Object Created event as S3 sends it to EventBridge (S3 user guide, "EventBridge event message structure").
SAMPLE_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "111122223333",
    "time": "2021-11-12T00:00:00Z",
    "region": "ca-central-1",
    "resources": ["arn:aws:s3:::omics-uploads"],
    "detail": {
        "version": "0",
        "bucket": {"name": "omics-uploads"},
        "object": {
            "key": "references/GRCh38/hg38.fa.gz",
            "size": 983659,
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "sequencer": "617f08299329d189",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "1.2.3.4",
        "reason": "PutObject",
    },
}


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


def _lookup(event: dict[str, Any], path: str) -> Any:
    value: Any = event
    for part in path.removeprefix("$.").split("."):
        value = value[part]
    return value


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
    lower = [f"{prefix}*{ending}{gz}" for ending in inputs.REFERENCE_ENDINGS for gz in ("", ".gz")]
    expected = lower + [pattern.replace(prefix, "", 1).upper() for pattern in lower]
    expected = lower + [f"{prefix}{pattern}" for pattern in expected[len(lower) :]]

    assert sorted(_key_patterns(synth)) == sorted(expected)
    assert len(_key_patterns(synth)) == 4 * len(inputs.REFERENCE_ENDINGS)


def test_rule_and_validator_use_the_same_reference_endings() -> None:
    # infra/trigger.py keeps its own copy (the CDK app does not import the Lambda code): they must agree.
    assert trigger.REFERENCE_ENDINGS == inputs.REFERENCE_ENDINGS


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

    assert target["Arn"] == {"Fn::GetAtt": [synth.logical_id("Functions/Trigger"), "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [synth.logical_id("UploadTrigger/DeadLetters"), "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_input_transformer_turns_the_s3_event_into_a_valid_upload_input(synth: Synthesized) -> None:
    # Given the rule's input transformer and a real Object Created event
    transformer = _target(synth)["InputTransformer"]
    text = transformer["InputTemplate"]
    # When EventBridge fills in the template (an unquoted <name> takes the value as JSON)
    for name, path in transformer["InputPathsMap"].items():
        text = text.replace(f"<{name}>", json.dumps(_lookup(SAMPLE_EVENT, path)))
    execution_input = json.loads(text)
    # Then the trigger gets a REFERENCE_IMPORT s3Upload input the validator accepts
    assert execution_input["jobType"] == "REFERENCE_IMPORT"
    assert execution_input["s3Upload"]["bucket"] == "omics-uploads"
    assert execution_input["s3Upload"]["key"] == "references/GRCh38/hg38.fa.gz"
    assert execution_input["s3Upload"]["sequencer"] == "617f08299329d189"
    assert isinstance(parse_request(execution_input), TrackUpload)


def test_input_transformer_reads_bucket_key_and_sequencer_from_the_event(synth: Synthesized) -> None:
    paths = set(_target(synth)["InputTransformer"]["InputPathsMap"].values())

    assert {"$.detail.bucket.name", "$.detail.object.key", "$.detail.object.sequencer"} <= paths


def test_eventbridge_may_invoke_the_trigger_for_this_rule_only(synth: Synthesized) -> None:
    rule_id = synth.logical_id("UploadTrigger/ReferenceUploaded")
    trigger_id = synth.logical_id("Functions/Trigger")
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
