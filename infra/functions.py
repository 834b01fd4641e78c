"""The one way this stack defines a Lambda function: same code asset, runtime, layer, logs and tracing."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.settings import TrackerSettings
from tracker.contract import METRICS_NAMESPACE, SERVICE_NAME

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64


class TrackerFunctions(Construct):
    """Creates the tracker's functions in their owners' scopes; they share one code asset and the Powertools layer."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: TrackerSettings) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._code = lambda_.Code.from_asset(str(LAMBDAS_DIR), exclude=["**/__pycache__", "**/*.pyc"])
        # The public layer carries Powertools and its extras (pydantic, X-Ray SDK): no Docker bundling.
        runtime_tag = RUNTIME.name.replace(".", "")  # python3.14 -> python314
        self._powertools = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            Stack.of(self).format_arn(
                service="lambda",
                account="017000801446",
                resource="layer",
                resource_name=(f"AWSLambdaPowertoolsPythonV3-{runtime_tag}-arm64:{settings.powertools_layer_version}"),
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            ),
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
            retention=log_retention(self._settings.log_retention_days),
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
