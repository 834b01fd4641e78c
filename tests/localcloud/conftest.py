"""A boto3 omics client answered by the module's `simulator` fixture (botocore parses its answers); a DynamoDB
table with a stream on moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from localcloud.omics import OmicsSimulator

REGION = "us-east-1"
TABLE = "jobs"


@pytest.fixture
def omics(simulator: OmicsSimulator) -> Any:
    client = boto3.client(
        "omics", region_name=REGION, config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1})
    )
    client.meta.events.register("before-send.omics", simulator)
    return client


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield client
