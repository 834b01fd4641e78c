"""existingUploadBucket: the stack watches a bucket the account already has instead of creating one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.stack_template import Synthesized, render, synthesize

BUCKET = "lab-sequencing-data"


@pytest.fixture(scope="module")
def existing(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"), context={"existingUploadBucket": BUCKET})


def test_no_bucket_is_created(existing: Synthesized) -> None:
    existing.template.resource_count_is("AWS::S3::Bucket", 0)


def test_eventbridge_notifications_are_turned_on_keeping_the_buckets_own(existing: Synthesized) -> None:
    [notifications] = existing.of_type("Custom::S3BucketNotifications").values()

    assert notifications["Properties"]["BucketName"] == BUCKET
    assert "EventBridgeConfiguration" in notifications["Properties"]["NotificationConfiguration"]
    # CDK's handler then manages only what it added: the bucket's other notifications stay
    assert notifications["Properties"]["Managed"] is False


def test_the_import_role_reads_only_the_prefix_of_that_bucket(existing: Synthesized) -> None:
    statements = existing.statements_of_role("Storage/ImportRole")
    [read] = [s for s in statements if s["Action"] == ["s3:GetObject"]]

    assert [render(r) for r in read["Resource"]] == [f"arn:${{AWS::Partition}}:s3:::{BUCKET}/references/*"]


def test_the_upload_rule_and_the_output_name_the_bucket(existing: Synthesized) -> None:
    rule = existing.resource("UploadTrigger/ReferenceUploaded")["Properties"]

    assert rule["EventPattern"]["detail"]["bucket"] == {"name": [BUCKET]}
    assert existing.json["Outputs"]["UploadBucketName"]["Value"] == BUCKET


def test_an_invalid_bucket_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="existingUploadBucket"):
        synthesize(tmp_path, context={"existingUploadBucket": "Not_A_Bucket"})
