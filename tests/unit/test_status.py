"""Status logic: terminal statuses, forward-only merging, what counts as a change."""

from __future__ import annotations

import pytest

from tracker.contract import JOB_TYPES, SUCCESS_STATUS, TERMINAL_STATUSES
from tracker.status import Snapshot, describe_changes, merge, next_snapshot, rank

SOURCE_A = "s3://uploads/references/a.fa"
SOURCE_B = "s3://uploads/references/b.fa"


# --- terminal statuses -------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["COMPLETED", "COMPLETED_WITH_FAILURES", "FAILED", "CANCELLED"])
def test_final_job_statuses_are_terminal(status: str) -> None:
    assert status in TERMINAL_STATUSES
    assert Snapshot(status=status).terminal


@pytest.mark.parametrize("status", ["SUBMITTED", "IN_PROGRESS", "CANCELLING", "NOT_STARTED", "SOMETHING_NEW"])
def test_statuses_that_can_still_change_are_not_terminal(status: str) -> None:
    # CANCELLING in particular: the job may still end CANCELLED (or FAILED), so polling must go on.
    assert status not in TERMINAL_STATUSES
    assert not Snapshot(status=status).terminal


def test_success_status_is_one_of_the_terminal_statuses() -> None:
    assert SUCCESS_STATUS == "COMPLETED"
    assert SUCCESS_STATUS in TERMINAL_STATUSES


def test_every_terminal_status_is_a_status_some_job_type_reports() -> None:
    reported = set().union(*(spec.statuses for spec in JOB_TYPES.values()))
    assert reported >= TERMINAL_STATUSES


# --- merge: statuses only move forward ----------------------------------------------------------


def test_first_observation_is_taken_as_is() -> None:
    observed = Snapshot("SUBMITTED", "queued", {SOURCE_A: "NOT_STARTED"})

    assert merge(None, observed) == observed


def test_stale_in_progress_after_completed_is_ignored() -> None:
    # Given a job recorded as COMPLETED
    recorded = Snapshot("COMPLETED", "done", {SOURCE_A: "FINISHED"})
    # When a lagging read (or a late event) still says IN_PROGRESS
    merged = merge(recorded, Snapshot("IN_PROGRESS", "importing", {SOURCE_A: "IN_PROGRESS"}))
    # Then the job and its item stay COMPLETED / FINISHED, with the recorded message
    assert merged == recorded


@pytest.mark.parametrize(
    ("recorded", "stale"),
    [
        ("IN_PROGRESS", "SUBMITTED"),
        ("CANCELLING", "IN_PROGRESS"),
        ("CANCELLED", "CANCELLING"),
        ("FAILED", "IN_PROGRESS"),
        ("COMPLETED_WITH_FAILURES", "SUBMITTED"),
    ],
)
def test_job_status_never_moves_backwards(recorded: str, stale: str) -> None:
    merged = merge(Snapshot(recorded, "recorded message"), Snapshot(stale, "stale message"))

    assert merged.status == recorded
    assert merged.status_message == "recorded message"


@pytest.mark.parametrize(
    ("recorded", "newer"),
    [
        ("SUBMITTED", "IN_PROGRESS"),
        ("IN_PROGRESS", "CANCELLING"),
        ("CANCELLING", "CANCELLED"),
        ("IN_PROGRESS", "COMPLETED"),
        ("IN_PROGRESS", "FAILED"),
    ],
)
def test_job_status_moves_forward(recorded: str, newer: str) -> None:
    merged = merge(Snapshot(recorded, "old"), Snapshot(newer, "new"))

    assert merged.status == newer
    assert merged.status_message == "new"


def test_stale_item_status_is_ignored_while_other_items_move_forward() -> None:
    # Given item A finished and item B still in progress
    recorded = Snapshot("IN_PROGRESS", "", {SOURCE_A: "FINISHED", SOURCE_B: "IN_PROGRESS"})
    # When an observation lags for A but shows B finished
    merged = merge(recorded, Snapshot("IN_PROGRESS", "", {SOURCE_A: "IN_PROGRESS", SOURCE_B: "FINISHED"}))
    # Then A stays FINISHED and B moves to FINISHED
    assert merged.items == {SOURCE_A: "FINISHED", SOURCE_B: "FINISHED"}


def test_items_missing_from_an_observation_are_kept_and_new_items_are_added() -> None:
    recorded = Snapshot("IN_PROGRESS", "", {SOURCE_A: "IN_PROGRESS"})

    merged = merge(recorded, Snapshot("IN_PROGRESS", "", {SOURCE_B: "NOT_STARTED"}))

    assert merged.items == {SOURCE_A: "IN_PROGRESS", SOURCE_B: "NOT_STARTED"}


def test_merge_does_not_modify_the_recorded_snapshot() -> None:
    recorded = Snapshot("IN_PROGRESS", "", {SOURCE_A: "IN_PROGRESS"})

    merge(recorded, Snapshot("COMPLETED", "", {SOURCE_A: "FINISHED", SOURCE_B: "FINISHED"}))

    assert recorded.items == {SOURCE_A: "IN_PROGRESS"}


def test_observation_without_message_keeps_the_recorded_message() -> None:
    merged = merge(Snapshot("IN_PROGRESS", "importing chr1"), Snapshot("IN_PROGRESS", ""))

    assert merged.status_message == "importing chr1"


def test_newer_message_with_the_same_status_replaces_the_recorded_one() -> None:
    merged = merge(Snapshot("IN_PROGRESS", "importing chr1"), Snapshot("IN_PROGRESS", "importing chr2"))

    assert merged.status_message == "importing chr2"


def test_item_statuses_in_progress_before_finished_and_failed() -> None:
    # Item enums (sources[].status, readSets[].status) use NOT_STARTED / IN_PROGRESS / FINISHED / FAILED.
    assert rank("NOT_STARTED") < rank("IN_PROGRESS") < rank("FINISHED")
    assert rank("IN_PROGRESS") < rank("FAILED")


# --- what counts as a change ---------------------------------------------------------------------


def test_message_only_change_is_not_a_change() -> None:
    before = Snapshot("IN_PROGRESS", "importing chr1", {SOURCE_A: "IN_PROGRESS"})
    after = Snapshot("IN_PROGRESS", "importing chr2", {SOURCE_A: "IN_PROGRESS"})

    assert after.same_progress(before)
    assert describe_changes(before, after) == []


def test_status_change_is_a_change() -> None:
    assert not Snapshot("COMPLETED").same_progress(Snapshot("IN_PROGRESS"))


def test_item_change_is_a_change() -> None:
    before = Snapshot("IN_PROGRESS", "", {SOURCE_A: "IN_PROGRESS"})
    after = Snapshot("IN_PROGRESS", "", {SOURCE_A: "FINISHED"})

    assert not after.same_progress(before)


def test_new_item_is_a_change() -> None:
    before = Snapshot("IN_PROGRESS", "", {SOURCE_A: "IN_PROGRESS"})
    after = Snapshot("IN_PROGRESS", "", {SOURCE_A: "IN_PROGRESS", SOURCE_B: "NOT_STARTED"})

    assert not after.same_progress(before)


def test_describe_changes_of_first_observation_lists_status_and_every_item() -> None:
    after = Snapshot("SUBMITTED", "", {SOURCE_B: "NOT_STARTED", SOURCE_A: "NOT_STARTED"})

    assert describe_changes(None, after) == [
        "status - -> SUBMITTED",
        f"item {SOURCE_A} - -> NOT_STARTED",
        f"item {SOURCE_B} - -> NOT_STARTED",
    ]


def test_describe_changes_lists_only_what_moved() -> None:
    before = Snapshot("IN_PROGRESS", "", {SOURCE_A: "FINISHED", SOURCE_B: "IN_PROGRESS"})
    after = Snapshot("COMPLETED", "done", {SOURCE_A: "FINISHED", SOURCE_B: "FINISHED"})

    assert describe_changes(before, after) == [
        "status IN_PROGRESS -> COMPLETED",
        f"item {SOURCE_B} IN_PROGRESS -> FINISHED",
    ]


def test_describe_changes_of_item_only_move_omits_the_status() -> None:
    before = Snapshot("IN_PROGRESS", "", {SOURCE_A: "IN_PROGRESS"})
    after = Snapshot("IN_PROGRESS", "", {SOURCE_A: "FAILED"})

    assert describe_changes(before, after) == [f"item {SOURCE_A} IN_PROGRESS -> FAILED"]


# --- what an observation adds ----------------------------------------------------------------------


def test_observation_that_moves_the_job_is_recorded_merged() -> None:
    recorded = Snapshot("IN_PROGRESS", items={SOURCE_A: "IN_PROGRESS", SOURCE_B: "NOT_STARTED"})
    observed = Snapshot("IN_PROGRESS", items={SOURCE_A: "FINISHED"})

    assert next_snapshot(recorded, observed) == Snapshot(
        "IN_PROGRESS", items={SOURCE_A: "FINISHED", SOURCE_B: "NOT_STARTED"}
    )


def test_observation_with_nothing_new_adds_nothing() -> None:
    recorded = Snapshot("IN_PROGRESS", "copying", {SOURCE_A: "IN_PROGRESS"})

    assert next_snapshot(recorded, Snapshot("IN_PROGRESS", "still copying", {SOURCE_A: "IN_PROGRESS"})) is None
    assert next_snapshot(recorded, Snapshot("SUBMITTED", items={SOURCE_A: "NOT_STARTED"})) is None


@pytest.mark.parametrize("later", ["FAILED", "CANCELLED", "COMPLETED_WITH_FAILURES"])
def test_terminal_status_is_final_but_its_items_may_catch_up(later: str) -> None:
    recorded = Snapshot("COMPLETED", items={SOURCE_A: "IN_PROGRESS"})

    assert next_snapshot(recorded, Snapshot(later, items={SOURCE_A: "FAILED"})) is None
    assert next_snapshot(recorded, Snapshot("COMPLETED", items={SOURCE_A: "FINISHED"})) == Snapshot(
        "COMPLETED", items={SOURCE_A: "FINISHED"}
    )


def test_item_messages_and_service_times_are_kept_and_move_with_their_item() -> None:
    recorded = Snapshot("IN_PROGRESS", items={SOURCE_A: "IN_PROGRESS"}, creation_time="2026-01-05T09:00:00+00:00")
    observed = Snapshot(
        "COMPLETED_WITH_FAILURES",
        items={SOURCE_A: "FAILED"},
        item_messages={SOURCE_A: "Source file not found"},
        completion_time="2026-01-05T09:05:20+00:00",
    )

    merged = merge(recorded, observed)

    assert merged.item_messages == {SOURCE_A: "Source file not found"}
    assert (merged.creation_time, merged.completion_time) == ("2026-01-05T09:00:00+00:00", "2026-01-05T09:05:20+00:00")
    # a stale observation of the item does not replace its message
    stale = Snapshot("IN_PROGRESS", items={SOURCE_A: "IN_PROGRESS"}, item_messages={SOURCE_A: "copying"})
    assert merge(merged, stale).item_messages == {SOURCE_A: "Source file not found"}
    assert next_snapshot(merged, Snapshot("COMPLETED_WITH_FAILURES", items={SOURCE_A: "FAILED"})) is None
