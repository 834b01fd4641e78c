"""Lambda: an S3 upload of a reference file (EventBridge rule target) starts one execution."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from tracker.aws_clients import client
from tracker.observability import logger, metrics, tracer
from tracker.settings import TriggerSettings, load_settings
from tracker.trigger import ObjectCreatedEvent, start_for_upload, upload_request

SETTINGS = load_settings(TriggerSettings)


@logger.inject_lambda_context(correlation_id_path="detail.object.sequencer")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A bad upload fails here, where EventBridge retries and dead-letters, not in a new execution.
    request = upload_request(parse(event=event, model=ObjectCreatedEvent))
    return start_for_upload(client("stepfunctions"), SETTINGS.state_machine_arn, request)
