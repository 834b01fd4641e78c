"""An EventBridge rule whose target is a Lambda function, with a dead-letter queue for what it can't deliver."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct


def rule_to_function(
    scope: Construct,
    rule_id: str,
    *,
    description: str,
    event_pattern: events.EventPattern,
    function: lambda_.IFunction,
    retry_attempts: int,
    max_event_age: Duration,
) -> tuple[events.Rule, sqs.Queue]:
    """The rule ``scope/rule_id`` and its dead-letter queue ``scope/DeadLetters`` (encrypted, TLS only, 14 days)."""
    dead_letters = sqs.Queue(
        scope,
        "DeadLetters",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    rule = events.Rule(scope, rule_id, description=description, event_pattern=event_pattern)
    rule.add_target(
        targets.LambdaFunction(
            function, dead_letter_queue=dead_letters, retry_attempts=retry_attempts, max_event_age=max_event_age
        )
    )
    return rule, dead_letters
