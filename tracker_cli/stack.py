"""Where the tracker is and how to reach it: the CloudFormation stack's outputs and the AWS clients.

The only module that creates AWS clients. The session follows the usual AWS rules (``--profile`` or
AWS_PROFILE, ``--region`` or AWS_REGION / AWS_DEFAULT_REGION, and AWS_ENDPOINT_URL, which boto3 reads
itself), so the same commands work against an account and against ``make local``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

DEFAULT_STACK = "OmicsJobTracker"
STACK_ENV = "OMICS_TRACKER_STACK"
QUEUE_OUTPUT_SUFFIX = "QueueUrl"  # outputs of failure queues (docs/operating.md#failed-uploads-and-events)
_REQUIRED_OUTPUTS = ("HistoryTableName", "StateMachineArn")


class CliError(Exception):
    """A problem the user can fix, told in one line: the command exits with status 2, no traceback."""


def default_stack_name(environ: Mapping[str, str], cwd: Path) -> str:
    """OMICS_TRACKER_STACK, else ``stackName`` in ./cdk.json's context (run from a clone), else the default."""
    if environ.get(STACK_ENV):
        return environ[STACK_ENV]
    with contextlib.suppress(OSError, ValueError, AttributeError):
        name = json.loads((cwd / "cdk.json").read_text()).get("context", {}).get("stackName")
        if isinstance(name, str) and name:
            return name
    return DEFAULT_STACK


@dataclass(frozen=True)
class Tracker:
    """The deployed tracker, from its stack's outputs."""

    stack_name: str
    region: str
    table_name: str
    state_machine_arn: str
    upload_bucket: str = ""
    upload_prefix: str = ""
    reference_store_id: str = ""
    queues: dict[str, str] = field(default_factory=dict)  # output name -> queue URL

    @classmethod
    def from_outputs(cls, stack_name: str, region: str, outputs: dict[str, str]) -> Tracker:
        missing = [name for name in _REQUIRED_OUTPUTS if not outputs.get(name)]
        if missing:
            raise CliError(f"stack {stack_name} has no output {', '.join(missing)}: is it the job tracker's stack?")
        return cls(
            stack_name=stack_name,
            region=region,
            table_name=outputs["HistoryTableName"],
            state_machine_arn=outputs["StateMachineArn"],
            upload_bucket=outputs.get("UploadBucketName", ""),
            upload_prefix=outputs.get("UploadPrefix", ""),
            reference_store_id=outputs.get("ReferenceStoreId", ""),
            queues={name: url for name, url in sorted(outputs.items()) if name.endswith(QUEUE_OUTPUT_SUFFIX)},
        )

    @property
    def known_ids(self) -> dict[str, str]:
        """Ids the stack itself fixes: a reference import's store is the stack's store."""
        return {"referenceStoreId": self.reference_store_id} if self.reference_store_id else {}

    def execution_arn(self, name: str) -> str:
        """The ARN of an execution of the tracker's state machine, from its name."""
        return f"{self.state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


class Aws:
    """One session's clients, made when first used."""

    def __init__(self, profile: str | None = None, region: str | None = None) -> None:
        try:
            self.session = boto3.Session(profile_name=profile, region_name=region)
        except ProfileNotFound as error:
            raise CliError(str(error)) from None
        if not self.session.region_name:
            raise CliError("no AWS Region: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION")
        self.region: str = self.session.region_name

    @cached_property
    def dynamodb(self) -> Any:
        return self.session.client("dynamodb")

    @cached_property
    def sfn(self) -> Any:
        return self.session.client("stepfunctions")

    @cached_property
    def sqs(self) -> Any:
        return self.session.client("sqs")

    def find_tracker(self, stack_name: str) -> Tracker:
        """The tracker deployed as `stack_name`, from DescribeStacks."""
        cloudformation = self.session.client("cloudformation")
        try:
            [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            if "does not exist" in str(error):
                raise CliError(
                    f"stack {stack_name} not found in {self.region} (name it with --stack or {STACK_ENV})"
                ) from None
            raise
        outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
        return Tracker.from_outputs(stack_name, self.region, outputs)


@contextlib.contextmanager
def aws_errors() -> Iterator[None]:
    """AWS failures as one line each (CliError), for the command to print and exit 2 on."""
    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise CliError(
            "no AWS credentials: use --profile or AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from None
    except NoRegionError:
        raise CliError("no AWS Region: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION") from None
    except EndpointConnectionError as error:
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        hint = f" (AWS_ENDPOINT_URL={endpoint}: is `make local` running?)" if endpoint else ""
        raise CliError(f"{error}{hint}") from None
    except ClientError as error:
        details = error.response.get("Error", {})
        operation = error.operation_name
        raise CliError(f"{operation}: {details.get('Code', 'Error')}: {details.get('Message', error)}") from None
    except BotoCoreError as error:
        raise CliError(str(error)) from None
