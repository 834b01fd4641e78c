"""A long job is handed over to fresh executions before one can near the 25,000-event limit.

Synthesized with maxPollsPerExecution=3 so that hand-overs happen within seconds.
"""

from __future__ import annotations

import json

import pytest

from localcloud.cloud import LocalCloud
from localcloud.omics import Timeline

pytestmark = pytest.mark.e2e


def test_long_job_is_handed_over_and_its_history_is_complete_and_in_order(short_cloud: LocalCloud) -> None:
    # Given a 2-hour export and no events (so the job is polled all along)
    cloud = short_cloud
    cloud.omics.event_delivery = "none"
    job = cloud.omics.add_job(
        "READ_SET_EXPORT", Timeline.ending(submitted=60, running=7200), store_id="2222222222", items=["3333333333"]
    )
    ref = {"jobType": "READ_SET_EXPORT", "sequenceStoreId": "2222222222", "jobId": job.job_id}

    first = cloud.wait(cloud.start_execution(ref))
    cloud.drain()

    # Then the first execution ended by handing over, and a chain of executions followed the job
    assert first["status"] == "SUCCEEDED"
    assert cloud.states_entered(first["executionArn"])[-2:] == ["ContinueAsNew", "HandedOver"]
    executions = {e["executionArn"]: e for e in cloud.executions()}
    chain = [first["executionArn"]]
    while True:
        output = json.loads(cloud.wait(chain[-1])["output"])
        if "handedOverTo" not in output:
            break
        chain.append(output["handedOverTo"]["executionArn"])
        # each new execution names the one it continues, and carries the backoff on
        next_input = json.loads(cloud.wait(chain[-1])["input"])
        assert next_input["continuedFrom"] == chain[-2]
        assert set(next_input["poll"]) == {"unchangedPolls"}
    assert len(chain) >= 3
    assert set(chain) == set(executions)  # no stray executions
    # every execution polled at most maxPollsPerExecution times; the last one saw the job complete
    for arn in chain:
        assert cloud.states_entered(arn).count("PollJob") <= 3
    assert cloud.states_entered(chain[-1])[-1] == "JobCompleted"

    # and the history is one sequence across the hand-overs, each change once, in order
    history = cloud.history(ref)
    assert [(e["sequence"], e["status"]) for e in history] == [(1, "SUBMITTED"), (2, "IN_PROGRESS"), (3, "COMPLETED")]
    assert history[0]["executionArn"] == chain[0]
    assert history[-1]["executionArn"] == chain[-1]
    state = next(item for item in cloud.table_items() if item["sk"] == "STATE")
    assert state["executionArn"] == chain[-1]
    assert set(state["executionArns"]) == set(chain)
