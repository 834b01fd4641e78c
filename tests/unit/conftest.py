"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from tests.unit.history_table import create_history_table
from tracker.history_table import HistoryTable


@pytest.fixture
def history() -> Iterator[HistoryTable]:
    """The history table (named "history") on moto, empty."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_history_table(dynamodb, "history")
        yield HistoryTable(dynamodb, "history")
