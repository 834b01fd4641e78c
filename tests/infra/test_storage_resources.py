"""Where things are kept: the history table, the upload bucket and the reference store."""

from __future__ import annotations

from typing import Any

from tests.infra.stack_template import Synthesized, render
from tracker.contract import Table


def _table(synth: Synthesized) -> dict[str, Any]:
    return synth.resource("Storage/History")


def test_history_table_is_on_demand(synth: Synthesized) -> None:
    assert _table(synth)["Properties"]["BillingMode"] == "PAY_PER_REQUEST"


def test_history_table_has_point_in_time_recovery(synth: Synthesized) -> None:
    (replica,) = _table(synth)["Properties"]["Replicas"]

    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_history_table_survives_stack_deletion_and_replacement(synth: Synthesized) -> None:
    table = _table(synth)
    (replica,) = table["Properties"]["Replicas"]

    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert replica["DeletionProtectionEnabled"] is True


def test_history_table_keys_are_pk_and_sk(synth: Synthesized) -> None:
    assert _table(synth)["Properties"]["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]


def test_history_table_has_the_by_status_index_the_code_queries(synth: Synthesized) -> None:
    (index,) = _table(synth)["Properties"]["GlobalSecondaryIndexes"]

    assert index["IndexName"] == Table.STATUS_INDEX
    # Sparse index on the STATE items' currentStatus, newest change last.
    assert index["KeySchema"] == [
        {"AttributeName": "currentStatus", "KeyType": "HASH"},
        {"AttributeName": "lastChangedAt", "KeyType": "RANGE"},
    ]


def test_history_table_is_encrypted(synth: Synthesized) -> None:
    assert _table(synth)["Properties"]["SSESpecification"]["SSEEnabled"] is True


def test_upload_bucket_is_encrypted_versioned_and_private(synth: Synthesized) -> None:
    bucket = synth.resource("Storage/Uploads")
    properties = bucket["Properties"]

    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["DeletionPolicy"] == "Retain"


def test_upload_bucket_refuses_plain_http(synth: Synthesized) -> None:
    uploads = synth.logical_id("Storage/Uploads")
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": uploads}
    ]

    (statements,) = policies
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )


def test_access_logs_are_delivered_through_a_bucket_policy_for_the_upload_bucket_only(synth: Synthesized) -> None:
    # Given the access-log bucket, with ACLs off (no LogDeliveryWrite grant)
    access_logs = synth.logical_id("Storage/AccessLogs")
    properties = synth.resources[access_logs]["Properties"]
    assert "AccessControl" not in properties
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}

    # Then its policy lets S3's logging service write the upload bucket's logs, from this account only
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": access_logs}
    ]
    (delivery,) = [s for s in policy if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}]
    assert delivery["Action"] == "s3:PutObject"
    assert render(delivery["Resource"]) == f"${{{access_logs}.Arn}}/uploads/*"
    assert delivery["Condition"] == {
        "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [synth.logical_id("Storage/Uploads"), "Arn"]}},
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    }


def test_upload_bucket_has_eventbridge_notifications(synth: Synthesized) -> None:
    notifications = [
        n["Properties"]
        for n in synth.of_type("Custom::S3BucketNotifications").values()
        if n["Properties"]["BucketName"] == {"Ref": synth.logical_id("Storage/Uploads")}
    ]

    assert [n["NotificationConfiguration"] for n in notifications] == [{"EventBridgeConfiguration": {}}]


def test_reference_store_is_the_accounts_found_or_created_by_a_custom_resource(synth: Synthesized) -> None:
    # HealthOmics allows one reference store per account and Region: the stack never owns one
    # (tests/infra/test_reference_store.py has the custom resource's details).
    store = synth.resource("Storage/ReferenceStore")

    assert store["Type"] == "Custom::AccountReferenceStore"
    assert store["Properties"]["ReferenceStoreName"] == synth.settings.reference_store_name
    assert synth.of_type("AWS::Omics::ReferenceStore") == {}
