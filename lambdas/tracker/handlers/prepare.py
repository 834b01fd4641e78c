"""Lambda: validate an execution's input and normalise it (first state of the state machine)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tracker.aws_clients import client
from tracker.call_budget import CallBudget, budget_rates
from tracker.history_table import HistoryTable
from tracker.observability import logger, metrics
from tracker.poll import BOOK_WITHIN_SECONDS
from tracker.prepare import book_first_poll, mark_followed, prepare_execution
from tracker.settings import PrepareSettings, load_settings

SETTINGS = load_settings(PrepareSettings)


@logger.inject_lambda_context(correlation_id_path="executionArn", clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    prepared = prepare_execution(event.get("input"), SETTINGS.reference_store_id, SETTINGS.poll_schedule)
    history = HistoryTable(client("dynamodb"), SETTINGS.table_name)
    prepared = mark_followed(prepared, history, event["executionArn"], SETTINGS.poll_schedule)
    budget = CallBudget(client("dynamodb"), SETTINGS.table_name, budget_rates(SETTINGS.omics_call_share))
    return book_first_poll(prepared, budget, BOOK_WITHIN_SECONDS).to_json()
