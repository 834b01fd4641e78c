"""Uploads with any key S3 accepts: the key arrives URL-encoded in the event (as S3 sends it) and is
imported under its real name, or the upload is ignored with a logged reason; the trigger never crashes."""

from __future__ import annotations

import pytest

from localcloud.cloud import LocalCloud
from tracker.inputs import description_for, reference_name_for

KEYS = [
    "references/genome with spaces (v2).fa",
    "references/plus+sign %2B percent.fasta",
    "references/génome-ü-日本-🧬.fa.gz",
    "references/quotes'and\"symbols&=?#[]{}~^.fa",
    "references/UPPER/GRCH38.FASTA.GZ",
    "references/Mixed/GRCh38.Fasta.Gz",  # EventBridge wildcards could not match this ending
    "references/" + "n" * 1010 + ".fa",  # 1,024 bytes: the longest key S3 accepts
]


def _trigger_results(cloud: LocalCloud) -> list[dict[str, object]]:
    return [result for name, result in cloud.lambdas.async_results if "UploadTriggerFunction" in name]


KEY_IDS = ["spaces", "plus-percent", "unicode", "symbols", "upper-case", "mixed-case", "1024-bytes"]


@pytest.mark.parametrize("key", KEYS, ids=KEY_IDS)
def test_upload_with_any_key_is_imported_from_its_real_key(cloud: LocalCloud, key: str) -> None:
    # Given an upload whose key S3 URL-encodes in the Object Created event
    cloud.upload(key)
    [execution] = cloud.wait_for_executions(1)
    described = cloud.wait(execution["executionArn"])

    # Then the import reads the real object, under a name HealthOmics accepts, and completes
    assert described["status"] == "SUCCEEDED", described.get("cause")
    [job] = cloud.omics.jobs.values()
    source_file = f"s3://{cloud.bucket}/{key}"
    assert [source["sourceFile"] for source in job.items] == [source_file]
    assert job.items[0]["name"] == reference_name_for(key)
    assert job.items[0]["description"] == description_for(source_file)
    assert cloud.lambdas.async_failures == []


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("references/two\nlines.fa", "must be an S3 URI"),
        ("references/notes.docx", "must end with a reference file ending"),
    ],
    ids=["line break", "not a reference"],
)
def test_upload_that_cannot_be_imported_is_ignored_with_a_reason(cloud: LocalCloud, key: str, reason: str) -> None:
    # When a file HealthOmics could not import is uploaded under the prefix
    cloud.upload(key)
    cloud.lambdas.wait_idle()

    # Then nothing starts, the trigger does not fail, and it says why it ignored the upload
    assert cloud.executions() == []
    assert cloud.lambdas.async_failures == []
    results = _trigger_results(cloud)
    assert [result["result"] for result in results] == ["ignored"]
    assert reason in str(results[0]["reason"])
