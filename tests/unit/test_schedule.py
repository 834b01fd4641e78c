"""Poll backoff: exponential, capped, spread across jobs, and rare once events flow."""

from __future__ import annotations

import pytest

from tracker.schedule import PollSchedule

# --- poll schedule -------------------------------------------------------------------------------


def test_first_wait_after_a_change_is_the_first_wait() -> None:
    assert PollSchedule(30, 1.5, 600, 3600).wait_after(0) == 30


def test_wait_grows_by_the_factor_and_stops_at_the_cap() -> None:
    schedule = PollSchedule(30, 1.5, 600, 3600)

    waits = [schedule.wait_after(n) for n in range(10)]

    # 30 * 1.5**n, truncated to whole seconds, capped at 600
    assert waits == [30, 45, 67, 101, 151, 227, 341, 512, 600, 600]


def test_waits_are_whole_seconds_and_never_decrease() -> None:
    schedule = PollSchedule(7, 1.3, 900, 3600)

    waits = [schedule.wait_after(n) for n in range(100)]

    assert all(isinstance(wait, int) for wait in waits)
    assert waits == sorted(waits)
    assert waits[0] == 7
    assert waits[-1] == 900


def test_factor_one_polls_at_a_constant_rate() -> None:
    schedule = PollSchedule(60, 1, 600, 3600)

    assert {schedule.wait_after(n) for n in range(50)} == {60}


@pytest.mark.parametrize("unchanged_polls", [65, 1_000, 10**6, 10**18])
def test_huge_unchanged_counts_give_the_cap_without_overflow(unchanged_polls: int) -> None:
    # The largest factor and cap the stack's settings allow.
    schedule = PollSchedule(3600, 10.0, 86400, 3600)

    assert schedule.wait_after(unchanged_polls) == 86400


def test_negative_count_is_treated_as_no_unchanged_polls() -> None:
    assert PollSchedule(30, 2, 600, 3600).wait_after(-5) == 30


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
        PollSchedule(first, factor, cap, 3600)


def test_cap_equal_to_first_wait_is_allowed() -> None:
    assert PollSchedule(30, 2, 30, 3600).wait_after(5) == 30


def test_spread_shortens_a_wait_by_at_most_a_tenth_and_the_same_way_every_time() -> None:
    schedule = PollSchedule(30, 1.5, 600, 3600)
    waits = {schedule.wait_after(9, spread_key=f"JOB#VARIANT_IMPORT#job-{n}#10") for n in range(50)}

    assert all(540 <= wait <= 600 for wait in waits)
    assert len(waits) > 10  # jobs started together spread their polls
    assert schedule.wait_after(9, spread_key="k") == schedule.wait_after(9, spread_key="k")


def test_once_events_are_seen_the_poll_is_an_hourly_safety_net() -> None:
    schedule = PollSchedule(30, 1.5, 600, 3600)

    assert schedule.wait_after(0, events_seen=True) == 3600
    assert schedule.wait_after(0, events_seen=True, spread_key="job#3") == 3600  # not spread
