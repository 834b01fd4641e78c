"""Lambda: an S3 upload of a reference file (EventBridge rule target) starts one execution."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tracker.aws_clients import client
from tracker.inputs import parse_request
from tracker.observability import logger, metrics, tracer
from tracker.settings import get_settings
from tracker.uploads import start_for_upload


@logger.inject_lambda_context(correlation_id_path="s3Upload.sequencer")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parse_request(event)  # fail here, where EventBridge retries and dead-letters, not in a new execution
    return start_for_upload(client("stepfunctions"), get_settings().state_machine_arn, event)
