"""A stack deployed onto a bucket the account already has imports its uploads like its own bucket's."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud, synthesize

BUCKET = "lab-sequencing-data"


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("cdk.out"), context={"existingUploadBucket": BUCKET})


@pytest.fixture
def cloud(cdk_out: Path) -> Iterator[LocalCloud]:
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module="aws_lambda_powertools")
    with LocalCloud(cdk_out, existing_buckets=(BUCKET,)) as local:
        yield local


def test_upload_to_the_existing_bucket_is_imported_and_others_are_left_alone(cloud: LocalCloud) -> None:
    assert cloud.bucket == BUCKET

    cloud.upload("runs/2026-01/reads.fastq.gz")  # the lab's other data: not under the prefix
    cloud.upload("references/GRCh38.fa")
    [execution] = cloud.wait_for_executions(1)
    described = cloud.wait(execution["executionArn"])

    assert described["status"] == "SUCCEEDED"
    [job] = cloud.omics.jobs.values()
    assert [source["sourceFile"] for source in job.items] == [f"s3://{BUCKET}/references/GRCh38.fa"]
    assert len(cloud.executions()) == 1
