"""The tracker's customer-managed KMS key: the history table, the failure queues and the log groups use it.

One key for the tracker's data at rest, rotated every year, retained when the stack is deleted (the retained
history table cannot be read without it). Its key policy lets the account's IAM policies decide who uses it
(the default key policy), and allows only the services that encrypt on the tracker's behalf:

- DynamoDB, for principals of this account that IAM lets use the history table (``kms:ViaService``), as the
  AWS managed key ``aws/dynamodb`` does; the history table's IAM grants stay the only gate;
- CloudWatch Logs, for the tracker's own log groups (``kms:EncryptionContext:aws:logs:arn``), named by
  ``log_group_name`` below;
- EventBridge, for the dead-letter queues of the tracker's rules (``aws:SourceArn``), added by
  ``allow_event_rule_dead_letters``.

A function that sends to a queue encrypted with the key is granted ``kms:GenerateDataKey`` and ``kms:Decrypt``
through SQS only (``grant_queue_send``).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct

# Log groups by the service that writes them: /aws/lambda/<stack>/<function>, /aws/vendedlogs/states/<stack>/<name>.
# Step Functions delivers execution logs as vended logs; under /aws/vendedlogs/ CloudWatch Logs does not
# grow a resource policy per log group.
LAMBDA_LOGS = "/aws/lambda"
STATES_LOGS = "/aws/vendedlogs/states"
# What DynamoDB uses a table's key for (CDK's table grants ask the same): read, then write.
DYNAMODB_KEY_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"]
# What CloudWatch Logs documents for a log group's key.
LOGS_KEY_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
# What sending to an encrypted queue needs (SQS key management: producer permissions).
QUEUE_SEND_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]


def log_group_name(scope: IConstruct, service: str, name: str) -> str:
    """The name of one of the tracker's log groups: ``<service>/<stack name>/<name>``."""
    return f"{service}/{Stack.of(scope).stack_name}/{name}"


class TrackerKey(Construct):
    """The stack's one data key; ``TrackerKey.of(scope)`` finds it from any construct of the stack."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack_name = Stack.of(self).stack_name
        self.key = kms.Key(
            self,
            "Key",
            description=f"{stack_name}: HealthOmics job tracker data at rest (history table, queues, logs)",
            alias=f"alias/{stack_name}/data",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,  # the retained history table is unreadable without it
        )
        self._allow(
            "HistoryTableThroughDynamoDB",
            iam.AnyPrincipal(),
            DYNAMODB_KEY_ACTIONS,
            {
                "StringEquals": {
                    "kms:CallerAccount": Aws.ACCOUNT_ID,
                    "kms:ViaService": f"dynamodb.{Aws.REGION}.{Aws.URL_SUFFIX}",
                }
            },
        )
        self._allow(
            "TrackerLogGroupsThroughCloudWatchLogs",
            iam.ServicePrincipal(f"logs.{Aws.REGION}.{Aws.URL_SUFFIX}"),
            LOGS_KEY_ACTIONS,
            {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": [
                        _log_group_arn(f"{service}/{stack_name}/*") for service in (LAMBDA_LOGS, STATES_LOGS)
                    ]
                }
            },
        )

    @staticmethod
    def of(scope: IConstruct) -> TrackerKey:
        """The key of the stack ``scope`` is in."""
        keys = [child for child in Stack.of(scope).node.children if isinstance(child, TrackerKey)]
        if len(keys) != 1:
            raise LookupError(f"expected one TrackerKey in the stack of {scope.node.path}, found {len(keys)}")
        return keys[0]

    def allow_event_rule_dead_letters(self, sid: str, rule_arn: str) -> None:
        """EventBridge may put the events of rule ``rule_arn`` it cannot deliver on a queue encrypted with the key."""
        self._allow(
            sid,
            iam.ServicePrincipal("events.amazonaws.com"),
            QUEUE_SEND_KEY_ACTIONS,
            {"ArnEquals": {"aws:SourceArn": rule_arn}, "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )

    def allow_alarm_notifications(self) -> None:
        """CloudWatch alarms of this account may publish to a topic encrypted with the key."""
        self._allow(
            "AlarmsToTheNotificationTopic",
            iam.ServicePrincipal("cloudwatch.amazonaws.com"),
            ["kms:Decrypt", "kms:GenerateDataKey*"],
            {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )

    def grant_queue_send(self, grantee: iam.IGrantable) -> None:
        """What sending to a queue encrypted with the key needs, through SQS only."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=QUEUE_SEND_KEY_ACTIONS,
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sqs.{Aws.REGION}.{Aws.URL_SUFFIX}"}},
            )
        )

    def _allow(self, sid: str, principal: iam.IPrincipal, actions: list[str], conditions: dict[str, Any]) -> None:
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid, principals=[principal], actions=actions, resources=["*"], conditions=conditions
            )
        )


def _log_group_arn(name: str) -> str:
    return f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{name}"
