"""Lambda: validate an execution's input and normalise it (first state of the state machine)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tracker.observability import logger, metrics
from tracker.prepare import prepare_execution
from tracker.settings import PrepareSettings, load_settings

SETTINGS = load_settings(PrepareSettings)


@logger.inject_lambda_context(correlation_id_path="executionArn", clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return prepare_execution(event.get("input"), SETTINGS.reference_store_id).to_json()
