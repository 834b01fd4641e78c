"""Events the functions fail on are not lost: Lambda retries an asynchronous event twice (one, then two
minutes apart) and then sends it, with the error, to the function's on-failure queue."""

from __future__ import annotations

from datetime import timedelta

import boto3

from localcloud.cloud import REGION, LocalCloud
from localcloud.lambda_runtime import InvocationFault
from localcloud.omics import Timeline


def test_upload_the_trigger_cannot_start_ends_in_its_failure_queue_with_the_event(cloud: LocalCloud) -> None:
    # Given a trigger that cannot start executions (the state machine is gone)
    boto3.client("stepfunctions", region_name=REGION).delete_state_machine(stateMachineArn=cloud.state_machine_arn)
    started = cloud.clock.now()

    # When a reference file is uploaded
    cloud.upload("references/lost genome.fa")
    cloud.lambdas.wait_idle()

    # Then Lambda tried three times, waiting one and two minutes, and the event is in the failure queue
    assert len([name for name in cloud.lambdas.invocations if "UploadTriggerFunction" in name]) == 3
    assert cloud.clock.now() - started >= timedelta(minutes=3)
    [record] = cloud.queue_messages("UploadTriggerFailures")
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["detail"]["object"]["key"] == "references/lost+genome.fa"
    assert record["responsePayload"]["errorType"] == "StateMachineDoesNotExist"
    assert cloud.queue_messages("UploadTriggerDeadLetters") == []


def test_trigger_that_fails_twice_then_succeeds_starts_one_execution_and_leaves_no_message(cloud: LocalCloud) -> None:
    cloud.lambdas.faults.append(
        InvocationFault("UploadTriggerFunction", error_type="Runtime.ExitError", remaining=2, before_handler=True)
    )

    cloud.upload("references/genome.fa")
    [execution] = cloud.wait_for_executions(1)

    assert cloud.wait(execution["executionArn"])["status"] == "SUCCEEDED"
    assert cloud.queue_messages("UploadTriggerFailures") == []


def test_job_event_the_function_fails_on_ends_in_its_failure_queue(cloud: LocalCloud) -> None:
    job = cloud.omics.add_job("READ_SET_EXPORT", Timeline.ending(), store_id="2222222222", items=["3333333333"])
    cloud.lambdas.faults.append(InvocationFault("JobEventsFunction", remaining=3, before_handler=True))

    cloud.publish(cloud.omics.status_event(job, "IN_PROGRESS"))

    [record] = cloud.queue_messages("JobEventsFailures")
    assert record["requestPayload"]["detail"]["id"] == job.job_id
    assert record["responsePayload"]["errorType"] == "Sandbox.Timedout"


def test_a_failed_upload_raises_the_metric_its_alarm_watches_above_the_threshold(cloud: LocalCloud) -> None:
    # Given the alarm the stack puts on the trigger's failure queue (found by the queue it watches)
    queue_id = cloud.deployment.one("AWS::SQS::Queue", "UploadTriggerFailures")
    queue_name = cloud.deployment.attrs[(queue_id, "QueueName")]
    [alarm] = [
        resource["Properties"]
        for resource in cloud.deployment.resources_of("AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
        in resource["Properties"].get("Dimensions", [])
    ]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"

    # When an upload fails past Lambda's retries
    cloud.lambdas.faults.append(InvocationFault("UploadTriggerFunction", remaining=3, before_handler=True))
    cloud.upload("references/genome.fa")
    cloud.lambdas.wait_idle()

    # Then the metric the alarm reads (SQS's count of visible messages) is above its threshold
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    visible = int(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
    )
    assert visible == 1 > alarm["Threshold"]
