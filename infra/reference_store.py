"""The account's HealthOmics reference store, found or created at deploy time by a custom resource.

HealthOmics allows one reference store per account and Region, so the stack cannot own one: an
``AWS::Omics::ReferenceStore`` fails in an account that has a store, and again after ``cdk destroy`` (the
store, with its genomes, is retained). Instead a custom resource (CDK's Provider framework, backed by the
tracker's ``tracker.handlers.reference_store``) lists the account's stores and uses the one there is, or
creates it once, named ``referenceStoreName``; deleting the stack leaves the store alone. The store it
chose is ``reference_store_id`` (its ``ReferenceStoreId`` attribute), which the stack outputs.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CustomResource, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from infra.functions import TrackerFunctions
from infra.settings import TrackerSettings
from tracker.contract import ReferenceStoreResource

HANDLER = "tracker.handlers.reference_store.handler"
# Neither action has resource-level permissions (Service Authorization Reference, AWS HealthOmics: no resource
# type for ListReferenceStores or CreateReferenceStore). omics:TagResource is not needed: the store is not tagged.
STORE_ACTIONS = ["omics:ListReferenceStores", "omics:CreateReferenceStore"]
_FRAMEWORK = "CDK's custom-resource Provider framework function"
_ROLE_POLICY = (
    "This role's {grant} grant is an AWS::IAM::Policy attached to this role only, deployed and deleted with it; "
    "a customer managed policy would carry the same statements for the same single role"
)
_RESERVED_CONCURRENCY = (
    "a reserved concurrency would be taken from the account's unreserved pool, of which Lambda keeps 100 "
    "unreserved, so it cannot be deployed in accounts with a low concurrency quota"
)


class AccountReferenceStore(Construct):
    """The reference store the stack imports into: the account's one, created only if there is none."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: TrackerSettings, functions: TrackerFunctions
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.create(
            self,
            "Function",
            handler=HANDLER,
            description="Custom resource: finds the account's HealthOmics reference store, or creates it once",
            environment={},
            timeout_seconds=60,
        )
        # Its own policy, so that its one wildcard is acknowledged for these two actions alone.
        self.access = iam.Policy(
            self, "StoreAccess", statements=[iam.PolicyStatement(actions=STORE_ACTIONS, resources=["*"])]
        )
        assert self.function.role is not None
        self.function.role.attach_inline_policy(self.access)
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.function,
            # The framework writes to the handler's log group (retention, encryption): one log group to read.
            log_group=self.function.log_group,
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.provider.service_token,
            resource_type=ReferenceStoreResource.TYPE,
            properties={
                "ReferenceStoreName": settings.reference_store_name,
                "Description": ReferenceStoreResource.DEFAULT_DESCRIPTION,
            },
        )
        # The handler needs its policy when CloudFormation sends the request; nothing else orders the two.
        self.resource.node.add_dependency(self.access)
        # The custom resource's CloudFormation resource stands for this construct, as an L2's does.
        self.node.default_child = self.resource.node.default_child
        self.reference_store_id = self.resource.get_att_string(ReferenceStoreResource.ID)
        self._acknowledge_findings()

    def _acknowledge_findings(self) -> None:
        """cdk-nag findings of this construct's own resources, each on its exact construct and with its reason."""
        for construct, finding, reason in self._findings():
            Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))

    def _findings(self) -> list[tuple[IConstruct, str, str]]:
        framework = self.provider.node.find_child("framework-onEvent")
        assert isinstance(framework, lambda_.Function)
        framework_policy = framework.node.find_child("ServiceRole").node.find_child("DefaultPolicy")
        function_policy = self.function.node.find_child("ServiceRole").node.find_child("DefaultPolicy")
        once = "It runs once per deployment that creates, updates or deletes the reference store resource"
        return [
            (
                self.access,
                "AwsSolutions-IAM5[Resource::*]",
                "omics:ListReferenceStores and omics:CreateReferenceStore have no resource-level permissions "
                "(no resource type in the Service Authorization Reference); the policy allows nothing else",
            ),
            *(
                (
                    self.function,
                    rule,
                    f"{once}, invoked synchronously by CDK's Provider framework: an error fails "
                    "the custom resource and CloudFormation rolls the deployment back, so no event is left to keep",
                )
                for rule in ("HIPAA.Security-LambdaDLQ", "Serverless-LambdaDLQ")
            ),
            (
                self.function,
                "HIPAA.Security-LambdaInsideVPC",
                "It calls only HealthOmics ListReferenceStores and CreateReferenceStore, over TLS with IAM-signed "
                "requests; in a VPC it would need a NAT gateway or an interface endpoint",
            ),
            *(
                (policy, "HIPAA.Security-IAMNoInlinePolicy", _ROLE_POLICY.format(grant=grant))
                for policy, grant in ((function_policy, "X-Ray"), (self.access, "HealthOmics"))
            ),
            *(
                (function, "HIPAA.Security-LambdaConcurrency", f"{once}; {_RESERVED_CONCURRENCY}")
                for function in (self.function, framework)
            ),
            *self._framework_findings(framework, framework_policy),
        ]

    def _framework_findings(self, framework: lambda_.Function, policy: IConstruct) -> list[tuple[IConstruct, str, str]]:
        """CDK's Provider framework function: what aws-cdk-lib decides for it, acknowledged as such. (Its role's
        AWSLambdaBasicExecutionRole, AwsSolutions-IAM4, is acknowledged with every function's in infra/nag.py.)"""
        handler = f"<{self._logical_id(self.function)}.Arn>"
        answered = (
            "CloudFormation sends it the custom resource's request and waits at the request's response URL, "
            "where the framework answers FAILED on any error: nothing is left for a dead-letter queue"
        )
        return [
            (
                policy,
                f"AwsSolutions-IAM5[Resource::{handler}:*]",
                f"{_FRAMEWORK} may invoke the reference store handler's versions and aliases, as grantInvoke "
                "allows; no other function",
            ),
            (policy, "HIPAA.Security-IAMNoInlinePolicy", _ROLE_POLICY.format(grant="lambda:InvokeFunction")),
            (framework, "HIPAA.Security-LambdaDLQ", f"{_FRAMEWORK}: {answered}"),
            (framework, "Serverless-LambdaDLQ", f"{_FRAMEWORK}: {answered}"),
            (
                framework,
                "HIPAA.Security-LambdaInsideVPC",
                f"{_FRAMEWORK}: it calls only Lambda (the handler) and the response URL CloudFormation gives, over TLS",
            ),
            (
                framework,
                "Serverless-LambdaDefaultMemorySize",
                f"{_FRAMEWORK}: aws-cdk-lib sets no memory size for it and offers none; it relays one request per "
                "deployment",
            ),
            (
                framework,
                "Serverless-LambdaTracing",
                f"{_FRAMEWORK}: aws-cdk-lib offers no tracing setting for it; the handler it invokes traces with X-Ray",
            ),
        ]

    @staticmethod
    def _logical_id(function: lambda_.Function) -> str:
        resource = function.node.default_child
        assert isinstance(resource, lambda_.CfnFunction)
        return str(function.stack.resolve(function.stack.get_logical_id(resource)))
