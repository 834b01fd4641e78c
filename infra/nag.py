"""cdk-nag (AwsSolutions) acknowledgments, in one place. Each names the finding, the construct and why.

A finding without an acknowledgment here fails ``cdk synth`` (cdk-nag runs as a validation plugin).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

_XRAY = "X-Ray PutTraceSegments/PutTelemetryRecords accept only Resource '*' (X-Ray has no resource-level permissions)"
_BASIC_EXECUTION_ARN = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
_BASIC_EXECUTION = (
    "AWSLambdaBasicExecutionRole grants only logs:CreateLogGroup/CreateLogStream/PutLogEvents; "
    "the function writes to its own log group"
)


def _logical_id(stack: Stack, path: str) -> str:
    resource = _find(stack, path).node.default_child
    assert isinstance(resource, CfnElement)
    return str(stack.resolve(stack.get_logical_id(resource)))


def _find(stack: Stack, path: str) -> IConstruct:
    node: IConstruct = stack
    for part in path.split("/"):
        node = node.node.find_child(part)
    return node


def _acknowledgments(stack: Stack) -> list[tuple[str, str, str]]:
    """(construct path below the stack, finding id, reason)."""
    invoke = [
        (
            "Workflow/StateMachine/Role/DefaultPolicy",
            f"AwsSolutions-IAM5[Resource::<{_logical_id(stack, f'Functions/{name}')}.Arn>:*]",
            f"Invoke on the {name} function's versions and aliases, as LambdaInvoke grants it; no other function",
        )
        for name in ("Prepare", "Poll")
    ]
    uploads = _logical_id(stack, "Storage/Uploads")
    return [
        *(
            (f"Functions/{name}/ServiceRole", f"AwsSolutions-IAM4[Policy::{_BASIC_EXECUTION_ARN}]", _BASIC_EXECUTION)
            for name in ("Prepare", "Poll", "Trigger", "JobEvent")
        ),
        *(
            (f"Functions/{name}/ServiceRole/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]", _XRAY)
            for name in ("Prepare", "Trigger")
        ),
        # Poll and JobEvent read jobs (JobEvent once per event, to record item statuses with the status).
        *(
            (
                f"Functions/{name}/ServiceRole/DefaultPolicy",
                "AwsSolutions-IAM5[Resource::*]",
                f"{_XRAY}; omics:GetVariantImportJob also has no resource-level permissions",
            )
            for name in ("Poll", "JobEvent")
        ),
        *(
            (
                f"Functions/{name}/ServiceRole/DefaultPolicy",
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:omics:<AWS::Region>:<AWS::AccountId>:sequenceStore/*]",
                "Read-set exports to follow are named by the console input and may be in any sequence store of the "
                "account; only GetReadSetExportJob is allowed on them",
            )
            for name in ("Poll", "JobEvent")
        ),
        (
            "Workflow/StateMachine/Role/DefaultPolicy",
            "AwsSolutions-IAM5[Resource::*]",
            f"{_XRAY}; CloudWatch Logs delivery actions (logs:CreateLogDelivery and friends) also require '*'",
        ),
        *invoke,
        (
            "Storage/ImportRole/DefaultPolicy",
            f"AwsSolutions-IAM5[Resource::<{uploads}.Arn>/{_upload_prefix(stack)}*]",
            "HealthOmics must read any reference file uploaded under the upload prefix, and only there",
        ),
        *(
            (
                f"{owner}/DeadLetters",
                "AwsSolutions-SQS3",
                f"This queue is itself the dead-letter queue of the {rule} rule's target; nothing consumes it "
                "automatically",
            )
            for owner, rule in (("UploadTrigger", "upload"), ("JobEvents", "job status event"))
        ),
    ]


def _upload_prefix(stack: Stack) -> str:
    settings = getattr(stack, "settings", None)
    return str(getattr(settings, "upload_prefix", "references/"))


def _bucket_notifications_handler(stack: Stack) -> IConstruct | None:
    return next(
        (child for child in stack.node.children if child.node.id.startswith("BucketNotificationsHandler")), None
    )


def add_nag_checks(stack: Stack) -> None:
    """Run AwsSolutions on the stack and acknowledge the findings listed above."""
    Validations.of(stack).add_plugins(AwsSolutionsChecks(stack))
    for path, finding, reason in _acknowledgments(stack):
        Validations.of(_find(stack, path)).acknowledge(Acknowledgment(id=finding, reason=reason))
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
