"""One S3 upload maps to exactly one execution name, and a redelivered event starts nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.stub import Stubber

from tracker.inputs import TrackUpload
from tracker.trigger import UploadOutcome, UploadResult, execution_name, start_for_upload, upload_request

BUCKET = "omics-uploads-111122223333"
KEY = "references/GRCh38/hg38.fa.gz"
SEQUENCER = "0062E99A88DC407460"
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:111122223333:stateMachine:Tracker"
# Step Functions: 1-80 characters; letters, digits, '-' and '_' are always safe; '.' is allowed.
EVENTS = Path(__file__).resolve().parent.parent / "events"
SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")

ODD_KEYS = [
    "references/hg38.fa",
    "references/" + "x" * 1000 + ".fa",
    "references/dir/with/many/levels/genome.fasta",
    "references/genome with spaces (v2).fa",
    "references/génome-ü-日本.fa",
    "references/a:b;c,d$e&f|g~h^i%j#k`l\"m'n<o>p{q}r[s]t?u*v.fa",
    "references/.fa",
    "references/",
    "references/----.fa",
    "hg38.fa",
]


def test_execution_name_is_deterministic() -> None:
    assert execution_name(BUCKET, KEY, SEQUENCER) == execution_name(BUCKET, KEY, SEQUENCER)


def test_execution_name_starts_with_the_file_name_for_readability() -> None:
    # dots become dashes: Step Functions advises only 0-9A-Za-z-_ in names when logging is on
    assert execution_name(BUCKET, KEY, SEQUENCER).startswith("hg38-fa-gz-")


@pytest.mark.parametrize("key", ODD_KEYS)
def test_execution_name_is_a_valid_step_functions_name_for_any_key(key: str) -> None:
    name = execution_name(BUCKET, key, SEQUENCER)

    assert len(name) <= 80
    assert "/" not in name
    assert SAFE_NAME.match(name), name


def test_new_upload_of_the_same_key_gets_a_new_name() -> None:
    assert execution_name(BUCKET, KEY, SEQUENCER) != execution_name(BUCKET, KEY, "0062E99A88DC407461")


def test_same_key_in_another_bucket_gets_another_name() -> None:
    assert execution_name(BUCKET, KEY, SEQUENCER) != execution_name("other-bucket", KEY, SEQUENCER)


def test_long_keys_differing_only_at_the_end_get_different_names() -> None:
    # Given two keys whose file names share the first 100 characters (the readable stem is truncated)
    stem = "references/" + "chromosome" * 10
    first, second = execution_name(BUCKET, stem + "-1.fa", SEQUENCER), execution_name(BUCKET, stem + "-2.fa", SEQUENCER)
    # Then the names still differ, and both stay within 80 characters
    assert first != second
    assert len(first) == len(second) == 80


def test_keys_that_sanitise_to_the_same_stem_get_different_names() -> None:
    assert execution_name(BUCKET, "references/a b.fa", SEQUENCER) != execution_name(
        BUCKET, "references/a-b.fa", SEQUENCER
    )


# --- start_for_upload, with botocore's Stubber (no AWS) --------------------------------------------


@pytest.fixture
def sfn() -> object:
    return boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def _event(key: str = KEY, **detail: object) -> dict[str, object]:
    """An Object Created event for `key` (URL-encoded as S3 puts it in the event)."""
    event = json.loads((EVENTS / "s3_object_created.json").read_text())
    event["detail"]["bucket"]["name"] = BUCKET
    event["detail"]["object"].update(key=quote_plus(key, safe="/"), sequencer=SEQUENCER, etag="abc")
    event["detail"].update(detail)
    return dict(event)


def _upload_input(key: str = KEY) -> dict[str, object]:
    return {
        "jobType": "REFERENCE_IMPORT",
        "s3Upload": {"bucket": BUCKET, "key": key, "sequencer": SEQUENCER, "etag": "abc"},
    }


def test_upload_starts_one_named_execution_with_the_decoded_upload_as_input(sfn: object) -> None:
    name = execution_name(BUCKET, KEY, SEQUENCER)
    arn = f"arn:aws:states:us-east-1:111122223333:execution:Tracker:{name}"
    with Stubber(sfn) as stub:
        stub.add_response(
            "start_execution",
            {"executionArn": arn, "startDate": "2025-01-01T00:00:00Z"},
            {"stateMachineArn": STATE_MACHINE_ARN, "name": name, "input": json.dumps(_upload_input())},
        )

        outcome = start_for_upload(sfn, STATE_MACHINE_ARN, _event())

        stub.assert_no_pending_responses()
    assert outcome == UploadOutcome(UploadResult.STARTED, execution_name=name, execution_arn=arn)


def test_redelivered_upload_event_starts_nothing(sfn: object) -> None:
    with Stubber(sfn) as stub:
        stub.add_client_error("start_execution", service_error_code="ExecutionAlreadyExists", http_status_code=400)

        outcome = start_for_upload(sfn, STATE_MACHINE_ARN, _event())

    assert outcome.result is UploadResult.ALREADY_STARTED
    assert outcome.execution_name == execution_name(BUCKET, KEY, SEQUENCER)


@pytest.mark.parametrize(
    "key",
    [
        "references/genome with spaces (v2).fa",
        "references/plus+sign%2Band percent.fa",
        "references/génome-ü-日本-🧬.FASTA.Gz",
        "references/a:b;c,d$e&f|g~h^i%j#k`l\"m'n<o>p{q}r[s]t?u*v.fa",
        "references/tab\tin-key.fa",
    ],
)
def test_the_key_is_decoded_before_it_names_anything(key: str) -> None:
    request = upload_request(_event(key))

    assert isinstance(request, TrackUpload)
    assert request.s3_upload.key == key


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"detail-type": "Object Created"}, "not an S3 Object Created event"),
        ([], "not an S3 Object Created event"),
        ("text", "not an S3 Object Created event"),
        (None, "not an S3 Object Created event"),
        (_event(object={"key": 42}), "not an S3 Object Created event"),
        (_event("references/notes.docx"), "not importable: s3Upload.key: must end with a reference file ending"),
        (_event("references/two\nlines.fa"), "not importable: s3Upload: key: must be an S3 URI"),
        (_event(object={"key": "references/x.fa"}), "not importable: s3Upload.sequencer"),
    ],
    ids=[
        "no fields",
        "array",
        "string",
        "null",
        "key of another type",
        "not a reference",
        "line break",
        "no sequencer",
    ],
)
def test_anything_else_is_ignored_with_a_reason_and_starts_nothing(event: object, reason: str, sfn: object) -> None:
    with Stubber(sfn):  # no response queued: a call would fail the test
        outcome = start_for_upload(sfn, STATE_MACHINE_ARN, event)

    assert outcome.result is UploadResult.IGNORED
    assert reason in outcome.reason
    assert len(outcome.reason) < 2_000


# --- upload_request: the S3 Object Created event, as S3 sends it to EventBridge ---------------------


def test_object_created_event_becomes_a_reference_import_upload_input() -> None:
    # Given an Object Created event as S3 sends it (S3 user guide, "EventBridge event message structure")
    event = json.loads((EVENTS / "s3_object_created.json").read_text())
    # When the trigger reads it
    request = upload_request(event)
    # Then the execution input names the bucket, key, sequencer and etag of the upload
    assert isinstance(request, TrackUpload)
    assert request.to_json() == {
        "jobType": "REFERENCE_IMPORT",
        "s3Upload": {
            "bucket": "omics-uploads",
            "key": "references/GRCh38/hg38.fa.gz",
            "sequencer": "617f08299329d189",
            "etag": "b1946ac92492d2347c6235b4d2611184",
        },
    }
