"""An EventBridge rule whose target is a Lambda function, with somewhere for every event that fails.

EventBridge invokes the function asynchronously. Two things can go wrong, and each has its queue:
- EventBridge cannot deliver the event (the function is missing, throttled past the rule's retries):
  the rule target's dead-letter queue (``DeadLetters``);
- the function is invoked but fails: Lambda retries it (``function_retries`` times, waiting one then
  two minutes) and then sends the invocation record, with the event, to the function's on-failure
  destination (``Failures``). Without a destination Lambda would drop the event.
Both queues are encrypted with the tracker's key (``infra/encryption.py``), TLS only, keep messages 14 days,
and have an alarm on any message (``infra/monitoring.py`` sends it to the notification topic). EventBridge may use
the key for the rule's dead-letter queue only, and the function may use it to send to its failure queue only
(``kms:GenerateDataKey`` and ``kms:Decrypt``, through SQS).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import jsii
from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.encryption import TrackerKey

RULE_NAME_MAX = 64  # characters of an EventBridge rule name


@dataclass(frozen=True)
class RuleTarget:
    rule: events.Rule
    dead_letters: sqs.Queue  # events EventBridge could not deliver
    failures: sqs.Queue  # events the function failed on, after Lambda's retries
    alarms: tuple[cloudwatch.Alarm, ...]


def rule_to_function(
    scope: Construct,
    rule_id: str,
    *,
    description: str,
    function: lambda_.Function,
    delivery_retries: int,
    max_event_age: Duration,
    function_retries: int = 2,
    event_pattern: events.EventPattern | None = None,
    schedule: events.Schedule | None = None,
) -> RuleTarget:
    """The rule ``scope/rule_id``, its ``DeadLetters`` and the function's ``Failures`` queue, with alarms."""
    data_key = TrackerKey.of(scope)
    dead_letters, failures = (
        failure_queue(scope, "DeadLetters", data_key.key),
        failure_queue(scope, "Failures", data_key.key),
    )
    name = rule_name(scope, rule_id)
    # Named, so that the key policy can name the rule without depending on it (the rule depends on the key's queue).
    data_key.allow_event_rule_dead_letters(
        f"{rule_id}DeadLetters", Stack.of(scope).format_arn(service="events", resource="rule", resource_name=name)
    )
    rule = events.Rule(
        scope, rule_id, rule_name=name, description=description, event_pattern=event_pattern, schedule=schedule
    )
    rule.add_target(
        targets.LambdaFunction(
            function, dead_letter_queue=dead_letters, retry_attempts=delivery_retries, max_event_age=max_event_age
        )
    )
    function.configure_async_invoke(
        on_failure=FailureQueue(failures), retry_attempts=function_retries, max_event_age=max_event_age
    )
    function.add_to_role_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[failures.queue_arn]))
    data_key.grant_queue_send(function)
    alarms = (
        any_message_alarm(scope, "DeadLettersAlarm", dead_letters, f"{rule_id}: events EventBridge could not deliver"),
        any_message_alarm(scope, "FailuresAlarm", failures, f"{rule_id}: events the function failed on"),
    )
    return RuleTarget(rule, dead_letters, failures, alarms)


def rule_name(scope: Construct, rule_id: str) -> str:
    """``<stack name>-<rule id>``; a stack name too long for EventBridge's 64 characters is cut and a hash of the
    whole name keeps it unique."""
    name = f"{Stack.of(scope).stack_name}-{rule_id}"
    if len(name) <= RULE_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: RULE_NAME_MAX - len(rule_id) - len(digest) - 2]}-{digest}-{rule_id}"


@jsii.implements(lambda_.IDestination)
class FailureQueue:
    """An on-failure destination like CDK's ``SqsDestination``, without its grant (which adds ``sqs:GetQueue*``
    and, for an encrypted queue, ``kms:Encrypt``, ``kms:ReEncrypt*`` and ``kms:GenerateDataKey*``): the function is
    granted exactly what sending needs instead."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self._queue = queue

    def bind(
        self, _scope: Construct, _fn: lambda_.IFunction, *, type: lambda_.DestinationType | None = None
    ) -> lambda_.DestinationConfig:
        return lambda_.DestinationConfig(destination=self._queue.queue_arn)


def failure_queue(scope: Construct, construct_id: str, key: kms.IKey) -> sqs.Queue:
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )


def any_message_alarm(scope: Construct, construct_id: str, queue: sqs.Queue, description: str) -> cloudwatch.Alarm:
    return cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=f"{description} (see docs/operating.md#failed-uploads-and-events)",
        metric=queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
        ),
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
