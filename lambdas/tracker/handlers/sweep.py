"""Lambda (scheduled, account-wide mode): start an execution for every job of a followed kind nobody follows."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tracker.account_wide import ExecutionStarter, SweepRules, sweep
from tracker.aws_clients import budgeted_omics, client
from tracker.history_table import HistoryTable
from tracker.observability import logger, metrics
from tracker.settings import SweepSettings, load_settings

SETTINGS = load_settings(SweepSettings)
RULES = SweepRules(SETTINGS.follow_all_jobs, SETTINGS.sweep_lookback_seconds)
# A List call waits this long for its slot in the call budget; past it, that listing waits for the next sweep.
MAX_BUDGET_DELAY_SECONDS = 20


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    report = sweep(
        budgeted_omics(SETTINGS.table_name, SETTINGS.omics_call_share, MAX_BUDGET_DELAY_SECONDS),
        HistoryTable(client("dynamodb"), SETTINGS.table_name),
        ExecutionStarter(client("stepfunctions"), SETTINGS.state_machine_arn),
        RULES,
    )
    counts = {
        "SweepJobsListed": report.listed,
        "SweepExecutionsStarted": report.started,
        "SweepFailures": len(report.failures),
    }
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    summary = {"listed": report.listed, "untracked": report.untracked, "started": report.started}
    logger.info("Sweep", extra={**summary, "endedBefore": report.ended_before, "failures": report.failures})
    return {**summary, "endedBefore": report.ended_before, "failures": report.failures}
