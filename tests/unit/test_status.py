"""Status logic: terminal statuses, forward-only merging, what counts as a change, poll backoff."""

from __future__ import annotations

import pytest

from tracker.job_types import JOB_TYPES
from tracker.status import (
    SUCCESS_STATUS,
    TERMINAL_STATUSES,
    PollSchedule,
    Snapshot,
    describe_changes,
    is_terminal,
    merge,
    rank,
)

SOURCE_A = "s3://uploads/references/a.fa"
SOURCE_B = "s3://uploads/references/b.fa"


# --- terminal statuses -------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["COMPLETED", "COMPLETED_WITH_FAILURES", "FAILED", "CANCELLED"])
def test_final_job_statuses_are_terminal(status: str) -> None:
    assert is_terminal(status)
    assert Snapshot(status=status).terminal


@pytest.mark.parametrize("status", ["SUBMITTED", "IN_PROGRESS", "CANCELLING", "NOT_STARTED", "SOMETHING_NEW"])
def test_statuses_that_can_still_change_are_not_terminal(status: str) -> None:
    # CANCELLING in particular: the job may still end CANCELLED (or FAILED), so polling must go on.
    assert not is_terminal(status)
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


# --- poll schedule -------------------------------------------------------------------------------


def test_first_wait_after_a_change_is_the_first_wait() -> None:
    assert PollSchedule(30, 1.5, 600).wait_after(0) == 30


def test_wait_grows_by_the_factor_and_stops_at_the_cap() -> None:
    schedule = PollSchedule(30, 1.5, 600)

    waits = [schedule.wait_after(n) for n in range(10)]

    # 30 * 1.5**n, truncated to whole seconds, capped at 600
    assert waits == [30, 45, 67, 101, 151, 227, 341, 512, 600, 600]


def test_waits_are_whole_seconds_and_never_decrease() -> None:
    schedule = PollSchedule(7, 1.3, 900)

    waits = [schedule.wait_after(n) for n in range(100)]

    assert all(isinstance(wait, int) for wait in waits)
    assert waits == sorted(waits)
    assert waits[0] == 7
    assert waits[-1] == 900


def test_factor_one_polls_at_a_constant_rate() -> None:
    schedule = PollSchedule(60, 1, 600)

    assert {schedule.wait_after(n) for n in range(50)} == {60}


@pytest.mark.parametrize("unchanged_polls", [65, 1_000, 10**6, 10**18])
def test_huge_unchanged_counts_give_the_cap_without_overflow(unchanged_polls: int) -> None:
    # The largest factor and cap the stack's settings allow.
    schedule = PollSchedule(3600, 10.0, 86400)

    assert schedule.wait_after(unchanged_polls) == 86400


def test_negative_count_is_treated_as_no_unchanged_polls() -> None:
    assert PollSchedule(30, 2, 600).wait_after(-5) == 30


@pytest.mark.parametrize(
    ("first", "factor", "cap"),
    [
        (0, 1.5, 600),  # first wait below one second
        (-1, 1.5, 600),
        (30, 0.5, 600),  # a shrinking wait
        (30, 1.5, 29),  # cap below the first wait
    ],
)
def test_invalid_schedule_is_rejected(first: int, factor: float, cap: int) -> None:
    with pytest.raises(ValueError, match="invalid poll schedule"):
        PollSchedule(first, factor, cap)


def test_cap_equal_to_first_wait_is_allowed() -> None:
    assert PollSchedule(30, 2, 30).wait_after(5) == 30


def test_spread_shortens_a_wait_by_at_most_a_tenth_and_the_same_way_every_time() -> None:
    schedule = PollSchedule(30, 1.5, 600)
    waits = {schedule.wait_after(9, spread_key=f"JOB#VARIANT_IMPORT#job-{n}#10") for n in range(50)}

    assert all(540 <= wait <= 600 for wait in waits)
    assert len(waits) > 10  # jobs started together spread their polls
    assert schedule.wait_after(9, spread_key="k") == schedule.wait_after(9, spread_key="k")


def test_once_events_are_seen_the_poll_is_an_hourly_safety_net() -> None:
    schedule = PollSchedule(30, 1.5, 600, wait_with_events_seconds=3600)

    assert schedule.wait_after(0, events_seen=True) == 3600
    assert schedule.wait_after(0, events_seen=True, spread_key="job#3") == 3600  # not spread
