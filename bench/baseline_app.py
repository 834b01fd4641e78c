"""The baseline for `make bench`: the classic job poller from the CDK aws-stepfunctions README
(Wait N seconds -> Get Job Status -> Job Complete? -> loop), one state machine per wait (30 s, 60 s).

Synthesized like the tracker and run on the same local cloud, so both are counted the same way.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

STACK_NAME = "ClassicPoller"
WAITS = (30, 60)


class ClassicPollerStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        get_status = lambda_.Function(
            self,
            "GetStatus",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(Path(__file__).parent / "classic_poller_lambda")),
        )
        get_status.add_to_role_policy(
            iam.PolicyStatement(
                actions=["omics:GetReadSetExportJob", "omics:GetVariantImportJob", "omics:GetReferenceImportJob"],
                resources=["*"],
            )
        )
        for seconds in WAITS:
            poll = tasks.LambdaInvoke(
                self,
                f"GetJobStatus{seconds}",
                lambda_function=get_status,
                payload_response_only=True,
                result_path="$.job",
            )
            wait = sfn.Wait(self, f"Wait{seconds}Seconds", time=sfn.WaitTime.duration(cdk.Duration.seconds(seconds)))
            done = (
                sfn.Choice(self, f"JobComplete{seconds}?")
                .when(
                    sfn.Condition.string_equals("$.job.status", "COMPLETED"), sfn.Succeed(self, f"Succeeded{seconds}")
                )
                .when(
                    sfn.Condition.or_(
                        sfn.Condition.string_equals("$.job.status", "FAILED"),
                        sfn.Condition.string_equals("$.job.status", "CANCELLED"),
                        sfn.Condition.string_equals("$.job.status", "COMPLETED_WITH_FAILURES"),
                    ),
                    sfn.Fail(self, f"Failed{seconds}"),
                )
                .otherwise(wait)
            )
            sfn.StateMachine(
                self,
                f"Poller{seconds}",
                state_machine_name=f"ClassicPoller{seconds}s",
                definition_body=sfn.DefinitionBody.from_chainable(wait.next(poll).next(done)),
            )


if __name__ == "__main__":
    app = cdk.App()
    ClassicPollerStack(app, STACK_NAME)
    app.synth()
