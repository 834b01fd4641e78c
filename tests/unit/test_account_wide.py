"""Account-wide mode: the execution named after a job, the sweep's listing, and what it starts.

HealthOmics' List answers come from botocore's Stubber (requests checked against the real model); the history
table and Step Functions are moto's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from tests.unit.history_table import create_history_table
from tests.unit.test_job_event_wakes import FakeJobs, FakeStepFunctions, _event
from tracker import clock
from tracker.account_wide import ExecutionStarter, SweepRules, follow_execution_name, sweep
from tracker.contract import JobRef
from tracker.history_table import HistoryTable
from tracker.job_events import AccountWide, EventResult, WakeRules, record_event
from tracker.schedule import PollSchedule
from tracker.status import Snapshot

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(hours=3)
RUN = JobRef("RUN", {"jobId": "1234567"})
IMPORT = JobRef("READ_SET_IMPORT", {"sequenceStoreId": "1111111111", "jobId": "2222222222"})


@pytest.fixture
def aws() -> Iterator[tuple[HistoryTable, ExecutionStarter, Any]]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_history_table(dynamodb, "history")
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="tracker",
            definition=json.dumps(
                {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}
            ),
            roleArn="arn:aws:iam::123456789012:role/tracker",
        )["stateMachineArn"]
        yield HistoryTable(dynamodb, "history"), ExecutionStarter(sfn, machine), sfn


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "utc_now", lambda: NOW)


def test_each_job_has_its_own_execution_name_of_at_most_80_safe_characters() -> None:
    long_ids = JobRef("READ_SET_EXPORT", {"sequenceStoreId": "1" * 36, "jobId": "2" * 36})
    names = [follow_execution_name(job) for job in (RUN, IMPORT, long_ids)]

    assert names[:2] == ["follow-RUN-1234567", "follow-READ_SET_IMPORT-1111111111-2222222222"]
    assert len(names[2]) <= 80 and names[2].startswith("follow-READ_SET_EXPORT-")
    assert all(name.replace("-", "").replace("_", "").isalnum() for name in names)
    assert (
        follow_execution_name(long_ids)
        == names[2]
        != follow_execution_name(JobRef("READ_SET_EXPORT", {"sequenceStoreId": "1" * 36, "jobId": "3" * 36}))
    )


def test_a_job_is_started_once_however_often_it_is_followed(aws: Any) -> None:
    _, starter, sfn = aws

    first = starter.follow(RUN)
    again = starter.follow(RUN)  # while it runs: Step Functions answers with the same execution

    assert first == again
    executions = sfn.list_executions(stateMachineArn=starter._state_machine_arn)["executions"]
    assert [(e["name"], e["executionArn"]) for e in executions] == [("follow-RUN-1234567", first[0])]
    described = sfn.describe_execution(executionArn=first[0])
    assert json.loads(described["input"]) == {"jobType": "RUN", "jobId": "1234567"}


def test_the_name_of_an_ended_execution_is_not_used_again(aws: Any) -> None:
    # StartExecution (API reference): "When the original execution is closed, the ExecutionAlreadyExists message
    # is returned regardless of input" (names are unique for 90 days)
    _, starter, sfn = aws
    arn, _ = starter.follow(RUN)
    sfn.stop_execution(executionArn=arn)

    assert starter.follow(RUN) == (arn, False)
    assert len(sfn.list_executions(stateMachineArn=starter._state_machine_arn)["executions"]) == 1


def _stubbed_omics(answers: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> tuple[Any, Stubber]:
    omics = boto3.client("omics", region_name="us-east-1")
    stubber = Stubber(omics)
    for operation, response, request in answers:
        stubber.add_response(operation, response, request)
    stubber.activate()
    return omics, stubber


def _run(run_id: str, status: str, created: datetime = OLD) -> dict[str, Any]:
    return {"id": run_id, "status": status, "creationTime": created, "arn": f"arn:aws:omics:us-east-1:1:run/{run_id}"}


def _runs_listing(by_status: dict[str, list[list[dict[str, Any]]]]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """ListRuns for each open status, in the sweep's order, each status's pages joined by tokens."""
    answers = []
    for status in sorted(["PENDING", "STARTING", "RUNNING", "STOPPING"]):
        pages = by_status.get(status, [[]])
        for number, page in enumerate(pages):
            request: dict[str, Any] = {"status": status, "maxResults": 100}
            if number:
                request["startingToken"] = f"t{number}"
            response: dict[str, Any] = {"items": page}
            if number + 1 < len(pages):
                response["nextToken"] = f"t{number + 1}"
            answers.append(("list_runs", response, request))
    return answers


def test_sweep_starts_an_execution_for_each_open_job_the_history_does_not_know(aws: Any) -> None:
    history, starter, sfn = aws
    # Given three open runs over two pages, one of them already followed, and one created a minute ago
    history.follow(JobRef("RUN", {"jobId": "1000001"}), "arn:followed")
    omics, stubber = _stubbed_omics(
        _runs_listing(
            {
                "RUNNING": [[_run("1000001", "RUNNING"), _run("1000002", "RUNNING")], [_run("1000003", "RUNNING")]],
                "PENDING": [[_run("1000004", "PENDING", created=NOW - timedelta(minutes=1))]],
            }
        )
    )

    # When the sweep runs
    report = sweep(omics, history, starter, SweepRules(("RUN",), lookback_seconds=1800))

    # Then the two older unknown runs get their executions; the young one is left to its events
    stubber.assert_no_pending_responses()
    assert (report.listed, report.untracked, report.started, report.failures) == (4, 2, 2, [])
    names = sorted(e["name"] for e in sfn.list_executions(stateMachineArn=starter._state_machine_arn)["executions"])
    assert names == ["follow-RUN-1000002", "follow-RUN-1000003"]


def test_a_second_sweep_starts_no_second_execution(aws: Any) -> None:
    history, starter, sfn = aws
    listing = _runs_listing({"RUNNING": [[_run("1000002", "RUNNING")]]})
    omics, _ = _stubbed_omics(listing + listing)

    sweep(omics, history, starter, SweepRules(("RUN",), lookback_seconds=1800))
    again = sweep(omics, history, starter, SweepRules(("RUN",), lookback_seconds=1800))

    # (the execution has not run Prepare here, so the history still lacks the job: the name holds it)
    assert (again.untracked, again.started) == (1, 1)
    assert len(sfn.list_executions(stateMachineArn=starter._state_machine_arn)["executions"]) == 1


def test_sweep_lists_store_jobs_store_by_store_also_those_ended_recently(aws: Any) -> None:
    history, starter, sfn = aws
    store = {"id": "1111111111", "arn": "arn:aws:omics:us-east-1:1:sequenceStore/1111111111", "creationTime": OLD}
    answers: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("list_sequence_stores", {"sequenceStores": [store]}, {"maxResults": 100})
    ]
    job = {"id": "2222222222", "sequenceStoreId": "1111111111", "roleArn": "arn:aws:iam::1:role/r", "creationTime": OLD}
    for status in ("CANCELLING", "IN_PROGRESS", "SUBMITTED"):
        answers.append(
            (
                "list_read_set_import_jobs",
                {"importJobs": []},
                {"sequenceStoreId": "1111111111", "filter": {"status": status}, "maxResults": 100},
            )
        )
    answers.append(
        (
            "list_read_set_import_jobs",
            {"importJobs": [{**job, "status": "COMPLETED"}]},
            {"sequenceStoreId": "1111111111", "filter": {"createdAfter": ANY}, "maxResults": 100},
        )
    )
    omics, stubber = _stubbed_omics(answers)

    report = sweep(omics, history, starter, SweepRules(("READ_SET_IMPORT",), lookback_seconds=1800))

    stubber.assert_no_pending_responses()
    assert (report.listed, report.started) == (1, 1)
    (execution,) = sfn.list_executions(stateMachineArn=starter._state_machine_arn)["executions"]
    assert execution["name"] == "follow-READ_SET_IMPORT-1111111111-2222222222"


def test_a_kind_that_cannot_be_listed_is_reported_and_the_others_are_swept(aws: Any) -> None:
    history, starter, _ = aws
    omics = boto3.client("omics", region_name="us-east-1")
    stubber = Stubber(omics)
    stubber.add_client_error("list_annotation_import_jobs", "AccessDeniedException", "annotation stores are closed")
    for _, response, request in _runs_listing({"RUNNING": [[_run("1000002", "RUNNING")]]}):
        stubber.add_response("list_runs", response, request)
    stubber.activate()

    report = sweep(omics, history, starter, SweepRules(("ANNOTATION_IMPORT", "RUN"), lookback_seconds=1800))

    assert report.started == 1
    assert len(report.failures) == 1 and report.failures[0].startswith("ANNOTATION_IMPORT IN_PROGRESS: ")
    assert "AccessDeniedException" in report.failures[0]


def _rules() -> WakeRules:
    return WakeRules(PollSchedule(30, 2, 600, 3600), max_polls=300)


def test_the_first_event_of_a_job_nobody_follows_starts_its_execution_and_is_its_first_entry(aws: Any) -> None:
    history, starter, sfn = aws
    event = _event("IN_PROGRESS")  # a reference import's, of a store the tracker did not start it in
    job = JobRef("REFERENCE_IMPORT", {"referenceStoreId": "1234567890", "jobId": "9876543210"})

    outcome = record_event(
        event,
        history,
        FakeJobs(Snapshot("IN_PROGRESS")),
        FakeStepFunctions(),
        _rules(),
        AccountWide(frozenset({"REFERENCE_IMPORT"}), starter),
    )

    assert outcome.result is EventResult.FOLLOWED
    assert [(e["sequence"], e["status"], e["observedBy"]) for e in history.entries(job)] == [
        (1, "IN_PROGRESS", "event")
    ]
    (execution,) = sfn.list_executions(stateMachineArn=starter._state_machine_arn)["executions"]
    assert execution["name"] == follow_execution_name(job)
    state = history.read(job)
    assert state is not None and execution["executionArn"] in state.execution_arns


def test_an_event_of_a_kind_not_followed_account_wide_stays_untracked(aws: Any) -> None:
    history, starter, sfn = aws

    outcome = record_event(
        _event("IN_PROGRESS"),
        history,
        FakeJobs(),
        FakeStepFunctions(),
        _rules(),
        AccountWide(frozenset({"RUN"}), starter),
    )

    assert outcome.result is EventResult.UNTRACKED
    assert sfn.list_executions(stateMachineArn=starter._state_machine_arn)["executions"] == []


def test_a_start_that_fails_is_reported_and_the_other_jobs_are_started(aws: Any) -> None:
    history, starter, sfn = aws
    listing = _runs_listing({"RUNNING": [[_run("1000002", "RUNNING"), _run("1000003", "RUNNING")]]})
    omics, _ = _stubbed_omics(listing)
    sfn_start = sfn.start_execution

    def throttled_once(**request: Any) -> Any:
        if request["name"].endswith("1000002"):
            raise sfn.exceptions.ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "Start")
        return sfn_start(**request)

    sfn.start_execution = throttled_once

    report = sweep(omics, history, starter, SweepRules(("RUN",), lookback_seconds=1800))

    assert report.started == 1
    assert len(report.failures) == 1 and report.failures[0].startswith("start JOB#RUN#1000002: ")


class _ThrottlingOnce:
    """A DynamoDB client whose first BatchGetItem leaves every key unprocessed, as a throttled table does."""

    def __init__(self, dynamodb: Any) -> None:
        self._dynamodb = dynamodb
        self.calls = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if self.calls == 1:
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        return dict(self._dynamodb.batch_get_item(RequestItems=RequestItems))


def test_known_jobs_reads_again_the_keys_a_throttled_table_left_unprocessed(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    history, _, _ = aws
    monkeypatch.setattr(clock, "sleep", lambda seconds: None)
    history.follow(RUN, "arn:followed")
    throttled = _ThrottlingOnce(history._dynamodb)

    known = HistoryTable(throttled, "history").known([RUN, IMPORT])

    assert known == {RUN.pk} and throttled.calls == 2
