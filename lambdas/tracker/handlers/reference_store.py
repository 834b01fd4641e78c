"""Lambda: the stack's custom resource (CDK Provider framework, on-event handler) that finds the account's one
HealthOmics reference store, or creates it if there is none; the logic is tracker.reference_store."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tracker.aws_clients import deploy_time_client
from tracker.observability import logger
from tracker.reference_store import on_event


@logger.inject_lambda_context(correlation_id_path="RequestId", clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return on_event(event, deploy_time_client("omics"))
