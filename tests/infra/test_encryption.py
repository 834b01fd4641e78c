"""The tracker's data at rest is encrypted with its own customer-managed key, whose policy allows only the
services that encrypt for the tracker (infra/encryption.py)."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import aws_cdk as cdk
import pytest

from infra.event_rules import RULE_NAME_MAX, rule_name
from tests.infra.stack_template import FUNCTION_PATHS, Synthesized, as_list, render

KEY = "DataKey/Key"
QUEUES = [
    "UploadTrigger/DeadLetters",
    "UploadTrigger/Failures",
    "JobEvents/DeadLetters",
    "JobEvents/Failures",
    "Notifications/Failures",
]
RULES = ["UploadTrigger/ReferenceUploaded", "JobEvents/JobStatusChanged"]


def _key_arn(synth: Synthesized) -> dict[str, Any]:
    return {"Fn::GetAtt": [synth.logical_id(KEY), "Arn"]}


def _key_statements(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """The key policy's statements by Sid (the account's own statement has none: "root")."""
    statements = synth.resource(KEY)["Properties"]["KeyPolicy"]["Statement"]
    return {statement.get("Sid", "root"): statement for statement in statements}


def test_the_key_rotates_and_outlives_the_stack(synth: Synthesized) -> None:
    key = synth.resource(KEY)

    assert key["Properties"]["EnableKeyRotation"] is True
    # The history table is retained, and cannot be read without its key
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    [alias] = synth.of_type("AWS::KMS::Alias").values()
    assert alias["Properties"] == {"AliasName": "alias/OmicsJobTracker/data", "TargetKeyId": _key_arn(synth)}


def test_the_history_table_is_encrypted_with_the_key(synth: Synthesized) -> None:
    table = synth.resource("Storage/History")["Properties"]
    (replica,) = table["Replicas"]

    assert table["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    assert replica["SSESpecification"] == {"KMSMasterKeyId": _key_arn(synth)}


def test_every_queue_is_encrypted_with_the_key(synth: Synthesized) -> None:
    queues = synth.of_type("AWS::SQS::Queue")

    assert set(queues) == {synth.logical_id(path) for path in QUEUES}
    for queue in queues.values():
        assert queue["Properties"]["KmsMasterKeyId"] == _key_arn(synth)


def test_every_log_group_is_encrypted_with_the_key_and_named_as_its_policy_allows(synth: Synthesized) -> None:
    logs = _key_statements(synth)["TrackerLogGroupsThroughCloudWatchLogs"]
    patterns = [render(p) for p in as_list(logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])]
    log_groups = synth.of_type("AWS::Logs::LogGroup")

    assert len(log_groups) >= len(FUNCTION_PATHS) + 1  # a group per function, and the executions'
    for log_group in log_groups.values():
        properties = log_group["Properties"]
        arn = (
            f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{properties['LogGroupName']}"
        )
        assert properties["KmsKeyId"] == _key_arn(synth)
        assert any(fnmatchcase(arn, pattern) for pattern in patterns), (arn, patterns)


def test_the_key_policy_allows_the_account_and_the_services_that_encrypt_for_the_tracker(synth: Synthesized) -> None:
    statements = _key_statements(synth)
    rule_arns = {
        "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"
        + synth.resource(path)["Properties"]["Name"]
        for path in RULES
    }

    # The account's IAM policies decide for its principals (the default key policy)
    assert render(statements["root"]["Principal"]["AWS"]) == "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
    # DynamoDB, for this account's principals, as the AWS managed key aws/dynamodb allows
    dynamodb = statements["HistoryTableThroughDynamoDB"]
    assert (
        render(dynamodb["Condition"]["StringEquals"]["kms:ViaService"]) == "dynamodb.${AWS::Region}.${AWS::URLSuffix}"
    )
    assert dynamodb["Condition"]["StringEquals"]["kms:CallerAccount"] == {"Ref": "AWS::AccountId"}
    assert "kms:CreateGrant" not in dynamodb["Action"]
    # CloudWatch Logs, for the tracker's log groups only
    logs = statements["TrackerLogGroupsThroughCloudWatchLogs"]
    assert render(logs["Principal"]["Service"]) == "logs.${AWS::Region}.${AWS::URLSuffix}"
    assert set(logs["Condition"]) == {"ArnLike"}
    # EventBridge, for the dead-letter queue of each of the tracker's rules
    events = [s for sid, s in statements.items() if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert {render(s["Condition"]["ArnEquals"]["aws:SourceArn"]) for s in events} == rule_arns
    for statement in events:
        assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    # CloudWatch alarms of this account, to publish to the encrypted notification topic
    alarms = statements["AlarmsToTheNotificationTopic"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # and nothing else
    assert len(statements) == 4 + len(RULES)


@pytest.mark.parametrize("name", ["Trigger", "JobEvents"])
def test_a_function_may_use_the_key_only_to_send_to_its_failure_queue(synth: Synthesized, name: str) -> None:
    key = render(_key_arn(synth))
    statements = [
        s
        for s in synth.statements_of_role(f"{FUNCTION_PATHS[name]}/ServiceRole")
        if any(a.startswith("kms:") for a in s["Action"])
    ]

    [statement] = statements
    assert (statement["Effect"], statement["Action"], statement["Resource"]) == (
        "Allow",
        ["kms:Decrypt", "kms:GenerateDataKey"],
        [key],
    )
    assert {k: render(v) for k, v in statement["Condition"]["StringEquals"].items()} == {
        "kms:ViaService": "sqs.${AWS::Region}.${AWS::URLSuffix}"
    }


def test_no_other_identity_policy_uses_the_key(synth: Synthesized) -> None:
    # The table is used through DynamoDB (the key policy); only the senders to the failure queues need a grant
    # (and Notify, which also reads the encrypted stream and publishes to the encrypted topic: test_notifications).
    senders = {
        synth.logical_id(f"{FUNCTION_PATHS[name]}/ServiceRole/DefaultPolicy")
        for name in ("Trigger", "JobEvents", "Notify")
    }
    users = {
        policy for policy, statement in synth.all_statements() if any(a.startswith("kms:") for a in statement["Action"])
    }

    assert users == senders


def test_rule_names_fit_eventbridge_for_any_stack_name() -> None:
    def name(stack_name: str, rule_id: str) -> str:
        return rule_name(cdk.Stack(cdk.App(), stack_name), rule_id)

    assert name("OmicsJobTracker", "ReferenceUploaded") == "OmicsJobTracker-ReferenceUploaded"
    long_names = {name("T" * 128, "ReferenceUploaded"), name("T" * 127 + "U", "ReferenceUploaded")}
    assert len(long_names) == 2  # cut, and still one name per stack
    for long_name in long_names:
        assert len(long_name) == RULE_NAME_MAX
        assert long_name.endswith("-ReferenceUploaded")
