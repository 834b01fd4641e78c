"""List prices for costing the benchmark's runs in US dollars, AWS region us-east-1 (N. Virginia).

Every figure was checked on 2026-11-28 against the stored copy of a public page, recorded as `source`.
A price is per single unit (one state transition, one request, one GB-second, one request unit), not per
million or per thousand. Free tiers are noted but not applied: the benchmark prices usage from the first
unit. Where AWS's own pricing page renders its rate table client-side (Lambda, DynamoDB, EventBridge,
SQS, SNS), the stored copy shows no figure, so `source` names the page the figure was read from, and the
comment above the entry names the official page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

CHECKED: Final = "2026-11-28"


@dataclass(frozen=True)
class Price:
    """One list price: `usd` for one `per`, as read at `source` on `checked` (an ISO date)."""

    name: str
    usd: float
    per: str
    source: str
    checked: str


# DynamoDB request units for an item of up to 1 KB. A standard PutItem, UpdateItem or DeleteItem,
# conditional or not, costs 1 WRU; a conditional write whose condition fails still consumes 1 WRU
# for such an item. UpdateItem is sized on the larger of the item before and after the update.
# Each item written in TransactWriteItems costs 2 WRU. Source, checked 2026-11-28:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
WRU_PER_WRITE: Final = 1
WRU_PER_TRANSACTIONAL_WRITE: Final = 2

PRICES: dict[str, Price] = {
    # $0.0250 per 1,000 state transitions in US East (N. Virginia). Retries are billed as transitions.
    # Free tier (not applied): 4,000 state transitions a month, with no expiry, for every account.
    "sfn_transition": Price(
        name="AWS Step Functions Standard Workflows, state transition",
        usd=0.000025,
        per="state transition",
        source="https://aws.amazon.com/step-functions/pricing/",
        checked=CHECKED,
    ),
    # $0.20 per million requests, the same for x86 and Arm. Official page:
    # https://aws.amazon.com/lambda/pricing/ (rates rendered client-side; not in the stored copy).
    # Free tier (not applied): 1 million requests and 400,000 GB-seconds a month.
    "lambda_request": Price(
        name="AWS Lambda, request",
        usd=0.0000002,
        per="request",
        source="https://git.mcrn.ar/mariano/lambda_local_runner/src/branch/main/docs/lambdas-md/lambda-13-cost.md",
        checked=CHECKED,
    ),
    # Arm (Graviton2, arm64), first tier (first 7.5 billion GB-seconds a month): $0.0000133334.
    # AWS states Arm duration is 20% below x86 (0.8 x 0.0000166667); tiers per the AWS Compute Blog,
    # https://aws.amazon.com/blogs/compute/introducing-tiered-pricing-for-aws-lambda/
    "lambda_gb_second_arm": Price(
        name="AWS Lambda duration, Arm (arm64), first pricing tier",
        usd=0.0000133334,
        per="GB-second",
        source="https://cloudchipr.com/blog/aws-lambda-pricing",
        checked=CHECKED,
    ),
    # x86_64, first tier (first 6 billion GB-seconds a month), for reference.
    "lambda_gb_second_x86": Price(
        name="AWS Lambda duration, x86_64, first pricing tier",
        usd=0.0000166667,
        per="GB-second",
        source="https://cloudchipr.com/blog/aws-lambda-pricing",
        checked=CHECKED,
    ),
    # On-demand, Standard table class: $0.625 per million WRU, $0.125 per million RRU, the prices after
    # the November 2024 cut of 50% (from $1.25 and $0.25). Official page:
    # https://aws.amazon.com/dynamodb/pricing/on-demand/ (rates rendered client-side). Read from AWS's
    # own cost calculator (github.com/aws/agent-toolkit-for-aws, snapshot of 2026-08-20); the region
    # (US East) and the post-cut date are confirmed by
    # https://airbyte.com/data-engineering-resources/dynamodb-pricing (dated 2025-07-21).
    "dynamodb_write_unit": Price(
        name="Amazon DynamoDB on-demand, Standard table class, write request unit",
        usd=0.000000625,
        per="write request unit",
        source=(
            "https://github.com/aws/agent-toolkit-for-aws/blob/main/skills/specialized-skills/"
            "database-skills/amazon-dynamodb/scripts/calculate_costs.py"
        ),
        checked=CHECKED,
    ),
    # Strongly consistent read of up to 4 KB = 1 RRU; eventually consistent = 0.5; transactional = 2.
    "dynamodb_read_unit": Price(
        name="Amazon DynamoDB on-demand, Standard table class, read request unit",
        usd=0.000000125,
        per="read request unit",
        source=(
            "https://github.com/aws/agent-toolkit-for-aws/blob/main/skills/specialized-skills/"
            "database-skills/amazon-dynamodb/scripts/calculate_costs.py"
        ),
        checked=CHECKED,
    ),
    # Free: "You are not charged for GetRecords API calls invoked by AWS Lambda as part of DynamoDB
    # triggers". Also in https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
    # CostOptimization_StreamsUsage.html. Other stream consumers pay per GetRecords call.
    "dynamodb_stream_read_by_lambda": Price(
        name="DynamoDB Streams GetRecords call by a Lambda event source mapping",
        usd=0.0,
        per="GetRecords call",
        source=(
            "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
            "bp-understanding-billing.html#bp-understanding-billing.streams"
        ),
        checked=CHECKED,
    ),
    # Free: "AWS management events are ingested by the event bus for free" (the page's example prices
    # them at $0.00/M). EventBridge charges per event published, and "events originating from other AWS
    # services are free" (AWS Knowledge Center, last updated 2021-12-13,
    # https://aws.amazon.com/premiumsupport/knowledge-center/eventbridge-reduce-charges/). Rules add no
    # charge; delivering the events to another account does. This covers aws.omics status-change
    # events. NOT confirmed: the page calls S3 "Object Created" events sent to EventBridge "AWS opt-in
    # data events", and the stored copy does not show their price.
    "eventbridge_aws_service_event": Price(
        name="Amazon EventBridge, AWS management event on the default bus",
        usd=0.0,
        per="event",
        source="https://aws.amazon.com/eventbridge/pricing/",
        checked=CHECKED,
    ),
    # $1.00 per million custom events (each 64 KB chunk of a payload is one event), for reference.
    # Official page: https://aws.amazon.com/eventbridge/pricing/ (figure not in the stored copy).
    "eventbridge_custom_event": Price(
        name="Amazon EventBridge, custom event published",
        usd=0.000001,
        per="event",
        source="https://cloudburn.io/blog/amazon-eventbridge-pricing",
        checked=CHECKED,
    ),
    # $0.40 per million requests, standard queue, first 100 billion a month, for reference; each 64 KB
    # chunk is one request. Free tier (not applied): 1 million requests a month.
    # Official page: https://aws.amazon.com/sqs/pricing/ (not in the stored corpus).
    "sqs_standard_request": Price(
        name="Amazon SQS standard queue, request",
        usd=0.0000004,
        per="request",
        source="https://cloudburn.io/blog/amazon-sqs-pricing",
        checked=CHECKED,
    ),
    # $0.50 per million publishes to a standard topic, for reference; deliveries are billed apart.
    # Official page: https://aws.amazon.com/sns/pricing/ (not in the stored corpus).
    "sns_publish": Price(
        name="Amazon SNS standard topic, publish",
        usd=0.0000005,
        per="publish",
        source="https://www.factualminds.com/blog/amazon-sns-pricing-publishes-fanout-protocols/",
        checked=CHECKED,
    ),
}

# AWS HealthOmics GetReferenceImportJob, GetVariantImportJob, GetReadSetExportJob: no price here.
# https://aws.amazon.com/healthomics/pricing/ charges for workflow runs, storage (gigabase-months) and
# analytics storage, and lists no per-request API charge; no stored page says the calls are free.
