"""The one way this stack defines a Lambda function: same code asset, runtime, layer, logs and tracing."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.encryption import LAMBDA_LOGS, TrackerKey, log_group_name
from infra.settings import SettingsError, TrackerSettings
from tracker.contract import METRICS_NAMESPACE, SERVICE_NAME

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = ROOT / "lambdas"
# The functions' packages besides the runtime's (requirements-lambda.txt: Powertools and pydantic, the releases
# the tests run), installed for the runtime and architecture by `make install` (`make layer`): built here, not
# looked up at deploy, so the first deploy depends on nothing but this asset, in every Region.
LAYER_DIR = ROOT / "build" / "lambda-layer"
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64


def check_interpreter(version: tuple[int, int] | None = None) -> None:
    """The tests, the demo and synthesis run the handlers on this interpreter: it must be the runtime's Python."""
    major, minor = version or sys.version_info[:2]
    if f"python{major}.{minor}" != RUNTIME.name:
        raise SettingsError(
            [
                f"synthesis runs on Python {major}.{minor}, but the functions run on {RUNTIME.name}: "
                "run it through `make` (its .venv uses the runtime's Python), or change both together"
            ]
        )


def layer_packages(layer_dir: Path | None = None) -> list[str]:
    """The distributions in the layer, as name==version (what `make smoke` checks a deployed stack has)."""
    site = (layer_dir or LAYER_DIR) / "python"
    found = metadata.distributions(path=[str(site)])
    return sorted(f"{re.sub(r'[-_.]+', '-', dist.metadata['Name']).lower()}=={dist.version}" for dist in found)


def layer_code(layer_dir: Path | None = None) -> lambda_.Code:
    directory = layer_dir or LAYER_DIR
    if not (directory / "python").is_dir():
        raise SettingsError([f"{directory} is missing: `make layer` builds it (requirements-lambda.txt)"])
    return lambda_.Code.from_asset(str(directory), exclude=["**/__pycache__", "**/*.pyc"])


class TrackerFunctions(Construct):
    """Creates the tracker's functions in their owners' scopes; they share one code asset and one layer."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: TrackerSettings) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        check_interpreter()
        self._code = lambda_.Code.from_asset(str(LAMBDAS_DIR), exclude=["**/__pycache__", "**/*.pyc"])
        self._packages = lambda_.LayerVersion(
            self,
            "Packages",
            code=layer_code(),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description=f"{', '.join(layer_packages())} for {RUNTIME.name} {ARCHITECTURE.name}"[:256],
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
            layers=[self._packages],
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
