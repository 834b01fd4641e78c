"""Deploys a synthesized CloudFormation template onto moto, resource by resource.

moto's own CloudFormation cannot run this template (assets, the HealthOmics store, CDK's custom
resources), so this small deployer resolves the intrinsics CDK emits (Ref, Fn::GetAtt, Fn::Join,
Fn::Sub, Fn::Select, Fn::Split and the pseudo parameters) against deterministic local names, and
creates the resources the tracker runs on. The state machine it creates is the synthesized one.

A custom resource of CDK's Provider framework (the account's reference store) is run as the framework
runs it: its on-event handler, one of the stack's functions, is invoked through Lambda with a
CloudFormation request, and its answer's physical id and ``Data`` become the resource's ``Ref`` and
``Fn::GetAtt`` values. Resources are created kind by kind (``CREATION_ORDER``); a custom resource runs
once the functions behind it exist, and whatever reads its attributes (a function's environment, an
output) is created after it, as CloudFormation orders resources by their references.
"""

from __future__ import annotations

import heapq
import io
import json
import re
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3

from localcloud import iam
from localcloud.lambda_runtime import AsyncConfig
from localcloud.omics import OmicsSimulator
from localcloud.schedules import rate
from localcloud.streams import StreamMapping

ACCOUNT = "123456789012"
REGION = "us-east-1"
# The kinds of resource the deployer creates, in this order (later kinds refer to earlier ones by their planned
# names). PROVIDER_CUSTOM_RESOURCE stands for the custom resources of CDK's Provider framework.
PROVIDER_CUSTOM_RESOURCE = "Custom resource (CDK Provider framework)"
CREATION_ORDER = (
    "AWS::IAM::Role",
    "AWS::S3::Bucket",
    "AWS::DynamoDB::GlobalTable",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::Lambda::Function",
    PROVIDER_CUSTOM_RESOURCE,
    "AWS::StepFunctions::StateMachine",
    "AWS::Events::Rule",
)
# The environment variable by which CDK's Provider framework function names the on-event handler it invokes.
PROVIDER_ON_EVENT_ENV = "USER_ON_EVENT_FUNCTION_ARN"


class CustomResourceFailed(RuntimeError):
    """A custom resource's handler failed: CloudFormation would fail the resource and roll the stack back."""


@dataclass
class Deployment:
    """What was created: physical names and ARNs by logical id, plus the ids tests look up by role."""

    stack_name: str
    template: dict[str, Any]
    refs: dict[str, str] = field(default_factory=dict)
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)

    def resources_of(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {lid: r for lid, r in self.template["Resources"].items() if r["Type"] == resource_type}

    def one(self, resource_type: str, id_contains: str = "") -> str:
        matches = [lid for lid in self.resources_of(resource_type) if id_contains in lid]
        if len(matches) != 1:
            raise LookupError(f"expected one {resource_type} with '{id_contains}' in its id, found {matches}")
        return matches[0]


class Resolver:
    def __init__(self, deployment: Deployment) -> None:
        self.d = deployment
        self.pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": deployment.stack_name,
            "AWS::NoValue": None,
        }

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.pseudo[arg] if arg in self.pseudo else self.d.refs[arg]
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.d.attrs[(logical_id, attribute)]
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self(p)) for p in self(parts))
            if key == "Fn::Select":
                index, items = arg
                return self(items)[int(self(index))]
            if key == "Fn::Split":
                separator, text = arg
                return str(self(text)).split(separator)
            if key == "Fn::Sub":
                template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1]))
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(self._sub(m.group(1), variables)), template)
        return {k: self(v) for k, v in value.items()}

    def _sub(self, name: str, variables: dict[str, Any]) -> Any:
        if name in variables:
            return variables[name]
        if "." in name:
            return self({"Fn::GetAtt": name.split(".", 1)})
        return self({"Ref": name})


def _physical_name(stack: str, logical_id: str, limit: int, lower: bool = False) -> str:
    name = f"{stack}-{logical_id}"
    name = name.lower() if lower else name
    return name[:limit]


def _names(kind: str, stack: str, lid: str, props: dict[str, Any], omics: OmicsSimulator) -> tuple[str, dict[str, str]]:
    """A resource's Ref and its attributes (Arn, ...), as CloudFormation would give them here."""
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    if kind == "AWS::S3::Bucket":
        name = _physical_name(stack, lid, 63, lower=True)
        return name, {"Arn": f"arn:aws:s3:::{name}"}
    if kind in ("AWS::IAM::Role", "AWS::Lambda::Function", "AWS::Events::Rule"):
        name = _physical_name(stack, lid, 64)
        service, resource = {
            "AWS::IAM::Role": ("iam", f"role/{name}"),
            "AWS::Lambda::Function": ("lambda", f"function:{name}"),
            "AWS::Events::Rule": ("events", f"rule/{name}"),
        }[kind]
        region_account = f"::{ACCOUNT}" if service == "iam" else f":{REGION}:{ACCOUNT}"
        return name, {"Arn": f"arn:aws:{service}{region_account}:{resource}"}
    if kind == "AWS::KMS::Key":  # named only, encrypts nothing (docs/local-cloud.md#differences-from-aws)
        key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{stack}/{lid}"))
        return key_id, {"Arn": arn.format("kms", f"key/{key_id}"), "KeyId": key_id}
    if kind == "AWS::DynamoDB::GlobalTable":
        name = _physical_name(stack, lid, 255)
        table = arn.format("dynamodb", f"table/{name}")
        return name, {"Arn": table, "StreamArn": f"{table}/stream/local"}
    if kind == "AWS::StepFunctions::StateMachine":
        name = props.get("StateMachineName") or _physical_name(stack, lid, 80)
        state_machine = arn.format("states", f"stateMachine:{name}")
        return state_machine, {"Arn": state_machine, "Name": name}
    if kind == "AWS::SQS::Queue":
        name = _physical_name(stack, lid, 80)
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}", {
            "Arn": arn.format("sqs", name),
            "QueueName": name,
        }
    if kind == "AWS::SNS::Topic":
        name = props.get("TopicName") or _physical_name(stack, lid, 256)
        topic = arn.format("sns", name)
        return topic, {"TopicArn": topic, "TopicName": name}
    if kind in ("AWS::Lambda::LayerVersion", "AWS::Logs::LogGroup"):
        return _named_only(kind, stack, lid)
    if kind == "AWS::Omics::ReferenceStore":
        store_id = omics.create_reference_store(props.get("Name", lid))
        return store_id, {"ReferenceStoreId": store_id, "Arn": arn.format("omics", f"referenceStore/{store_id}")}
    return "", {}


def _named_only(kind: str, stack: str, lid: str) -> tuple[str, dict[str, str]]:
    """Resources the local cloud names but does not create: a log group, the functions' layer (its packages
    come from .venv, docs/local-cloud.md#differences-from-aws)."""
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    if kind == "AWS::Lambda::LayerVersion":
        return arn.format("lambda", f"layer:{_physical_name(stack, lid, 64)}:1"), {}
    name = f"/local/{stack}/{lid}"
    return name, {"Arn": arn.format("logs", f"log-group:{name}:*")}


def plan_names(deployment: Deployment, omics: OmicsSimulator) -> None:
    """Give every resource its local name and ARN before anything is created (they refer to each other)."""
    for lid, resource in deployment.template["Resources"].items():
        ref, attributes = _names(resource["Type"], deployment.stack_name, lid, resource.get("Properties", {}), omics)
        if ref:
            deployment.refs[lid] = ref
            deployment.attrs.update({(lid, name): value for name, value in attributes.items()})


def _zip_dir(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory))
    return buffer.getvalue()


def deploy(cdk_out: Path, stack_name: str, omics: OmicsSimulator) -> Deployment:
    template = json.loads((cdk_out / f"{stack_name}.template.json").read_text())
    deployment = Deployment(stack_name, template)
    plan_names(deployment, omics)
    resolve = Resolver(deployment)
    creators: dict[str, Callable[[str, dict[str, Any]], object]] = {
        "AWS::IAM::Role": lambda lid, p: _iam().create_role(
            RoleName=deployment.refs[lid], AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"])
        ),
        "AWS::S3::Bucket": lambda lid, p: _create_bucket(deployment.refs[lid], p),
        "AWS::DynamoDB::GlobalTable": lambda lid, p: _create_table(deployment.refs[lid], p),
        "AWS::SQS::Queue": lambda lid, p: boto3.client("sqs", region_name=REGION).create_queue(
            QueueName=deployment.attrs[(lid, "QueueName")]
        ),
        "AWS::SNS::Topic": lambda lid, p: boto3.client("sns", region_name=REGION).create_topic(
            Name=deployment.attrs[(lid, "TopicName")]
        ),
        "AWS::SNS::Subscription": lambda lid, p: boto3.client("sns", region_name=REGION).subscribe(
            TopicArn=p["TopicArn"], Protocol=p["Protocol"], Endpoint=p["Endpoint"]
        ),
        "AWS::Lambda::Function": lambda lid, p: _create_function(deployment.refs[lid], p, cdk_out),
        "AWS::StepFunctions::StateMachine": lambda lid, p: boto3.client(
            "stepfunctions", region_name=REGION
        ).create_state_machine(
            name=deployment.attrs[(lid, "Name")],
            definition=p["DefinitionString"],
            roleArn=p["RoleArn"],
            type=p.get("StateMachineType", "STANDARD"),
        ),
        "AWS::Events::Rule": lambda lid, p: _create_rule(deployment.refs[lid], p),
        PROVIDER_CUSTOM_RESOURCE: lambda lid, p: run_custom_resource(deployment, lid, "Create", p),
    }
    for lid in creation_order(deployment):
        resource = deployment.template["Resources"][lid]
        creators[_kind(deployment, resource)](lid, resolve(resource.get("Properties", {})))
    return deployment


def _kind(deployment: Deployment, resource: dict[str, Any]) -> str:
    """The resource's type, or PROVIDER_CUSTOM_RESOURCE for a custom resource of CDK's Provider framework."""
    return PROVIDER_CUSTOM_RESOURCE if _on_event_handler(deployment, resource) else str(resource["Type"])


def _on_event_handler(deployment: Deployment, resource: dict[str, Any]) -> str | None:
    """The logical id of the function that handles a Provider framework custom resource, or None if `resource`
    is not one (other custom resources, like CDK's bucket notifications, are deployed by their own code)."""
    kind = str(resource["Type"])
    if not (kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource"):
        return None
    token = resource.get("Properties", {}).get("ServiceToken")
    framework = deployment.template["Resources"].get(_referenced(token)) if isinstance(token, dict) else None
    variables = (framework or {}).get("Properties", {}).get("Environment", {}).get("Variables", {})
    handler = variables.get(PROVIDER_ON_EVENT_ENV)
    return _referenced(handler) if isinstance(handler, dict) else None


def _referenced(value: dict[str, Any]) -> str:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` names."""
    if "Ref" in value:
        return str(value["Ref"])
    target = value.get("Fn::GetAtt", [""])
    return str(target[0] if isinstance(target, list) else target.split(".", 1)[0])


def references(value: Any) -> set[str]:
    """Every logical id `value` refers to (Ref, Fn::GetAtt, Fn::Sub), pseudo parameters left out."""
    if isinstance(value, list):
        return set().union(*(references(item) for item in value))
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, argument in value.items():
        if key in ("Ref", "Fn::GetAtt"):
            found.add(_referenced({key: argument}))
        elif key == "Fn::Sub":
            template, variables = (argument, {}) if isinstance(argument, str) else argument
            names = {name.split(".", 1)[0] for name in re.findall(r"\$\{([^}!]+)\}", template)}
            found |= names - set(variables) | references(variables)
        else:
            found |= references(argument)
    return {name for name in found if not name.startswith("AWS::")}


def creation_order(deployment: Deployment) -> list[str]:
    """The logical ids to create, kind by kind as CREATION_ORDER lists them, except that a resource waits for
    the custom resources it reads (or depends on), and a custom resource for the functions that run it."""
    resources = deployment.template["Resources"]
    kinds = {lid: _kind(deployment, resource) for lid, resource in resources.items()}
    rank = {lid: CREATION_ORDER.index(kind) for lid, kind in kinds.items() if kind in CREATION_ORDER}
    custom = {lid for lid in rank if kinds[lid] == PROVIDER_CUSTOM_RESOURCE}
    waits = {lid: _waits_for(deployment, lid, custom) & set(rank) for lid in rank}
    position = {lid: index for index, lid in enumerate(resources)}
    ready = [(rank[lid], position[lid], lid) for lid, waited in waits.items() if not waited]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        lid = heapq.heappop(ready)[2]
        order.append(lid)
        for other, waited in waits.items():
            if lid in waited:
                waited.discard(lid)
                if not waited:
                    heapq.heappush(ready, (rank[other], position[other], other))
    if len(order) < len(rank):
        raise RuntimeError(f"resources wait for each other: {sorted(set(rank) - set(order))}")
    return order


def _waits_for(deployment: Deployment, lid: str, custom: set[str]) -> set[str]:
    resource = deployment.template["Resources"][lid]
    depends_on = resource.get("DependsOn", [])
    read = references(resource.get("Properties", {})) | set([depends_on] if isinstance(depends_on, str) else depends_on)
    waited = read & custom
    if lid in custom:  # the Provider framework's function (the service token) and the handler it invokes
        handler = _on_event_handler(deployment, resource)
        waited |= {_referenced(resource["Properties"]["ServiceToken"]), *([handler] if handler else [])}
    return waited


def run_custom_resource(
    deployment: Deployment, lid: str, request_type: str = "Create", properties: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One CloudFormation request to a Provider framework custom resource, as the framework makes it: its
    on-event handler is invoked (through Lambda) with the request, and its answer's physical id and ``Data``
    become the resource's ``Ref`` and attributes. A handler error raises CustomResourceFailed."""
    resource = deployment.template["Resources"][lid]
    properties = properties if properties is not None else Resolver(deployment)(resource["Properties"])
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": properties["ServiceToken"],
        "ResponseURL": f"https://cloudformation-custom-resource-response-{REGION}.local/{lid}",
        "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{deployment.stack_name}/local",
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": lid,
        "ResourceType": resource["Type"],
        "ResourceProperties": properties,
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = deployment.refs[lid]
    if request_type == "Update":
        event["OldResourceProperties"] = properties
    handler = deployment.refs[str(_on_event_handler(deployment, resource))]
    response = boto3.client("lambda", region_name=REGION).invoke(FunctionName=handler, Payload=json.dumps(event))
    answer = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        raise CustomResourceFailed(f"{lid} ({resource['Type']}) {request_type} failed: {answer}")
    if request_type != "Delete":
        # The framework's default physical id: the request's id for a Create, the one it had for an Update.
        deployment.refs[lid] = str(
            answer.get("PhysicalResourceId") or event.get("PhysicalResourceId", event["RequestId"])
        )
        deployment.attrs.update({(lid, name): str(value) for name, value in (answer.get("Data") or {}).items()})
    return dict(answer)


def _iam() -> Any:
    return boto3.client("iam", region_name=REGION)


def _create_bucket(name: str, props: dict[str, Any]) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=name)
    if props.get("VersioningConfiguration"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def _create_table(name: str, props: dict[str, Any]) -> None:
    indexes = [
        {
            "IndexName": gsi["IndexName"],
            "KeySchema": gsi["KeySchema"],
            "Projection": gsi.get("Projection", {"ProjectionType": "ALL"}),
        }
        for gsi in props.get("GlobalSecondaryIndexes", [])
    ]
    stream = props.get("StreamSpecification")
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=name,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
        **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
        **({"StreamSpecification": {"StreamEnabled": True, **stream}} if stream else {}),
    )


def _create_function(name: str, props: dict[str, Any], cdk_out: Path) -> None:
    code = props["Code"]
    if "ZipFile" in code:  # CDK's inline custom-resource handlers: not part of the tracker
        return
    asset = cdk_out / f"asset.{code['S3Key'].removesuffix('.zip')}"
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name,
        Runtime=props["Runtime"],
        Role=props["Role"],
        Handler=props["Handler"],
        Code={"ZipFile": _zip_dir(asset)},
        Timeout=props.get("Timeout", 3),
        MemorySize=props.get("MemorySize", 128),
        Environment={"Variables": props.get("Environment", {}).get("Variables", {})},
        # The layer is not loaded: the same releases come from .venv (requirements-lambda.txt).
    )


def _create_rule(name: str, props: dict[str, Any]) -> None:
    pattern, schedule = props.get("EventPattern"), props.get("ScheduleExpression")
    if schedule is not None:
        rate(name, schedule)  # a schedule the local cloud cannot run fails the deploy
    events = boto3.client("events", region_name=REGION)
    events.put_rule(
        Name=name,
        **({"EventPattern": json.dumps(pattern)} if pattern is not None else {}),
        **({"ScheduleExpression": schedule} if schedule is not None else {}),
        State=props.get("State", "ENABLED"),
    )
    targets = [
        {
            k: v
            for k, v in target.items()
            if k in ("Id", "Arn", "Input", "InputTransformer", "RoleArn", "DeadLetterConfig", "RetryPolicy")
        }
        for target in props.get("Targets", [])
    ]
    events.put_targets(Rule=name, Targets=targets)


def schedule_rules(deployment: Deployment) -> dict[str, timedelta]:
    """The stack's schedule rules: each one's name and period (LocalCloud runs them on its clock)."""
    resolve = Resolver(deployment)
    return {
        deployment.refs[lid]: rate(deployment.refs[lid], resolve(resource["Properties"]["ScheduleExpression"]))
        for lid, resource in deployment.resources_of("AWS::Events::Rule").items()
        if "ScheduleExpression" in resource.get("Properties", {})
    }


def enable_eventbridge_notifications(deployment: Deployment) -> None:
    """What CDK's Custom::S3BucketNotifications does at deploy time."""
    resolve = Resolver(deployment)
    s3 = boto3.client("s3", region_name=REGION)
    for resource in deployment.resources_of("Custom::S3BucketNotifications").values():
        props = resolve(resource["Properties"])
        if "EventBridgeConfiguration" in props.get("NotificationConfiguration", {}):
            s3.put_bucket_notification_configuration(
                Bucket=props["BucketName"], NotificationConfiguration={"EventBridgeConfiguration": {}}
            )


def async_configs(deployment: Deployment) -> dict[str, AsyncConfig]:
    """Each function's EventInvokeConfig (retries, on-failure queue), for the in-process Lambda runtime."""
    resolve = Resolver(deployment)
    queues = {
        deployment.attrs[(lid, "Arn")]: deployment.attrs[(lid, "QueueName")]
        for lid in deployment.resources_of("AWS::SQS::Queue")
    }
    configs = {}
    for resource in deployment.resources_of("AWS::Lambda::EventInvokeConfig").values():
        props = resolve(resource["Properties"])
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        configs[props["FunctionName"]] = AsyncConfig(
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", 2)),
            on_failure_queue=queues.get(destination) if destination else None,
        )
    return configs


def stream_mappings(deployment: Deployment) -> list[StreamMapping]:
    """The stack's DynamoDB stream event source mappings, for the in-process Lambda runtime to run."""
    resolve = Resolver(deployment)
    tables = {
        deployment.attrs[(lid, "StreamArn")]: deployment.refs[lid]
        for lid in deployment.resources_of("AWS::DynamoDB::GlobalTable")
    }
    queues = {
        deployment.attrs[(lid, "Arn")]: deployment.attrs[(lid, "QueueName")]
        for lid in deployment.resources_of("AWS::SQS::Queue")
    }
    mappings = []
    for resource in deployment.resources_of("AWS::Lambda::EventSourceMapping").values():
        props = resolve(resource["Properties"])
        if props["EventSourceArn"] not in tables:
            continue
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        mappings.append(
            StreamMapping(
                table=tables[props["EventSourceArn"]],
                stream_arn=props["EventSourceArn"],
                function_name=props["FunctionName"],
                batch_size=int(props.get("BatchSize", 100)),
                filters=[json.loads(f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])],
                maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                report_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                on_failure_queue=queues.get(destination) if destination else None,
            )
        )
    return mappings


def iam_policies(deployment: Deployment) -> iam.Policies:
    """Every role's identity policies as the template gives them, for the local IAM check."""
    roles = {lid: deployment.attrs[(lid, "Arn")] for lid in deployment.resources_of("AWS::IAM::Role")}
    return iam.policies_of(deployment.template["Resources"], Resolver(deployment), roles)
