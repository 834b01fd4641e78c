"""End-to-end fixtures: the synthesized stack, deployed on a fresh local cloud for each test."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud, synthesize

# The buckets the tests' console-started imports read from, besides the upload prefix.
E2E_CONTEXT = {"importSources": ["my-genomes/", "genomes/"]}


@pytest.fixture(scope="session")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`cdk synth` once per test session (cdk-nag runs as part of it)."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"), context=E2E_CONTEXT)


def running_cloud(cdk_out: Path) -> Iterator[LocalCloud]:
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module="aws_lambda_powertools")
    with LocalCloud(cdk_out) as local:
        yield local
    # The simulator refuses to answer outside botocore's model; such an answer must fail the test too.
    assert local.omics.contract_errors == []


@pytest.fixture
def cloud(cdk_out: Path) -> Iterator[LocalCloud]:
    yield from running_cloud(cdk_out)


@pytest.fixture(scope="session")
def cdk_out_short_executions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stack synthesized with a tiny maxPollsPerExecution, so a hand-over happens within a test."""
    return synthesize(tmp_path_factory.mktemp("cdk.out-short"), context={**E2E_CONTEXT, "maxPollsPerExecution": 3})


@pytest.fixture
def short_cloud(cdk_out_short_executions: Path) -> Iterator[LocalCloud]:
    yield from running_cloud(cdk_out_short_executions)
