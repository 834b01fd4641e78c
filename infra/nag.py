"""cdk-nag (AwsSolutions) acknowledgments, in one place. Each names the finding, the construct and why.

A finding without an acknowledgment here fails ``cdk synth`` (cdk-nag runs as a validation plugin).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from infra.stack import OmicsJobTrackerStack
from infra.storage import job_read_grants

_XRAY = "X-Ray PutTraceSegments/PutTelemetryRecords accept only Resource '*' (X-Ray has no resource-level permissions)"
_BASIC_EXECUTION_ARN = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
_BASIC_EXECUTION = (
    "AWSLambdaBasicExecutionRole grants only logs:CreateLogGroup/CreateLogStream/PutLogEvents; "
    "the function writes to its own log group"
)
_OMICS_ARN = "arn:<AWS::Partition>:omics:<AWS::Region>:<AWS::AccountId>:"

Finding = tuple[IConstruct, str, str]  # (construct, finding id, reason)


def _logical_id(construct: IConstruct) -> str:
    resource = construct.node.default_child
    assert isinstance(resource, CfnElement)
    stack = Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(resource)))


def _function_findings(stack: OmicsJobTrackerStack) -> list[Finding]:
    readers = {id(reader) for reader in stack.storage.job_readers}
    grants = job_read_grants(stack.storage.reference_store_id)
    unscoped = [spec.iam_action for spec in grants.get("*", [])]
    findings: list[Finding] = []
    for function in (c for c in stack.node.find_all() if isinstance(c, lambda_.Function)):
        role, policy = (
            function.node.find_child("ServiceRole"),
            function.node.find_child("ServiceRole").node.find_child("DefaultPolicy"),
        )
        findings.append((role, f"AwsSolutions-IAM4[Policy::{_BASIC_EXECUTION_ARN}]", _BASIC_EXECUTION))
        if id(function) not in readers:
            findings.append((policy, "AwsSolutions-IAM5[Resource::*]", _XRAY))
            continue
        verb = "has" if len(unscoped) == 1 else "have"
        reason = f"{_XRAY}; {', '.join(unscoped)} {verb} no resource-level permissions either" if unscoped else _XRAY
        findings.append((policy, "AwsSolutions-IAM5[Resource::*]", reason))
        for resource, job_types in grants.items():
            if "*" in resource and resource != "*":
                names = ", ".join(spec.name for spec in job_types)
                findings.append(
                    (
                        policy,
                        f"AwsSolutions-IAM5[Resource::{_OMICS_ARN}{resource}]",
                        f"{names} jobs to follow are named by the console input and may be in any "
                        f"{resource.split('/')[0]} of the account; only "
                        f"{', '.join(spec.iam_action for spec in job_types)} is allowed on them",
                    )
                )
    return findings


def _acknowledgments(stack: OmicsJobTrackerStack) -> list[Finding]:
    workflow = stack.workflow
    state_machine_policy = workflow.state_machine.role.node.find_child("DefaultPolicy")
    uploads = _logical_id(stack.storage.uploads)
    return [
        *_function_findings(stack),
        (
            state_machine_policy,
            "AwsSolutions-IAM5[Resource::*]",
            f"{_XRAY}; CloudWatch Logs delivery actions (logs:CreateLogDelivery and friends) also require '*'",
        ),
        *(
            (
                state_machine_policy,
                f"AwsSolutions-IAM5[Resource::<{_logical_id(function)}.Arn>:*]",
                f"Invoke on the {function.node.id} function's versions and aliases, as LambdaInvoke grants it; "
                "no other function",
            )
            for function in (workflow.prepare_function, workflow.poll_function)
        ),
        (
            stack.storage.import_role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::<{uploads}.Arn>/{stack.settings.upload_prefix}*]",
            "HealthOmics must read any reference file uploaded under the upload prefix, and only there",
        ),
        *(
            (
                queue,
                "AwsSolutions-SQS3",
                f"This queue is itself where failed {what} events end (a dead-letter queue or an on-failure "
                "destination); nothing consumes it automatically and an alarm watches it",
            )
            for what, target in (("upload", stack.upload_trigger.target), ("job status", stack.job_events.target))
            for queue in (target.dead_letters, target.failures)
        ),
    ]


def _bucket_notifications_handler(stack: Stack) -> IConstruct | None:
    return next(
        (child for child in stack.node.children if child.node.id.startswith("BucketNotificationsHandler")), None
    )


def add_nag_checks(stack: OmicsJobTrackerStack) -> None:
    """Run AwsSolutions on the stack and acknowledge the findings listed above."""
    Validations.of(stack).add_plugins(AwsSolutionsChecks(stack))
    for construct, finding, reason in _acknowledgments(stack):
        Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))
    handler = _bucket_notifications_handler(stack)
    if handler is not None:
        # CDK's own custom resource that turns on EventBridge notifications for the upload bucket.
        Validations.of(handler).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM4[Policy::{_BASIC_EXECUTION_ARN}]",
                reason="CDK's BucketNotificationsHandler custom resource: logs permissions only",
            ),
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="CDK's BucketNotificationsHandler calls s3:PutBucketNotification, which it is granted on '*'",
            ),
        )
