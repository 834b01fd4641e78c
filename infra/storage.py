"""Where things are kept: the upload bucket, the reference store, its import role and the history table."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_omics as omics
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.settings import TrackerSettings


class TrackerStorage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: TrackerSettings) -> None:
        super().__init__(scope, construct_id)

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.uploads = s3.Bucket(
            self,
            "Uploads",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            event_bridge_enabled=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="uploads/",
            removal_policy=RemovalPolicy.RETAIN,
        )

        if settings.reference_store_id:
            self.reference_store_id = settings.reference_store_id
        else:
            store = omics.CfnReferenceStore(
                self,
                "ReferenceStore",
                name=settings.reference_store_name,
                description="Reference genomes imported by the HealthOmics job tracker",
            )
            store.apply_removal_policy(RemovalPolicy.RETAIN)  # holds imported genomes
            self.reference_store_id = store.attr_reference_store_id
        self.reference_store_arn = Stack.of(self).format_arn(
            service="omics", resource="referenceStore", resource_name=self.reference_store_id
        )

        # HealthOmics assumes this role to read the uploaded files, and nothing else.
        self.import_role = iam.Role(
            self,
            "ImportRole",
            assumed_by=iam.ServicePrincipal(
                "omics.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
            description="HealthOmics reads uploaded reference files with this role",
        )
        self.import_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self.uploads.arn_for_objects(f"{settings.upload_prefix}*")],
            )
        )
        self.import_role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetBucketLocation", "s3:ListBucket"], resources=[self.uploads.bucket_arn])
        )

        self.history = dynamodb.TableV2(
            self,
            "History",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            removal_policy=RemovalPolicy.RETAIN,
            deletion_protection=True,
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name="ByStatus",
                    partition_key=dynamodb.Attribute(name="currentStatus", type=dynamodb.AttributeType.STRING),
                    sort_key=dynamodb.Attribute(name="lastChangedAt", type=dynamodb.AttributeType.STRING),
                )
            ],
        )
