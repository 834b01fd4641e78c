"""Makes the locally deployed stack known to moto's CloudFormation, with its resolved outputs.

The local deployer (deploy.py) creates the resources itself, so moto's CloudFormation has never heard of
the stack. Tools that find the tracker as they would in an account (``omics-tracker``: DescribeStacks,
then the outputs) need it there: the stack is registered with its outputs' values as CloudFormation would
have resolved them, and nothing else (no resources: moto must not create anything a second time).
"""

from __future__ import annotations

import json

from moto.cloudformation.models import cloudformation_backends

from localcloud.deploy import ACCOUNT, REGION, Deployment, Resolver


def register_stack(deployment: Deployment) -> None:
    """DescribeStacks(StackName=deployment.stack_name) answers CREATE_COMPLETE with the resolved outputs."""
    resolve = Resolver(deployment)
    outputs = {}
    for name, output in deployment.template.get("Outputs", {}).items():
        try:
            value = str(resolve(output["Value"]))
        except KeyError:  # names a kind of resource the local deployer does not create (e.g. a dashboard)
            continue
        outputs[name] = {"Value": value, "Description": output.get("Description", "")}
    template = {"Description": deployment.template.get("Description", ""), "Resources": {}, "Outputs": outputs}
    # No resources: moto creates nothing, and marks the stack CREATE_COMPLETE at once.
    cloudformation_backends[ACCOUNT][REGION].create_stack(deployment.stack_name, json.dumps(template), parameters={})
