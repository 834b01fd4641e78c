"""cdk-nag acknowledgments (AwsSolutions, HIPAA Security, Serverless), in one place. Each names the finding,
the construct and why.

A finding without an acknowledgment here fails ``cdk synth`` (each pack runs as a validation plugin).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NagPack, ServerlessChecks
from constructs import IConstruct

from infra.functions import RUNTIME
from infra.stack import OmicsJobTrackerStack
from infra.storage import job_read_grants
from tracker.contract import JOB_TYPES

_XRAY = "X-Ray PutTraceSegments/PutTelemetryRecords accept only Resource '*' (X-Ray has no resource-level permissions)"
_BASIC_EXECUTION_ARN = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
_BASIC_EXECUTION = (
    "AWSLambdaBasicExecutionRole grants only logs:CreateLogGroup/CreateLogStream/PutLogEvents; "
    "the function writes to its own log group"
)
_OMICS_ARN = "arn:<AWS::Partition>:omics:<AWS::Region>:<AWS::AccountId>:"

Finding = tuple[IConstruct, str, str]  # (construct, finding id, reason)
# The packs run at synthesis: AWS Solutions, HIPAA Security (HealthOmics is HIPAA eligible) and Serverless.
PACKS: tuple[type[NagPack], ...] = (AwsSolutionsChecks, HIPAASecurityChecks, ServerlessChecks)


def _logical_id(construct: IConstruct) -> str:
    resource = construct.node.default_child
    assert isinstance(resource, CfnElement)
    stack = Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(resource)))


_RUNTIME = (
    f"{RUNTIME.name}, not the newest Python runtime: the functions run on the Python the tests, the demo and "
    "the local cloud run on (synthesis checks they agree), and 3.14 cannot be installed where they run; "
    f"Lambda supports {RUNTIME.name} on arm64 until 2029-06-30"
)


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
        if function.runtime.name == RUNTIME.name:
            findings += [(function, rule, _RUNTIME) for rule in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion")]
        if stack.sweep is not None and function is stack.sweep.function:
            findings += _sweep_findings(stack, policy)
            continue
        if id(function) not in readers:
            if _traced(function):
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


def _sweep_findings(stack: OmicsJobTrackerStack, policy: IConstruct) -> list[Finding]:
    """The sweep lists every followed kind's jobs in the whole account: List operations without resource-level
    permissions on "*", and those on stores on every store of the kind."""
    kinds = [JOB_TYPES[kind] for kind in stack.settings.follow_all_jobs]
    unscoped = sorted(
        {f"omics:{spec.list_operation}" for spec in kinds if spec.list_iam_resource == "*"}
        | {f"omics:{spec.store_list_operation}" for spec in kinds if spec.store_list_operation}
    )
    reason = f"{_XRAY}; {', '.join(unscoped)} have no resource-level permissions either" if unscoped else _XRAY
    findings: list[Finding] = [(policy, "AwsSolutions-IAM5[Resource::*]", reason)]
    stores: dict[str, list[str]] = {}
    for spec in kinds:
        if spec.list_iam_resource != "*":
            stores.setdefault(spec.list_iam_resource, []).append(f"omics:{spec.list_operation}")
    for resource, actions in stores.items():
        reason = (
            f"account-wide mode follows jobs in every {resource.split('/')[0]} of the account, whose ids the sweep "
            f"only learns by listing; only {', '.join(actions)} is allowed on them"
        )
        findings.append((policy, f"AwsSolutions-IAM5[Resource::{_OMICS_ARN}{resource}]", reason))
    return findings


def _traced(function: lambda_.Function) -> bool:
    """Active X-Ray tracing, whose grant is the policy's Resource '*' (CDK's framework functions have none)."""
    resource = function.node.default_child
    return isinstance(resource, lambda_.CfnFunction) and resource.tracing_config is not None


def _nag_text(stack: Stack, value: str) -> str:
    """A value as cdk-nag spells it in finding ids: Ref as <Name>, Fn::GetAtt as <LogicalId.Attribute>."""
    resolved = stack.resolve(value)
    if isinstance(resolved, str):
        return resolved
    return "".join(_nag_part(part) for part in resolved["Fn::Join"][1])


def _nag_part(part: Any) -> str:
    if isinstance(part, str):
        return part
    if "Ref" in part:
        return f"<{part['Ref']}>"
    logical_id, attribute = part["Fn::GetAtt"]
    return f"<{logical_id}.{attribute}>"


def _acknowledgments(stack: OmicsJobTrackerStack) -> list[Finding]:
    workflow = stack.workflow
    state_machine_policy = workflow.state_machine.role.node.find_child("DefaultPolicy")
    uploads = stack.storage.uploads
    # A bucket the stack created is named by its logical id; an existing one by its ARN.
    uploads_arn = (
        f"<{_logical_id(uploads)}.Arn>"
        if uploads.node.default_child is not None
        else f"arn:<AWS::Partition>:s3:::{uploads.bucket_name}"
    )
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
            for function in (workflow.prepare_function, workflow.poll_function, workflow.queue_function)
        ),
        (
            _role_policy(workflow.queue_function),
            f"AwsSolutions-IAM5[Resource::{_nag_text(stack, stack.storage.reference_store_arn)}/reference/*]",
            "An import's sources may carry tags, which HealthOmics puts on the references it creates: TagResource "
            "on the new references of the tracker's store, whose ids are not known before the import",
        ),
        (
            stack.storage.import_role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::{uploads_arn}/{stack.settings.upload_prefix}*]",
            "HealthOmics must read any reference file uploaded under the upload prefix, and only there",
        ),
        *(
            (
                stack.storage.import_role.node.find_child("DefaultPolicy"),
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{location}*]",
                f"importSources names s3://{location} as a place console-started imports may read references from",
            )
            for location in stack.settings.import_sources
        ),
        *(
            (
                queue,
                "AwsSolutions-SQS3",
                f"This queue is itself where failed {what} events end (a dead-letter queue or an on-failure "
                "destination); nothing consumes it automatically and an alarm watches it",
            )
            for what, queue in _failure_queues(stack)
        ),
    ]


def _role_policy(function: lambda_.Function) -> IConstruct:
    assert function.role is not None  # the function made its own role
    return function.role.node.find_child("DefaultPolicy")


def _failure_queues(stack: OmicsJobTrackerStack) -> list[tuple[str, sqs.Queue]]:
    """(what fails into it, queue) for every queue where failed events or stream batches end."""
    queues = [
        (what, queue)
        for what, target in (("upload", stack.upload_trigger.target), ("job status", stack.job_events.target))
        for queue in (target.dead_letters, target.failures)
    ]
    if stack.sweep is not None:
        queues += [("sweep schedule", stack.sweep.target.dead_letters), ("sweep", stack.sweep.target.failures)]
    return [*queues, ("status change", stack.notifications.failures)]


# HIPAA Security and Serverless ---------------------------------------------------------------------------------

_INLINE_POLICY = (
    "CDK writes this role's grants as an AWS::IAM::Policy attached to this role only, deployed, changed and "
    "deleted with it by this stack (tests/infra/test_iam_scoping.py asserts its statements); a customer managed "
    "policy would carry the same statements for the same single role"
)
_SYNCHRONOUS = "invoked synchronously by the state machine's {step} step"
_ASYNCHRONOUS = "invoked asynchronously by EventBridge, once per {event}"
_RESERVED_CONCURRENCY = (
    "a reserved concurrency would be taken from the account's unreserved pool, of which Lambda keeps 100 "
    "unreserved, so it cannot be deployed in accounts with a low concurrency quota"
)


def _tracker_functions(stack: OmicsJobTrackerStack) -> list[tuple[lambda_.Function, str, str]]:
    """(function, how it is invoked, the AWS APIs it calls besides X-Ray and CloudWatch Logs)."""
    workflow = stack.workflow
    sweep = (
        [
            (
                stack.sweep.function,
                _ASYNCHRONOUS.format(event="scheduled sweep"),
                "HealthOmics List*, DynamoDB BatchGetItem and UpdateItem, Step Functions StartExecution",
            )
        ]
        if stack.sweep is not None
        else []
    )
    return sweep + [
        (workflow.prepare_function, _SYNCHRONOUS.format(step="Prepare"), "none: it validates the input"),
        (workflow.poll_function, _SYNCHRONOUS.format(step="PollJob"), "HealthOmics Get*Job, DynamoDB"),
        (
            workflow.queue_function,
            _SYNCHRONOUS.format(step="TakeTurn"),
            "HealthOmics Start/List/GetReferenceImportJob, DynamoDB, Step Functions SendTaskSuccess",
        ),
        (stack.upload_trigger.function, _ASYNCHRONOUS.format(event="upload"), "Step Functions StartExecution"),
        (
            stack.job_events.function,
            _ASYNCHRONOUS.format(event="aws.omics status event"),
            "HealthOmics Get*Job, DynamoDB, Step Functions SendTaskSuccess (and StartExecution, account-wide)",
        ),
        (
            stack.notifications.function,
            "invoked by the history table's stream mapping, in order per job",
            "DynamoDB Streams, DynamoDB GetItem and UpdateItem, EventBridge PutEvents, SNS Publish",
        ),
    ]


def _function_pack_findings(stack: OmicsJobTrackerStack) -> list[Finding]:
    failures = {
        id(stack.upload_trigger.function): stack.upload_trigger.target.failures,
        id(stack.job_events.function): stack.job_events.target.failures,
    }
    if stack.sweep is not None:
        failures[id(stack.sweep.function)] = stack.sweep.target.failures
    findings: list[Finding] = []
    for function, invoked, apis in _tracker_functions(stack):
        queue = failures.get(id(function))
        if function is stack.notifications.function:
            dlq = (
                f"The stream mapping sends the record of a batch it gives up on to its on-failure destination "
                f"{stack.notifications.failures.node.path}; a function dead-letter queue serves asynchronous "
                "invocations only, and a stream mapping invokes synchronously"
            )
            throttled = "the stream mapping retries a throttled batch until the record's maximum age"
        elif queue is None:
            dlq = (
                f"Lambda dead-letter queues take failed asynchronous invocations only; this function is {invoked}, "
                "so an error goes back to the execution, which retries or catches it"
            )
            throttled = "Step Functions retries Lambda.TooManyRequestsException with backoff"
        else:
            dlq = (
                f"Failed invocations go to the on-failure destination {queue.node.path} with Lambda's invocation "
                "record (the event, the error, RetriesExhausted), which a dead-letter queue would not carry"
            )
            throttled = "Lambda retries a throttled asynchronous invocation until the event's maximum age"
        findings += [
            (function, "HIPAA.Security-LambdaDLQ", dlq),
            (function, "Serverless-LambdaDLQ", dlq),
            (
                function,
                "HIPAA.Security-LambdaInsideVPC",
                f"The function calls only AWS service APIs ({apis}) over TLS with IAM-signed requests and reaches "
                "nothing inside a VPC; in a VPC it would need a NAT gateway or an interface endpoint per service",
            ),
            (
                function,
                "HIPAA.Security-LambdaConcurrency",
                f"The function is {invoked}, so its concurrency follows the tracker's work; {throttled}; "
                f"{_RESERVED_CONCURRENCY}",
            ),
            (
                function.node.find_child("ServiceRole").node.find_child("DefaultPolicy"),
                "HIPAA.Security-IAMNoInlinePolicy",
                _INLINE_POLICY,
            ),
        ]
    return findings


def _event_target_findings(stack: OmicsJobTrackerStack) -> list[Finding]:
    findings: list[Finding] = [
        (
            queue,
            "Serverless-SQSRedrivePolicy",
            f"This queue is itself where failed {what} events end; people read it "
            "(docs/operating.md#failed-uploads-and-events) and no consumer fails on its messages, so there is nothing "
            "to redrive to a further queue",
        )
        for what, queue in _failure_queues(stack)
    ]
    return findings


def _storage_findings(stack: OmicsJobTrackerStack) -> list[Finding]:
    storage = stack.storage
    findings: list[Finding] = [
        (storage.import_role.node.find_child("DefaultPolicy"), "HIPAA.Security-IAMNoInlinePolicy", _INLINE_POLICY),
        (
            stack.workflow.state_machine.role.node.find_child("DefaultPolicy"),
            "HIPAA.Security-IAMNoInlinePolicy",
            _INLINE_POLICY,
        ),
    ]
    notifications = storage.uploads.node.try_find_child("Notifications")
    handler_policy = notifications.node.try_find_child("HandlerPolicy") if notifications else None
    if handler_policy is not None:
        findings.append(
            (
                handler_policy,
                "HIPAA.Security-IAMNoInlinePolicy",
                "CDK's BucketNotificationsHandler custom resource: its s3:PutBucketNotification grant, attached to "
                "the handler's role only",
            )
        )
    return findings + _bucket_findings(stack)


def _bucket_findings(stack: OmicsJobTrackerStack) -> list[Finding]:
    """The buckets the stack creates (none when it watches an existing bucket)."""
    single_region = (
        "cross-Region replication needs a destination bucket in another Region, which this single-Region stack "
        "does not own; the bucket is retained when the stack is deleted"
    )
    findings: list[Finding] = []
    uploads = stack.storage.uploads
    if isinstance(uploads.node.default_child, s3.CfnBucket):
        findings += [
            (
                uploads,
                "HIPAA.Security-S3BucketReplicationEnabled",
                "Uploads are staging copies: HealthOmics keeps each imported reference in the reference store, "
                f"and the bucket is versioned; {single_region}",
            ),
            (
                uploads,
                "HIPAA.Security-S3DefaultEncryptionKMS",
                "Uploads are encrypted at rest with SSE-S3 (AES-256), TLS only, public access blocked; with SSE-KMS "
                "every uploader and the HealthOmics import role would also need the key",
            ),
        ]
    access_logs = stack.storage.node.try_find_child("AccessLogs")
    if access_logs is not None:
        findings += [
            (access_logs, "HIPAA.Security-S3BucketReplicationEnabled", f"Server access logs; {single_region}"),
            (
                access_logs,
                "HIPAA.Security-S3DefaultEncryptionKMS",
                "Server access logs are encrypted at rest with SSE-S3 (AES-256), which S3's log delivery writes "
                "without a grant on a customer managed key; they hold request records, not uploaded data",
            ),
            (
                access_logs,
                "HIPAA.Security-S3BucketVersioningEnabled",
                "S3's log delivery writes each log object once and never rewrites it; the bucket is retained, "
                "TLS only and private, and its objects expire after 365 days",
            ),
        ]
    return findings


def _hipaa_and_serverless_findings(stack: OmicsJobTrackerStack) -> list[Finding]:
    return [
        *_function_pack_findings(stack),
        *_event_target_findings(stack),
        *_storage_findings(stack),
        *_subscription_findings(stack),
    ]


def _subscription_findings(stack: OmicsJobTrackerStack) -> list[Finding]:
    topic = stack.notifications.topic
    return [
        (
            subscription,
            "Serverless-SNSRedrivePolicy",
            "The notificationEmail subscription: SNS retries e-mail delivery itself; a message it cannot deliver "
            "is also the job's 'Job Status Changed' event and its history entry (omics-tracker show), so a "
            "dead-letter queue would hold a third copy nobody reads",
        )
        for subscription in topic.node.children
        if isinstance(subscription, sns.Subscription)
    ]


def _bucket_notifications_handler(stack: Stack) -> IConstruct | None:
    return next(
        (child for child in stack.node.children if child.node.id.startswith("BucketNotificationsHandler")), None
    )


def add_nag_checks(stack: OmicsJobTrackerStack) -> None:
    """Run the packs on the stack and acknowledge the findings listed above."""
    Validations.of(stack).add_plugins(*(pack(stack) for pack in PACKS))
    for construct, finding, reason in [*_acknowledgments(stack), *_hipaa_and_serverless_findings(stack)]:
        Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))
    handler = _bucket_notifications_handler(stack)
    if handler is not None:
        # CDK's own custom resource that turns on EventBridge notifications for the upload bucket (its
        # s3:PutBucketNotification grant names the bucket: Storage/Uploads/Notifications/HandlerPolicy).
        Validations.of(handler).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM4[Policy::{_BASIC_EXECUTION_ARN}]",
                reason=f"CDK's BucketNotificationsHandler custom resource, with the role aws-cdk-lib gives it: "
                f"{_BASIC_EXECUTION}",
            ),
        )
