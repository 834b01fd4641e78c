"""The state machine's input contract: pydantic models, validation, and the normalised request.

Three shapes are accepted (see docs/reference.md#execution-inputs):
- start a reference import: ``{"jobType": "REFERENCE_IMPORT", "sources": [...]}``
- follow an existing job: ``{"jobType": ..., "jobId": ..., <store id>}``
- an S3 upload, as the trigger passes it: ``{"jobType": "REFERENCE_IMPORT", "s3Upload": {...}}``
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any, Self

from pydantic import AfterValidator, ConfigDict, Field, ValidationError, model_validator

from tracker.contract import (
    JOB_TYPES,
    NUMERIC_ID,
    REFERENCE_ENDINGS,
    REFERENCE_IMPORT,
    InvalidInput,
)
from tracker.steps import CamelModel

# StartReferenceImportJob's sourceFile pattern (botocore omics model), read as Java reads it: '.' matches
# any character but a line terminator.
_S3_URI = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/([^\n\r\u0085\u2028\u2029]{1,1024})")
# ReferenceName / ReferenceDescription: [\p{L}||\p{M}||\p{Z}||\p{S}||\p{N}||\p{P}]+ (Unicode general categories).
_NAME_CATEGORIES = ("L", "M", "Z", "S", "N", "P")
_NAME_MIN, _NAME_MAX = 3, 255
_SHOWN_MAX = 120


def shown(value: Any, quote: str = "'") -> str:
    """A value as an error message shows it, shortened so a cause stays small whatever the input."""
    text = f"{quote}{value}{quote}" if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= _SHOWN_MAX else f"{text[:_SHOWN_MAX]}… ({len(text)} characters)"


def reference_ending(key: str) -> str | None:
    """The reference file ending the key has (``.fa``, ``.fasta.gz``…, in any letter case), if any."""
    lowered = key.lower()
    return next((suffix for suffix in _SUFFIXES_LONGEST_FIRST if lowered.endswith(suffix)), None)


_SUFFIXES_LONGEST_FIRST = sorted(
    (f"{ending}{gz}" for ending in REFERENCE_ENDINGS for gz in ("", ".gz")), key=len, reverse=True
)


def reference_file_error(key: str) -> str | None:
    if reference_ending(key):
        return None
    return (
        f"must end with a reference file ending ({', '.join(REFERENCE_ENDINGS)}, each optionally .gz; "
        f"any letter case), got {shown(key)}"
    )


def source_file_error(uri: str) -> str | None:
    """Why HealthOmics would refuse this S3 URI as a source file, if it would."""
    match = _S3_URI.fullmatch(uri)
    if not match:
        return f"must be an S3 URI like s3://bucket/path/genome.fa, got {shown(uri)}"
    return reference_file_error(match.group(2))


def api_text(text: str, minimum: int = 1, filler: str = "reference") -> str:
    """Text HealthOmics accepts as a reference name or description: characters outside the allowed
    Unicode categories (controls, format characters, unassigned) become '_', and the length is cut to
    255 UTF-16 code units (AWS does not say how it counts; this is the stricter reading)."""
    cleaned = "".join(ch if unicodedata.category(ch)[0] in _NAME_CATEGORIES else "_" for ch in text)
    if len(cleaned) < minimum:
        cleaned = f"{filler}-{cleaned}" if cleaned else filler
    while len(cleaned.encode("utf-16-le")) // 2 > _NAME_MAX:
        cleaned = cleaned[:-1]
    return cleaned


def _api_text(value: str) -> str | None:
    """Check: refuse what HealthOmics' name/description/token pattern refuses, naming the character."""
    bad = next((ch for ch in value if unicodedata.category(ch)[0] not in _NAME_CATEGORIES), None)
    if bad is not None:
        return f"must not contain {unicodedata.name(bad, repr(bad))} (U+{ord(bad):04X})"
    return None


def reference_name_for(key: str) -> str:
    """A reference name from the object key: the file name without its reference ending."""
    base = key.rsplit("/", 1)[-1]
    ending = reference_ending(base)
    if ending:
        base = base[: -len(ending)]
    return api_text(base, minimum=_NAME_MIN)


def description_for(source_file: str) -> str:
    return api_text(f"Uploaded to {source_file}")


def client_token_for(*parts: Any) -> str:
    """A stable token for one request: a repeated request gets the same job, never a second one."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _reference_import_only(value: str) -> str | None:
    if value != REFERENCE_IMPORT:
        return f"only REFERENCE_IMPORT jobs can be started here; to follow a {value} job give its jobId"
    return None


def _checked(problem: Callable[[str], str | None]) -> AfterValidator:
    """A check from a function that says why a value of the right type is wrong (or None)."""

    def check(value: str) -> str:
        message = problem(value)
        if message:
            raise ValueError(message)
        return value

    return AfterValidator(check)


_API_TEXT = _checked(_api_text)
# Set by the tracker itself when a request continues in a new execution (a long job, or a long wait).
ContinuedFrom = Annotated[str | None, Field(pattern=r"^arn:[\w-]+:states:.+:execution:.+$")]
StoreId = Annotated[str | None, Field(pattern=NUMERIC_ID.pattern)]
ReferenceImportOnly = Annotated[str, _checked(_reference_import_only)]


class _Strict(CamelModel):
    model_config = ConfigDict(extra="forbid")


class ReferenceSource(_Strict):
    """A source as the input gives it, which is how StartReferenceImportJob takes it (``name`` required there)."""

    source_file: Annotated[str, _checked(source_file_error)]
    name: Annotated[str, Field(min_length=3, max_length=255), _API_TEXT] | None = None
    description: Annotated[str, Field(min_length=1, max_length=255), _API_TEXT] | None = None
    tags: dict[str, str] | None = None

    def named(self) -> ReferenceSource:
        """The source with a name: its file's, unless the request names it."""
        return self.model_copy(update={"name": self.name or reference_name_for(self.source_file)})


class StartReferenceImport(_Strict):
    job_type: ReferenceImportOnly
    sources: list[ReferenceSource] = Field(min_length=1, max_length=100)
    reference_store_id: StoreId = None
    client_token: Annotated[str, Field(min_length=1, max_length=127), _API_TEXT] | None = None
    continued_from: ContinuedFrom = None


class S3Upload(_Strict):
    bucket: str = Field(min_length=3, max_length=63)
    key: Annotated[str, Field(min_length=1, max_length=1024), _checked(reference_file_error)]
    sequencer: str = Field(min_length=1)
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None

    @model_validator(mode="after")
    def _importable(self) -> Self:
        problem = source_file_error(self.source_file)
        if problem:
            raise ValueError(f"key: {problem}")
        return self

    @property
    def source_file(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def source(self) -> ReferenceSource:
        """The upload as the one source of its import."""
        source_file = self.source_file
        return ReferenceSource(
            source_file=source_file, name=reference_name_for(self.key), description=description_for(source_file)
        )


class TrackUpload(_Strict):
    job_type: ReferenceImportOnly
    s3_upload: S3Upload
    reference_store_id: StoreId = None
    continued_from: ContinuedFrom = None


class CarriedPoll(_Strict):
    """Where the backoff stood when the previous execution handed the job over."""

    unchanged_polls: int = Field(default=0, ge=0)


class FollowJob(CamelModel):
    """Follow a job started elsewhere: its type and its ids, the other fields, by the names the job-type table
    gives them."""

    model_config = ConfigDict(extra="allow")

    job_type: str
    continued_from: ContinuedFrom = None
    poll: CarriedPoll | None = None

    @model_validator(mode="after")
    def _ids_of_the_job_type(self) -> Self:
        problems = _id_problems(self.job_type, self.model_extra or {})
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def ids(self) -> dict[str, str]:
        given = self.model_extra or {}
        return {name: str(given[name]) for name in JOB_TYPES[self.job_type].id_names}


def _id_problems(job_type: str, given: dict[str, Any]) -> list[str]:
    """What is wrong with the ids given to follow a job of this type: each missing, malformed or foreign one."""
    spec = JOB_TYPES[job_type]
    known = {id_field.name for other in JOB_TYPES.values() for id_field in other.ids}
    problems = []
    for id_field in spec.ids:
        value = given.get(id_field.name)
        if value is None:
            problems.append(f"{id_field.name}: required to follow a {job_type} job (for example '{id_field.example}')")
        elif not isinstance(value, str):
            problems.append(f"{id_field.name}: Input should be a valid string")
        elif not id_field.pattern.match(value):
            problems.append(f"{id_field.name}: {shown(value)} does not match {id_field.pattern.pattern}")
    for name in given:
        if name not in spec.id_names:
            why = f"not used by {job_type} jobs" if name in known else "unknown field"
            problems.append(f"{shown(name, quote='')}: {why}")
    return problems


_SHAPES: dict[str, type[StartReferenceImport] | type[TrackUpload] | type[FollowJob]] = {
    "sources": StartReferenceImport,
    "s3Upload": TrackUpload,
    "jobId": FollowJob,
}


def parse_request(payload: Any) -> StartReferenceImport | TrackUpload | FollowJob:
    """Validate an execution input; raise InvalidInput naming every field that is wrong and why."""
    if not isinstance(payload, dict):
        raise InvalidInput(f"input: must be a JSON object, got {_json_type(payload)}")
    job_type = payload.get("jobType")
    if job_type is None:
        raise InvalidInput(f"jobType: required, one of {', '.join(JOB_TYPES)}")
    if not isinstance(job_type, str) or job_type not in JOB_TYPES:
        got = shown(job_type, quote='"')
        raise InvalidInput(f"jobType: must be one of {', '.join(JOB_TYPES)}, got {got}")
    present = [key for key in _SHAPES if key in payload]
    if len(present) != 1:
        raise InvalidInput(
            "input: give exactly one of 'sources' (start a reference import), 'jobId' (follow a job) "
            f"or 's3Upload' (an upload), got {present or 'none'}"
        )
    model = _SHAPES[present[0]]
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise InvalidInput(_describe(error)) from None


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
_MAX_PROBLEMS = 10


def _json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def _describe(error: ValidationError) -> str:
    """Every problem, each naming its field; at most ten, so the cause stays small for any input."""
    problems = []
    for item in error.errors():
        location = ""
        for part in item["loc"]:
            name = shown(part, quote="")  # an unknown field's name may be of any length
            location += f"[{part}]" if isinstance(part, int) else (f".{name}" if location else name)
        message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"].removeprefix("Value error, ")
        problems.append(f"{location}: {message}" if location else message)
    more = len(problems) - _MAX_PROBLEMS
    return "; ".join(problems[:_MAX_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
