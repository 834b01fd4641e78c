"""An EventBridge rule whose target is a Lambda function, with somewhere for every event that fails.

EventBridge invokes the function asynchronously. Two things can go wrong, and each has its queue:
- EventBridge cannot deliver the event (the function is missing, throttled past the rule's retries):
  the rule target's dead-letter queue (``DeadLetters``);
- the function is invoked but fails: Lambda retries it (``function_retries`` times, waiting one then
  two minutes) and then sends the invocation record, with the event, to the function's on-failure
  destination (``Failures``). Without a destination Lambda would drop the event.
Both queues are encrypted, TLS only, keep messages 14 days, and have an alarm on any message.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct


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
    event_pattern: events.EventPattern,
    function: lambda_.Function,
    delivery_retries: int,
    max_event_age: Duration,
    function_retries: int = 2,
) -> RuleTarget:
    """The rule ``scope/rule_id``, its ``DeadLetters`` and the function's ``Failures`` queue, with alarms."""
    dead_letters, failures = _queue(scope, "DeadLetters"), _queue(scope, "Failures")
    rule = events.Rule(scope, rule_id, description=description, event_pattern=event_pattern)
    rule.add_target(
        targets.LambdaFunction(
            function, dead_letter_queue=dead_letters, retry_attempts=delivery_retries, max_event_age=max_event_age
        )
    )
    function.configure_async_invoke(
        on_failure=destinations.SqsDestination(failures), retry_attempts=function_retries, max_event_age=max_event_age
    )
    alarms = (
        _any_message_alarm(scope, "DeadLettersAlarm", dead_letters, f"{rule_id}: events EventBridge could not deliver"),
        _any_message_alarm(scope, "FailuresAlarm", failures, f"{rule_id}: events the function failed on"),
    )
    return RuleTarget(rule, dead_letters, failures, alarms)


def _queue(scope: Construct, construct_id: str) -> sqs.Queue:
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )


def _any_message_alarm(scope: Construct, construct_id: str, queue: sqs.Queue, description: str) -> cloudwatch.Alarm:
    return cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=f"{description} (see README: Failed uploads and events)",
        metric=queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
        ),
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
