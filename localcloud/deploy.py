"""Deploys a synthesized CloudFormation template onto moto, resource by resource.

moto's own CloudFormation cannot run this template (assets, the HealthOmics store, CDK's custom
resources), so this small deployer resolves the intrinsics CDK emits (Ref, Fn::GetAtt, Fn::Join,
Fn::Sub, Fn::Select, Fn::Split and the pseudo parameters) against deterministic local names, and
creates the resources the tracker runs on. The state machine it creates is the synthesized one.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from localcloud.lambda_runtime import AsyncConfig
from localcloud.omics import OmicsSimulator

ACCOUNT = "123456789012"
REGION = "us-east-1"


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
    if kind == "AWS::Logs::LogGroup":
        name = f"/local/{stack}/{lid}"
        return name, {"Arn": arn.format("logs", f"log-group:{name}:*")}
    if kind == "AWS::Omics::ReferenceStore":
        store_id = omics.create_reference_store(props.get("Name", lid))
        return store_id, {"ReferenceStoreId": store_id, "Arn": arn.format("omics", f"referenceStore/{store_id}")}
    return "", {}


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
    creators: dict[str, Callable[[str, dict[str, Any]], None]] = {
        "AWS::IAM::Role": lambda lid, p: _iam().create_role(
            RoleName=deployment.refs[lid], AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"])
        ),
        "AWS::S3::Bucket": lambda lid, p: _create_bucket(deployment.refs[lid], p),
        "AWS::DynamoDB::GlobalTable": lambda lid, p: _create_table(deployment.refs[lid], p),
        "AWS::SQS::Queue": lambda lid, p: boto3.client("sqs", region_name=REGION).create_queue(
            QueueName=deployment.attrs[(lid, "QueueName")]
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
    }
    for kind, create in creators.items():  # in this order: later kinds refer to earlier ones
        for lid, resource in deployment.resources_of(kind).items():
            create(lid, resolve(resource.get("Properties", {})))
    return deployment


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
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=name,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
        **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
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
        # The Powertools layer is public in AWS; locally the same package comes from requirements.txt.
    )


def _create_rule(name: str, props: dict[str, Any]) -> None:
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name=name, EventPattern=json.dumps(props["EventPattern"]), State=props.get("State", "ENABLED"))
    targets = [
        {
            k: v
            for k, v in target.items()
            if k in ("Id", "Arn", "Input", "InputTransformer", "RoleArn", "DeadLetterConfig", "RetryPolicy")
        }
        for target in props.get("Targets", [])
    ]
    events.put_targets(Rule=name, Targets=targets)


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
