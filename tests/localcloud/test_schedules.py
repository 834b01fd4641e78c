"""EventBridge schedule rules on the local cloud: rate expressions fire on the clock, only while time moves for
something else (so an idle cloud stays still), at each period from the deploy, with the scheduled event."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from moto import mock_aws

from localcloud.clock import EPOCH, ScaledClock, SimClock, TurnClock
from localcloud.cloud import LocalCloud
from localcloud.deploy import deploy
from localcloud.omics import OmicsSimulator
from localcloud.schedules import UnsupportedSchedule, rate

MINUTE = timedelta(minutes=1)


def minutes(clock: TurnClock) -> float:
    return (clock.now() - EPOCH) / MINUTE


# ---- the clock's timers ------------------------------------------------------------------------------------------


def test_a_timer_fires_at_each_period_in_order_among_the_other_waiters_once_each() -> None:
    clock = TurnClock()
    seen: list[str] = []

    def fire(moment: datetime) -> None:
        seen.append(f"fired {(moment - EPOCH) / MINUTE:.0f} at {minutes(clock):.0f}")

    clock.every(5 * MINUTE, fire)
    sleeper = clock.actor("sleeper")

    def sleep_seven_minutes() -> None:
        with clock.turn(sleeper):
            clock.sleep(7 * 60)
            seen.append(f"sleeper woke at {minutes(clock):.0f}")

    thread = threading.Thread(target=sleep_seven_minutes, daemon=True)
    thread.start()
    clock.sleep(16 * 60)  # the test driver waits too: time jumps to 16 minutes, stopping at each firing
    thread.join(5)

    assert seen == ["fired 5 at 5", "sleeper woke at 7", "fired 10 at 10", "fired 15 at 15"]
    assert minutes(clock) == 16


def test_a_timer_alone_never_moves_time() -> None:
    clock = TurnClock()
    fired: list[float] = []
    clock.every(MINUTE, lambda moment: fired.append((moment - EPOCH) / MINUTE))

    time.sleep(0.2)  # real time: nobody else waits, so nothing happens
    assert (fired, clock.now()) == ([], EPOCH)

    clock.sleep(90)  # now someone waits past the first moment
    assert (fired, minutes(clock)) == ([1], 1.5)


def test_what_a_firing_starts_acts_at_its_moment_before_a_sleeper_due_then() -> None:
    clock = TurnClock()
    seen: list[str] = []

    def fire(moment: datetime) -> None:  # as a rule's firing starts its target: an actor of its own
        seen.append(f"fired at {minutes(clock):.0f}")
        target = clock.actor("target")

        def run() -> None:
            with clock.turn(target):
                seen.append(f"target ran at {minutes(clock):.0f}")

        threading.Thread(target=run, daemon=True).start()

    clock.every(5 * MINUTE, fire)
    clock.sleep(10 * 60)
    seen.append(f"driver woke at {minutes(clock):.0f}")

    assert seen == ["fired at 5", "target ran at 5", "fired at 10", "target ran at 10", "driver woke at 10"]


def test_a_scaled_clock_fires_on_sped_up_wall_time_until_closed() -> None:
    clock = ScaledClock(speed=6000)  # a minute every 10 ms
    fired: list[datetime] = []
    start = clock.now()
    clock.every(MINUTE, fired.append)

    deadline = time.monotonic() + 5
    while len(fired) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    clock.close()
    count = len(fired)
    time.sleep(0.05)

    assert len(fired) == count >= 3
    assert [later - earlier for earlier, later in itertools.pairwise(fired)] == [MINUTE] * (count - 1)
    assert start + MINUTE <= fired[0] < start + 2 * MINUTE  # a period after every() (read a little after `start`)


# ---- rate expressions and the deploy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "period"),
    [
        ("rate(1 minute)", MINUTE),
        ("rate(5 minutes)", 5 * MINUTE),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(2 days)", timedelta(days=2)),
    ],
)
def test_a_rate_expression_gives_its_period(expression: str, period: timedelta) -> None:
    assert rate("Sweep", expression) == period


@pytest.mark.parametrize("expression", ["cron(0 12 * * ? *)", "rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)"])
def test_any_other_schedule_expression_is_refused_naming_the_rule(expression: str) -> None:
    with pytest.raises(UnsupportedSchedule, match=f"rule Sweep: .*{re.escape(expression)}"):
        rate("Sweep", expression)


def test_deploying_a_cron_rule_fails_naming_the_rule_and_the_expression(tmp_path: Path) -> None:
    rule = {"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "cron(0 12 * * ? *)", "Targets": []}}
    (tmp_path / "Tiny.template.json").write_text(json.dumps({"Resources": {"Nightly": rule}}))

    with mock_aws(), pytest.raises(UnsupportedSchedule, match=r"rule Tiny-Nightly: .*'cron\(0 12 \* \* \? \*\)'"):
        deploy(tmp_path, "Tiny", OmicsSimulator(SimClock()))


# ---- a local cloud running a stack's schedule rule ---------------------------------------------------------------

PROBE = {"Fn::GetAtt": ["Probe", "Arn"]}
TEMPLATE = {
    "Resources": {
        "ProbeRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        },
        "Probe": {  # returns the event it got: the runtime keeps what asynchronous invocations returned
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Code": {"S3Bucket": "assets", "S3Key": "probe.zip"},
                "Handler": "schedule_probe.handler",
                "Runtime": "python3.13",
                "Role": {"Fn::GetAtt": ["ProbeRole", "Arn"]},
            },
        },
        "Dlq": {"Type": "AWS::SQS::Queue"},
        "Sweep": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "ScheduleExpression": "rate(5 minutes)",
                "State": "ENABLED",
                "Targets": [  # the first as CDK's targets.LambdaFunction(fn, dead_letter_queue=..., ...) makes it
                    {
                        "Id": "Event",
                        "Arn": PROBE,
                        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["Dlq", "Arn"]}},
                        "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2},
                    },
                    {"Id": "Constant", "Arn": PROBE, "Input": '{"sweep": "all"}'},
                ],
            },
        },
        "Paused": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "ScheduleExpression": "rate(1 minute)",
                "State": "DISABLED",
                "Targets": [{"Id": "E", "Arn": PROBE}],
            },
        },
    }
}


def tiny_stack(cdk_out: Path) -> Path:
    (cdk_out / "Tiny.template.json").write_text(json.dumps(TEMPLATE))
    (cdk_out / "asset.probe").mkdir()
    (cdk_out / "asset.probe" / "schedule_probe.py").write_text("def handler(event, context):\n    return event\n")
    return cdk_out


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_stack(tmp_path), stack_name="Tiny") as cloud:
        yield cloud


def test_an_idle_cloud_fires_nothing_and_its_time_stands_still(cloud: LocalCloud) -> None:
    time.sleep(0.3)  # real time

    assert (cloud.clock.now(), cloud.schedule_firings, cloud.lambdas.invocations) == (EPOCH, [], [])


def test_the_targets_get_the_scheduled_event_or_their_input_at_each_period_from_the_deploy(cloud: LocalCloud) -> None:
    cloud.clock.sleep(11 * 60)  # something waits 11 minutes: the sweep fires at 5 and 10

    assert cloud.schedule_firings == [("Tiny-Sweep", EPOCH + 5 * MINUTE), ("Tiny-Sweep", EPOCH + 10 * MINUTE)]
    payloads = [payload for _, payload in cloud.lambdas.async_results]
    assert payloads[1::2] == [{"sweep": "all"}, {"sweep": "all"}]
    first, second = payloads[0::2]
    assert first == {
        "version": "0",
        "id": first["id"],
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-01-05T09:05:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/Tiny-Sweep"],
        "detail": {},
    }
    assert second["time"] == "2026-01-05T09:10:00Z" and second["id"] != first["id"]


def test_a_schedule_rule_matches_no_event_on_the_bus(cloud: LocalCloud) -> None:
    cloud.publish({"source": "aws.omics", "detail-type": "Any", "detail": {}})

    assert cloud.lambdas.invocations == []


def test_on_make_locals_clock_the_rule_fires_on_sped_up_wall_time(tmp_path: Path) -> None:
    with LocalCloud(tiny_stack(tmp_path), stack_name="Tiny", speed=6000) as cloud:  # 5 minutes in 50 ms
        start = cloud.clock.now()
        deadline = time.monotonic() + 10
        while len(cloud.schedule_firings) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        cloud.lambdas.wait_idle()

        (_, first), (_, second) = cloud.schedule_firings[:2]
        assert start < first <= start + 5 * MINUTE and second - first == 5 * MINUTE
        assert {"sweep": "all"} in [payload for _, payload in cloud.lambdas.async_results]
