"""prepare_execution: the normalised request the state machine runs on, for each accepted input shape."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest

# (imported with tracker.prepare: a local cloud's cold start imports the tracker's modules afresh, other classes)
from tracker.call_budget import Slot, SlotBooked
from tracker.contract import BudgetExhausted, InvalidInput, JobRef, ObservedBy
from tracker.history import record
from tracker.history_table import HistoryTable
from tracker.prepare import book_first_poll, mark_followed
from tracker.prepare import prepare_execution as prepare_model
from tracker.schedule import PollSchedule
from tracker.status import Snapshot

STORE_ID = "1234567890"
OTHER_STORE_ID = "5555555555"
BUCKET = "omics-uploads-111122223333"
KEY = "references/GRCh38/hg38.fa.gz"
SEQUENCER = "0062E99A88DC407460"
FIRST_POLL = {"attempt": 0, "unchangedPolls": 0}
SCHEDULE = PollSchedule(30, 2, 600, 3600)

_START_IMPORT = (
    botocore.session.get_session().get_service_model("omics").operation_model("StartReferenceImportJob").input_shape
)


# StartReferenceImportJob's parameters as boto3 takes them.
START_PARAMETERS = set(_START_IMPORT.members)
SOURCE_FIELDS = set(_START_IMPORT.members["sources"].member.members)
REQUIRED_SOURCE_FIELDS = set(_START_IMPORT.members["sources"].member.required_members)


def prepare_execution(payload: Any, reference_store_id: str) -> dict[str, Any]:
    """The Prepare state's output, as the state machine receives it."""
    return prepare_model(payload, reference_store_id, SCHEDULE).to_json()


def first_park(job: dict[str, str], unchanged_polls: int = 0) -> dict[str, Any]:
    """A followed job's first wait: on its follow marker (version 0), the schedule's wait, spread per job."""
    pk = JobRef.from_dict(job).pk
    return {
        "attempt": 0,
        "unchangedPolls": unchanged_polls,
        "waitSeconds": SCHEDULE.wait_after(unchanged_polls, spread_key=f"{pk}#0"),
        "historyVersion": 0,
        "jobKey": pk,
    }


@pytest.fixture
def settings() -> str:
    """The Prepare function's setting: the stack's reference store."""
    return STORE_ID


def _upload(sequencer: str = SEQUENCER, **extra: Any) -> dict[str, Any]:
    return {
        "jobType": "REFERENCE_IMPORT",
        "s3Upload": {"bucket": BUCKET, "key": KEY, "sequencer": sequencer, "etag": "abc", **extra},
    }


def _console(*source_files: str, **extra: Any) -> dict[str, Any]:
    return {"jobType": "REFERENCE_IMPORT", "sources": [{"sourceFile": f} for f in source_files], **extra}


# --- following an existing job -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "job"),
    [
        (
            {"jobType": "REFERENCE_IMPORT", "jobId": "9876543210", "referenceStoreId": STORE_ID},
            {"jobType": "REFERENCE_IMPORT", "referenceStoreId": STORE_ID, "jobId": "9876543210"},
        ),
        (
            {"jobType": "VARIANT_IMPORT", "jobId": "0f0e0d0c-0b0a-4909-8807-060504030201"},
            {"jobType": "VARIANT_IMPORT", "jobId": "0f0e0d0c-0b0a-4909-8807-060504030201"},
        ),
        (
            {"jobType": "READ_SET_EXPORT", "jobId": "9876543210", "sequenceStoreId": STORE_ID},
            {"jobType": "READ_SET_EXPORT", "sequenceStoreId": STORE_ID, "jobId": "9876543210"},
        ),
    ],
    ids=["REFERENCE_IMPORT", "VARIANT_IMPORT", "READ_SET_EXPORT"],
)
def test_follow_request_waits_for_the_given_job_first_and_starts_nothing(
    payload: dict[str, Any], job: dict[str, str], settings: str
) -> None:
    prepared = prepare_execution(payload, settings)

    # No "start" key: the state machine's StartOrFollow choice goes straight to WaitForChangeOrTimeout, on the
    # follow marker (version 0), for the job's first event or the first poll's time
    assert prepared == {"job": job, "poll": first_park(job)}
    assert 27 <= prepared["poll"]["waitSeconds"] <= 30


def test_follow_request_works_without_a_configured_reference_store() -> None:
    payload = {"jobType": "VARIANT_IMPORT", "jobId": "0f0e0d0c-0b0a-4909-8807-060504030201"}

    prepared = prepare_execution(payload, "")

    assert "start" not in prepared


# --- starting an import from the console ---------------------------------------------------------------


def test_console_request_starts_an_import_in_the_configured_store(settings: str) -> None:
    prepared = prepare_execution(_console("s3://bucket/references/hg38.fa"), settings)

    assert prepared["job"] == {"jobType": "REFERENCE_IMPORT", "referenceStoreId": STORE_ID}
    assert prepared["poll"] == FIRST_POLL
    start = prepared["start"]
    assert start["referenceStoreId"] == STORE_ID
    assert start["sources"] == [{"sourceFile": "s3://bucket/references/hg38.fa", "name": "hg38"}]


def test_start_parameters_are_the_api_parameters_as_boto3_names_them_except_the_role(settings: str) -> None:
    start = prepare_execution(_console("s3://bucket/references/hg38.fa"), settings)["start"]

    # The role is TakeTurn's setting (the import role), never taken from the input.
    assert set(start) == START_PARAMETERS - {"roleArn"}
    for source in start["sources"]:
        assert set(source) <= SOURCE_FIELDS
        assert set(source) >= REQUIRED_SOURCE_FIELDS


def test_console_source_details_are_passed_as_given(settings: str) -> None:
    payload = {
        "jobType": "REFERENCE_IMPORT",
        "sources": [
            {
                "sourceFile": "s3://bucket/references/t2t.fasta.gz",
                "name": "T2T-CHM13",
                "description": "telomere to telomere",
                "tags": {"project": "pangenome"},
            }
        ],
    }

    sources = prepare_execution(payload, settings)["start"]["sources"]

    assert sources == [
        {
            "sourceFile": "s3://bucket/references/t2t.fasta.gz",
            "name": "T2T-CHM13",
            "description": "telomere to telomere",
            "tags": {"project": "pangenome"},
        }
    ]


def test_reference_store_in_the_request_overrides_the_configured_one(settings: str) -> None:
    prepared = prepare_execution(_console("s3://bucket/hg38.fa", referenceStoreId=OTHER_STORE_ID), settings)

    assert prepared["job"]["referenceStoreId"] == OTHER_STORE_ID
    assert prepared["start"]["referenceStoreId"] == OTHER_STORE_ID


def test_repeated_console_request_gets_the_same_client_token(settings: str) -> None:
    # Given the same request submitted twice (a double click, a retried script)
    payload = _console("s3://bucket/references/hg38.fa", "s3://bucket/references/chm13.fa")
    # When both are prepared
    first = prepare_execution(payload, settings)["start"]["clientToken"]
    second = prepare_execution(json.loads(json.dumps(payload)), settings)["start"]["clientToken"]
    # Then HealthOmics sees one token, so it starts one import
    assert first == second
    assert 1 <= len(first) <= 127


@pytest.mark.parametrize(
    "other",
    [
        _console("s3://bucket/references/hg19.fa"),
        _console("s3://bucket/references/hg38.fa", referenceStoreId=OTHER_STORE_ID),
        {
            "jobType": "REFERENCE_IMPORT",
            "sources": [{"sourceFile": "s3://bucket/references/hg38.fa", "name": "hg38-v2"}],
        },
    ],
    ids=["other file", "other store", "other name"],
)
def test_different_console_request_gets_a_different_client_token(other: dict[str, Any], settings: str) -> None:
    base = prepare_execution(_console("s3://bucket/references/hg38.fa"), settings)["start"]["clientToken"]

    assert prepare_execution(other, settings)["start"]["clientToken"] != base


def test_client_token_given_in_the_request_is_used(settings: str) -> None:
    prepared = prepare_execution(_console("s3://bucket/hg38.fa", clientToken="my-import-1"), settings)

    assert prepared["start"]["clientToken"] == "my-import-1"


# --- an S3 upload --------------------------------------------------------------------------------------


def test_upload_starts_an_import_of_the_uploaded_file(settings: str) -> None:
    prepared = prepare_execution(_upload(), settings)

    assert prepared["job"] == {"jobType": "REFERENCE_IMPORT", "referenceStoreId": STORE_ID}
    assert prepared["poll"] == FIRST_POLL
    assert prepared["start"]["referenceStoreId"] == STORE_ID
    assert prepared["start"]["sources"] == [
        {
            "sourceFile": f"s3://{BUCKET}/{KEY}",
            "name": "hg38",
            "description": f"Uploaded to s3://{BUCKET}/{KEY}",
        }
    ]


def test_redelivered_upload_event_gets_the_same_client_token(settings: str) -> None:
    first = prepare_execution(_upload(), settings)["start"]["clientToken"]
    second = prepare_execution(_upload(), settings)["start"]["clientToken"]

    assert first == second


def test_new_upload_of_the_same_key_gets_a_new_client_token(settings: str) -> None:
    # Given the same key uploaded again (S3 gives the new write a later sequencer)
    first = prepare_execution(_upload(SEQUENCER), settings)["start"]["clientToken"]
    second = prepare_execution(_upload("0062E99A88DC407461"), settings)["start"]["clientToken"]
    # Then it is a new import, not the first one returned again
    assert first != second


def test_upload_description_fits_the_api_limit(settings: str) -> None:
    long_key = "references/" + "d" * 900 + ".fa"
    payload = {"jobType": "REFERENCE_IMPORT", "s3Upload": {"bucket": BUCKET, "key": long_key, "sequencer": SEQUENCER}}

    source = prepare_execution(payload, settings)["start"]["sources"][0]

    assert len(source["description"]) <= 255
    assert 3 <= len(source["name"]) <= 255


# --- failures ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [_console("s3://bucket/hg38.fa"), _upload()], ids=["console", "upload"])
def test_import_without_any_reference_store_is_rejected(payload: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match=r"^referenceStoreId: required"):
        prepare_execution(payload, "")


def test_invalid_input_is_rejected_before_anything_is_derived(settings: str) -> None:
    with pytest.raises(InvalidInput, match=r"sources\[0\]\.sourceFile"):
        prepare_execution(_console("s3://bucket/sample.bam"), settings)


@pytest.mark.parametrize(
    "payload",
    [
        _console("s3://bucket/references/hg38.fa"),
        _upload(),
        {"jobType": "VARIANT_IMPORT", "jobId": "0f0e0d0c-0b0a-4909-8807-060504030201"},
    ],
    ids=["console", "upload", "follow"],
)
def test_prepared_request_is_plain_json(payload: dict[str, Any], settings: str) -> None:
    # Step Functions passes the Lambda result on as JSON: enums and models must already be plain values.
    prepared = prepare_execution(payload, settings)

    assert json.loads(json.dumps(prepared)) == prepared
    assert type(prepared["job"]["jobType"]) is str


def test_a_handed_over_job_keeps_its_link_and_backoff(settings: str) -> None:
    # Given the input a hand-over starts the next execution with
    handed_over = {
        "jobType": "VARIANT_IMPORT",
        "jobId": "0f0e0d0c-0b0a-4909-8807-060504030201",
        "continuedFrom": "arn:aws:states:us-east-1:123456789012:execution:OmicsJobTracker-JobTracker:first",
        "poll": {"unchangedPolls": 7},
    }

    prepared = prepare_execution(handed_over, settings)

    assert prepared == {
        "job": {"jobType": "VARIANT_IMPORT", "jobId": "0f0e0d0c-0b0a-4909-8807-060504030201"},
        "poll": first_park({"jobType": "VARIANT_IMPORT", "jobId": "0f0e0d0c-0b0a-4909-8807-060504030201"}, 7),
        "continuedFrom": handed_over["continuedFrom"],
    }


def test_continued_from_must_be_an_execution_arn(settings: str) -> None:
    with pytest.raises(InvalidInput, match="continuedFrom"):
        prepare_execution(
            {
                "jobType": "VARIANT_IMPORT",
                "jobId": "0f0e0d0c-0b0a-4909-8807-060504030201",
                "continuedFrom": "yesterday",
            },
            settings,
        )


# --- the first poll's slot --------------------------------------------------------------------------------------


class FakeBudget:
    """The call budget: the next slot of an operation is `wait` seconds away (None: beyond the booking horizon)."""

    def __init__(self, wait: float | None) -> None:
        self.wait = wait
        self.taken: list[str] = []

    def acquire(self, operation: str, max_delay_seconds: float, book_within_seconds: float = 0) -> float:
        if self.wait is None:
            raise BudgetExhausted(operation, 1000)
        self.taken.append(operation)
        if self.wait > max_delay_seconds:
            raise SlotBooked(Slot(operation, 1_000_000 * int(self.wait)), self.wait)
        return 0.0


VARIANT_JOB = {"jobType": "VARIANT_IMPORT", "jobId": "0f0e0d0c-0b0a-4909-8807-060504030201"}


def test_a_followed_job_whose_first_poll_slot_is_far_waits_until_the_slot_it_booked() -> None:
    # Given a call budget whose next GetVariantImportJob slot is 400 s away (many jobs followed at once)
    budget = FakeBudget(400)

    prepared = book_first_poll(prepare_model(VARIANT_JOB, "", SCHEDULE), budget, 900).to_json()

    # Then the slot is booked now, and the first wait lasts until just before it (the poll then calls in it)
    assert budget.taken == ["GetVariantImportJob"]
    assert prepared["poll"] == {
        **first_park(VARIANT_JOB),
        "waitSeconds": 398,
        "bookedSlot": {"operation": "GetVariantImportJob", "at": 400_000_000},
    }


@pytest.mark.parametrize("wait", [0, 20, None], ids=["slot now", "slot within the first wait", "beyond booking"])
def test_a_followed_job_whose_first_poll_slot_is_near_keeps_the_first_wait(wait: float | None) -> None:
    prepared = book_first_poll(prepare_model(VARIANT_JOB, "", SCHEDULE), FakeBudget(wait), 900).to_json()

    assert prepared["poll"] == first_park(VARIANT_JOB)


def test_an_import_and_a_hand_over_book_no_first_poll(settings: str) -> None:
    budget = FakeBudget(400)
    handed_over = {**VARIANT_JOB, "continuedFrom": "arn:aws:states:us-east-1:123456789012:execution:sm:first"}

    book_first_poll(prepare_model(_upload(), settings, SCHEDULE), budget, 900)
    book_first_poll(prepare_model(handed_over, settings, SCHEDULE), budget, 900)

    assert budget.taken == []


# --- a job whose first event came before its execution (account-wide mode) -----------------------------------

RUN = {"jobType": "RUN", "jobId": "1234567"}


def _event_recorded_for(history: HistoryTable, execution_arn: str) -> None:
    """What JobEvents does in account-wide mode: mark the job followed by the execution it started, record the event."""
    history.follow(JobRef.from_dict(RUN), execution_arn)
    record(history, JobRef.from_dict(RUN), Snapshot("RUNNING"), ObservedBy.EVENT)


def test_an_execution_whose_jobs_first_event_was_recorded_for_it_waits_on_that_state(history: HistoryTable) -> None:
    _event_recorded_for(history, "arn:follow-RUN-1234567")

    prepared = mark_followed(prepare_model(RUN, "", SCHEDULE), history, "arn:follow-RUN-1234567", SCHEDULE)

    # Then it waits on version 1 as long as a woken execution would (events seen: the hourly safety net)
    assert prepared.to_json()["poll"] == {**first_park(RUN), "historyVersion": 1, "waitSeconds": 3600}


@pytest.mark.parametrize(
    "recorded_by",
    [None, "arn:an-earlier-execution"],
    ids=["nothing recorded yet", "followed by another execution before"],
)
def test_a_follow_otherwise_waits_on_its_marker_as_before(history: HistoryTable, recorded_by: str | None) -> None:
    if recorded_by:
        _event_recorded_for(history, recorded_by)

    prepared = mark_followed(prepare_model(RUN, "", SCHEDULE), history, "arn:console-follow", SCHEDULE)

    # (on a history that moved past its marker, the first wait does not park: it polls at once)
    assert prepared.to_json()["poll"] == first_park(RUN)


def test_an_account_wide_execution_ends_if_another_began_to_follow_the_job(history: HistoryTable) -> None:
    # Given the tracker's own execution recorded the job just before the account-wide one's Prepare
    _event_recorded_for(history, "arn:upload-execution")
    account_wide = "arn:aws:states:us-east-1:123456789012:execution:tracker:follow-RUN-1234567"

    prepared = mark_followed(prepare_model(RUN, "", SCHEDULE), history, account_wide, SCHEDULE)

    # Then it leaves the job to that one, and does not mark itself as following it
    assert prepared.followed_elsewhere == ["arn:upload-execution"]
    state = history.read(JobRef.from_dict(RUN))
    assert state is not None and state.execution_arns == {"arn:upload-execution"}


def test_an_account_wide_execution_follows_a_job_recorded_for_it_alone(history: HistoryTable) -> None:
    account_wide = "arn:aws:states:us-east-1:123456789012:execution:tracker:follow-RUN-1234567"
    _event_recorded_for(history, account_wide)

    prepared = mark_followed(prepare_model(RUN, "", SCHEDULE), history, account_wide, SCHEDULE)

    assert prepared.followed_elsewhere is None and prepared.to_json()["poll"]["historyVersion"] == 1
