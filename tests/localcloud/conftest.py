"""A boto3 omics client answered by the module's `simulator` fixture (botocore parses its answers)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config

from localcloud.omics import OmicsSimulator

REGION = "us-east-1"


@pytest.fixture
def omics(simulator: OmicsSimulator) -> Any:
    client = boto3.client(
        "omics", region_name=REGION, config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1})
    )
    client.meta.events.register("before-send.omics", simulator)
    return client
