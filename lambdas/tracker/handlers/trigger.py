"""Lambda: an S3 upload of a reference file (EventBridge rule target) starts one execution."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tracker.aws_clients import client
from tracker.observability import logger, metrics
from tracker.settings import TriggerSettings, load_settings
from tracker.trigger import UploadResult, start_for_upload

SETTINGS = load_settings(TriggerSettings)


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    outcome = start_for_upload(client("stepfunctions"), SETTINGS.state_machine_arn, event)
    metrics.add_metric(name=f"Uploads{outcome.result.name.title().replace('_', '')}", unit=MetricUnit.Count, value=1)
    log = logger.warning if outcome.result is UploadResult.IGNORED else logger.info
    log("Upload", extra={"result": outcome.result, "reason": outcome.reason, "executionArn": outcome.execution_arn})
    return {
        "result": outcome.result,
        "reason": outcome.reason,
        "executionName": outcome.execution_name,
        "executionArn": outcome.execution_arn,
    }
