"""Starting executions with the console's input shapes (docs/reference.md#execution-inputs).

The state machine validates every input itself (Prepare: ``InvalidInput`` with a cause naming each wrong
field); these checks only catch early, with a clear message, what the tool can see without AWS: the job
type, the number and form of the ids, the form of the S3 URIs and their reference file endings.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tracker.contract import JOB_TYPES, REFERENCE_ENDINGS, REFERENCE_IMPORT
from tracker_cli.stack import Aws, CliError, Tracker

MAX_SOURCES = 100
_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+)$")
_ENDINGS = tuple(f"{ending}{gz}" for ending in REFERENCE_ENDINGS for gz in ("", ".gz"))
_NAME_LENGTH = (3, 255)
_DESCRIPTION_LENGTH = (1, 255)


def _source_problem(uri: str) -> str | None:
    match = _S3_URI.match(uri)
    if not match:
        return f"{uri!r} is not an S3 URI like s3://bucket/references/genome.fa"
    if not match.group(2).lower().endswith(_ENDINGS):
        return f"{uri!r} does not end with a reference file ending ({', '.join(REFERENCE_ENDINGS)}, each also .gz)"
    return None


def upload_problem(tracker: Tracker, uri: str) -> str | None:
    """Why an upload to `uri` will never start an import (the upload rule's bucket and prefix, the trigger's
    endings), or None if it will. A job of another bucket's file exists only if someone asked for it."""
    match = _S3_URI.match(uri)
    if not match:
        return f"{uri!r} is not an S3 URI of a file like s3://bucket/references/genome.fa"
    if not tracker.upload_bucket:
        return None  # the stack does not say where uploads go: nothing to check against
    bucket, key = match.groups()
    uploads = f"s3://{tracker.upload_bucket}/{tracker.upload_prefix}"
    if bucket != tracker.upload_bucket or not key.startswith(tracker.upload_prefix):
        return f"no job imports {uri}, and the tracker imports only files uploaded under {uploads}"
    if not key.lower().endswith(_ENDINGS):
        return (
            f"no job imports {uri}, and the tracker ignores its uploads: it does not end with a reference file "
            f"ending ({', '.join(REFERENCE_ENDINGS)}, each also .gz)"
        )
    return None


def _length_problem(option: str, value: str | None, limits: tuple[int, int]) -> str | None:
    if value is not None and not limits[0] <= len(value) <= limits[1]:
        return f"{option}: {limits[0]} to {limits[1]} characters, got {len(value)}"
    return None


def parse_tags(tags: list[str]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for tag in tags:
        key, separator, value = tag.partition("=")
        if not separator or not key:
            raise CliError(f"--tag: expected KEY=VALUE, got {tag!r}")
        parsed[key] = value
    return parsed


def import_input(
    uris: list[str], name: str | None = None, description: str | None = None, tags: list[str] | None = None
) -> dict[str, Any]:
    """``{"jobType": "REFERENCE_IMPORT", "sources": [...]}``: one source per URI, each with the description
    and tags given; a name only for a single source (a reference name is one reference's)."""
    problems = [problem for uri in uris if (problem := _source_problem(uri))]
    if not uris or len(uris) > MAX_SOURCES:
        problems.insert(0, f"give 1 to {MAX_SOURCES} s3:// URIs, got {len(uris)}")
    if name is not None and len(uris) > 1:
        problems.append("--name names one reference: give a single source, or leave the names to the file names")
    problems.extend(
        problem
        for problem in (
            _length_problem("--name", name, _NAME_LENGTH),
            _length_problem("--description", description, _DESCRIPTION_LENGTH),
        )
        if problem
    )
    if problems:
        raise CliError("; ".join(problems))
    extras: dict[str, Any] = {"name": name, "description": description, "tags": parse_tags(tags or []) or None}
    sources = [{"sourceFile": uri, **{k: v for k, v in extras.items() if v is not None}} for uri in uris]
    return {"jobType": REFERENCE_IMPORT, "sources": sources}


def follow_input(job_type: str, ids: list[str]) -> dict[str, str]:
    """``{"jobType": ..., <ids by the job-type table's names>}``; the ids in the table's order."""
    spec = JOB_TYPES.get(job_type.upper())
    if spec is None:
        raise CliError(f"TYPE must be one of {', '.join(JOB_TYPES)}, got {job_type!r}")
    expected = " ".join(f"<{name}>" for name in spec.id_names)
    if len(ids) != len(spec.ids):
        example = " ".join(field.example for field in spec.ids)
        raise CliError(
            f"{spec.name} takes {len(spec.ids)} id{'s' if len(spec.ids) > 1 else ''} in this order: {expected} "
            f"(e.g. omics-tracker follow {spec.name} {example}), got {len(ids)}"
        )
    problems = [
        f"{field.name}: {value!r} does not match {field.pattern.pattern}"
        for field, value in zip(spec.ids, ids, strict=True)
        if not field.pattern.match(value)
    ]
    if problems:
        raise CliError(f"{'; '.join(problems)} (ids in this order: {expected})")
    return {"jobType": spec.name, **dict(zip(spec.id_names, ids, strict=True))}


def start(aws: Aws, tracker: Tracker, execution_input: dict[str, Any]) -> dict[str, Any]:
    """Start an execution (named by Step Functions) with the input as given."""
    response = aws.sfn.start_execution(
        stateMachineArn=tracker.state_machine_arn, input=json.dumps(execution_input, ensure_ascii=False)
    )
    arn = str(response["executionArn"])
    return {"executionArn": arn, "name": arn.rsplit(":", 1)[-1], "input": execution_input}
