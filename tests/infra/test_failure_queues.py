"""Every event a function is invoked with asynchronously has somewhere to end if it fails, and an alarm."""

from __future__ import annotations

import pytest

from tests.infra.stack_template import FUNCTION_PATHS, Synthesized

EVENT_FUNCTIONS = {"Trigger": "UploadTrigger", "JobEvents": "JobEvents"}


@pytest.mark.parametrize("name", list(EVENT_FUNCTIONS))
def test_function_retries_twice_then_sends_the_event_to_its_failure_queue(synth: Synthesized, name: str) -> None:
    function_id = synth.logical_id(FUNCTION_PATHS[name])
    [config] = [
        r["Properties"]
        for r in synth.of_type("AWS::Lambda::EventInvokeConfig").values()
        if r["Properties"]["FunctionName"] == {"Ref": function_id}
    ]

    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [synth.logical_id(f"{EVENT_FUNCTIONS[name]}/Failures"), "Arn"]
    }


@pytest.mark.parametrize("owner", list(EVENT_FUNCTIONS.values()))
@pytest.mark.parametrize("queue", ["DeadLetters", "Failures"])
def test_each_queue_is_encrypted_and_alarms_on_any_message(synth: Synthesized, owner: str, queue: str) -> None:
    queue_id = synth.logical_id(f"{owner}/{queue}")
    properties = synth.resources[queue_id]["Properties"]
    [alarm] = [
        a["Properties"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
        in a["Properties"].get("Dimensions", [])
    ]

    # Encrypted with the tracker's customer-managed key (tests/infra/test_encryption.py)
    assert properties["KmsMasterKeyId"] == {"Fn::GetAtt": [synth.logical_id("DataKey/Key"), "Arn"]}
    assert "SqsManagedSseEnabled" not in properties
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == (
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        60,
    )
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["EvaluationPeriods"]) == (
        "GreaterThanThreshold",
        0,
        1,
    )
    assert alarm["TreatMissingData"] == "notBreaching"


def test_the_function_may_send_to_its_own_failure_queue_only(synth: Synthesized) -> None:
    for name, owner in EVENT_FUNCTIONS.items():
        statements = synth.statements_of_role(f"{FUNCTION_PATHS[name]}/ServiceRole")
        sends = [s for s in statements if "sqs:SendMessage" in s["Action"]]

        assert [s["Resource"] for s in sends] == [[f"${{{synth.logical_id(f'{owner}/Failures')}.Arn}}"]]
