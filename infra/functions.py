"""The one way this stack defines a Lambda function: same code asset, runtime, layer, logs and tracing."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

from aws_cdk import ArnFormat, CfnDynamicReference, CfnDynamicReferenceService, Duration, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.encryption import LAMBDA_LOGS, TrackerKey, log_group_name
from infra.settings import SettingsError, TrackerSettings
from tracker.contract import METRICS_NAMESPACE, SERVICE_NAME

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = ROOT / "lambdas"
REQUIREMENTS = ROOT / "requirements.txt"  # what the tests ran: the layer must ship the same Powertools release
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
POWERTOOLS_ACCOUNT = "017000801446"


class LayerLookup(Enum):
    """A release whose layer version is not recorded yet: CloudFormation reads the layer ARN of exactly that
    release from Powertools' public SSM parameter when it deploys (and fails the deployment if there is none)."""

    AT_DEPLOY = "at deploy"


# Powertools for AWS Lambda (Python) release -> version N of its public layer
# arn:aws:lambda:<region>:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:N
# A release is published as one layer version for every runtime and architecture: the release workflow
# (.github/workflows/update_ssm.yml in aws-powertools/powertools-lambda-python) writes the same $LAYER_VERSION
# for python3.9 ... python3.14, arm64 and x86_64. Sources, read 2026-11-28:
#   3.23.0 -> 27  https://github.com/aws-powertools/powertools-lambda-python/issues/7689 (3.23.0's layer is
#                 ...-python313-x86_64:27; /aws/service/powertools/python/x86_64/python3.13/latest pointed to 27)
#                 and https://github.com/aws-powertools/powertools-lambda-python/pull/7695 (python3.14 in that run).
#   3.37.0 -> no published number found (docs, repository, issues): looked up at deploy (LayerLookup.AT_DEPLOY).
# To record a release: aws ssm get-parameter --region <region> --query Parameter.Value
#   --name /aws/service/powertools/python/arm64/python3.14/<release>    (the value ends in :N)
# or `make smoke` against a deployed stack, which prints the release the deployed layer ships.
POWERTOOLS_LAYER_VERSIONS: dict[str, int | LayerLookup] = {
    "3.23.0": 27,
    "3.37.0": LayerLookup.AT_DEPLOY,
}
_POWERTOOLS_PIN = re.compile(r"aws[-_.]lambda[-_.]powertools\s*(\[[^\]]*\])?\s*==\s*([^\s;#,]+)", re.IGNORECASE)


def pinned_powertools_release(requirements: Path | None = None) -> str:
    """The Powertools release requirements.txt pins exactly (``aws-lambda-powertools[...]==X.Y.Z``)."""
    path = requirements or REQUIREMENTS
    for line in path.read_text().splitlines():
        match = _POWERTOOLS_PIN.match(line.strip())
        if match:
            return match.group(2)
    raise SettingsError([f"{path.name}: no exact pin (==X.Y.Z) of aws-lambda-powertools to choose its layer by"])


def powertools_layer_version(release: str) -> int | LayerLookup:
    """The layer version that ships `release`; an unrecorded release stops synthesis."""
    try:
        return POWERTOOLS_LAYER_VERSIONS[release]
    except KeyError:
        raise SettingsError(
            [
                f"aws-lambda-powertools=={release} (requirements.txt) has no layer version in "
                f"infra/functions.py POWERTOOLS_LAYER_VERSIONS: add '{release}': N, N from `aws ssm get-parameter "
                f"--name {powertools_parameter(release)} --query Parameter.Value` (the ARN ends in :N)"
            ]
        ) from None


def powertools_parameter(release: str) -> str:
    """Powertools' public SSM parameter holding the layer ARN of `release` for this runtime and architecture."""
    return f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{release}"


def powertools_layer_arn(scope: Construct, override: int | None = None) -> str:
    """The public Powertools layer for the functions' runtime and architecture.

    By default the layer that ships the release requirements.txt pins, so production runs what the tests
    ran; ``override`` (context ``powertoolsLayerVersion``) picks a layer version instead, without that guarantee.
    """
    if override is not None:
        return _layer_version_arn(scope, override)
    release = pinned_powertools_release()
    version = powertools_layer_version(release)
    if version is LayerLookup.AT_DEPLOY:
        return CfnDynamicReference(CfnDynamicReferenceService.SSM, powertools_parameter(release)).to_string()
    return _layer_version_arn(scope, version)


def _layer_version_arn(scope: Construct, version: int) -> str:
    runtime_tag = RUNTIME.name.replace(".", "")  # python3.14 -> python314
    return Stack.of(scope).format_arn(
        service="lambda",
        account=POWERTOOLS_ACCOUNT,
        resource="layer",
        resource_name=f"AWSLambdaPowertoolsPythonV3-{runtime_tag}-{ARCHITECTURE.name}:{version}",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


class TrackerFunctions(Construct):
    """Creates the tracker's functions in their owners' scopes; they share one code asset and the Powertools layer."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: TrackerSettings) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._code = lambda_.Code.from_asset(str(LAMBDAS_DIR), exclude=["**/__pycache__", "**/*.pyc"])
        # The public layer carries Powertools and its extras (pydantic, X-Ray SDK): no Docker bundling.
        self._powertools = lambda_.LayerVersion.from_layer_version_arn(
            self, "Powertools", powertools_layer_arn(self, settings.powertools_layer_version)
        )

    def create(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        environment: dict[str, str],
        timeout_seconds: int = 30,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            scope,
            f"{construct_id}Logs",
            log_group_name=log_group_name(scope, LAMBDA_LOGS, f"{scope.node.id}{construct_id}"),
            retention=log_retention(self._settings.log_retention_days),
            encryption_key=TrackerKey.of(scope).key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        return lambda_.Function(
            scope,
            construct_id,
            code=self._code,
            handler=handler,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            memory_size=256,
            timeout=Duration.seconds(timeout_seconds),
            layers=[self._powertools],
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
        )


_RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def log_retention(days: int) -> logs.RetentionDays:
    return _RETENTION[days]
