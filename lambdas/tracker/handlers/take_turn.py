"""Lambda: a reference import request's turn in its store's queue (queue it, start the next import, report)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tracker.aws_clients import budgeted_omics, client
from tracker.history_table import HistoryTable
from tracker.import_queue import ImportQueue, QueueRules
from tracker.import_queue_table import ImportQueueTable
from tracker.observability import logger, metrics
from tracker.omics_jobs import OmicsJobs
from tracker.reference_imports import ReferenceImports
from tracker.settings import QueueSettings, load_settings
from tracker.steps import TurnRequest
from tracker.task_tokens import TaskTokens

SETTINGS = load_settings(QueueSettings)
MAX_BUDGET_DELAY_SECONDS = 20  # of the function's 60 s; a busy budget makes the request wait its turn again
RULES = QueueRules(
    role_arn=SETTINGS.import_role_arn,
    batch_window_seconds=SETTINGS.import_batch_window_seconds,
    check_seconds=SETTINGS.store_queue_check_seconds,
    follower_wait_seconds=SETTINGS.poll_wait_with_events_seconds,
    max_checks=SETTINGS.max_polls_per_execution,
)


@logger.inject_lambda_context(correlation_id_path="executionArn", clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = TurnRequest.from_state(event["execution"], event["executionArn"])
    omics = budgeted_omics(SETTINGS.table_name, SETTINGS.omics_call_share, MAX_BUDGET_DELAY_SECONDS)
    queue = ImportQueue(
        queue=ImportQueueTable(client("dynamodb"), SETTINGS.table_name),
        imports=ReferenceImports(omics),
        jobs=OmicsJobs(omics),
        history=HistoryTable(client("dynamodb"), SETTINGS.table_name),
        waker=TaskTokens(client("stepfunctions")),
        rules=RULES,
    )
    turn = queue.take_turn(request)
    logger.info("Took a turn in the store's import queue", extra={"action": turn.action, "entry": turn.entry_sk})
    return turn.to_json()
