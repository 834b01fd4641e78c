"""Lambda: an aws.omics job status-change event (EventBridge rule target) is recorded in the history."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tracker.account_wide import ExecutionStarter
from tracker.aws_clients import budgeted_omics, client
from tracker.history_table import HistoryTable
from tracker.job_events import AccountWide, WakeRules, record_event
from tracker.observability import logger, metrics
from tracker.omics_jobs import OmicsJobs
from tracker.settings import JobEventSettings, load_settings

SETTINGS = load_settings(JobEventSettings)
RULES = WakeRules(SETTINGS.poll_schedule, SETTINGS.max_polls_per_execution)
ACCOUNT_WIDE = (
    AccountWide(
        frozenset(SETTINGS.follow_all_jobs), ExecutionStarter(client("stepfunctions"), SETTINGS.state_machine_arn)
    )
    if SETTINGS.follow_all_jobs
    else None
)
# The event is recorded without item statuses rather than wait longer for the Get (the function times out at 10 s).
MAX_BUDGET_DELAY_SECONDS = 3


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    history = HistoryTable(client("dynamodb"), SETTINGS.table_name)
    outcome = record_event(
        event,
        history,
        OmicsJobs(budgeted_omics(SETTINGS.table_name, SETTINGS.omics_call_share, MAX_BUDGET_DELAY_SECONDS)),
        client("stepfunctions"),
        RULES,
        ACCOUNT_WIDE,
    )
    metrics.add_metric(name=f"JobEvents{outcome.result.title()}", unit=MetricUnit.Count, value=1)
    logger.info("Job event", extra={"result": outcome.result, "reason": outcome.reason})
    return {"result": outcome.result, "reason": outcome.reason, "jobKey": outcome.job.pk if outcome.job else None}
