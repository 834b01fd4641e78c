"""boto3 clients, created once per cold start and reused across invocations."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from tracker.call_budget import BudgetedClient, CallBudget, budget_rates

# HealthOmics calls are retried by the state machine (backoff with jitter, visible in the execution
# history), so the SDK must not add its own hidden retries on top: one attempt per invocation.
_OMICS_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=20)
_DEFAULT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_OMICS_CONFIG if service == "omics" else _DEFAULT_CONFIG)


@cache
def deploy_time_client(service: str) -> Any:
    """A client with the SDK's standard retries, for the deploy-time custom resource: no state machine retries
    its calls, and a throttled call must not fail the deployment."""
    return boto3.client(service, config=_DEFAULT_CONFIG)


@cache  # one budget per container: it remembers which write to try first
def budgeted_omics(table_name: str, share: float, max_delay_seconds: float) -> BudgetedClient:
    """The omics client within the tracker's account-wide share of HealthOmics' rate limits: a call waits (at
    most `max_delay_seconds`) for its slot; every function's calls draw on the same budget."""
    return BudgetedClient(
        client("omics"), CallBudget(client("dynamodb"), table_name, budget_rates(share)), max_delay_seconds
    )
