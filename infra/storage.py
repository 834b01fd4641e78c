"""Where things are kept: the upload bucket, the reference store, its import role and the history table."""

from __future__ import annotations

import re

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.encryption import TrackerKey
from infra.functions import TrackerFunctions
from infra.reference_store import AccountReferenceStore
from infra.settings import TrackerSettings
from tracker.contract import JOB_TYPES, JobType, Table


class TrackerStorage(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: TrackerSettings, functions: TrackerFunctions
    ) -> None:
        super().__init__(scope, construct_id)
        self.uploads = self._upload_bucket(settings.existing_upload_bucket)
        self.reference_store_id = self._reference_store(settings, functions)
        self.reference_store_arn = omics_arn(f"referenceStore/{self.reference_store_id}")
        self.import_role = self._import_role(settings.upload_prefix, settings.import_sources)
        self.history = self._history_table()
        self.job_readers: list[iam.IGrantable] = []  # who may read jobs (cdk-nag acknowledges their wildcards)

    def _upload_bucket(self, existing: str | None) -> s3.IBucket:
        """The bucket whose uploads are imported: the user's own, or one created with access logs."""
        if existing:
            bucket = s3.Bucket.from_bucket_name(self, "Uploads", existing)
            # CDK's notification handler adds EventBridge to the bucket's configuration and keeps the
            # notifications the bucket already has (it manages only its own, for imported buckets).
            bucket.enable_event_bridge_notification()
            return bucket
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # No ACLs: S3 delivers the logs through the bucket policy CDK adds (serverAccessLogsUseBucketPolicy).
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        return s3.Bucket(
            self,
            "Uploads",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            event_bridge_enabled=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="uploads/",
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _reference_store(self, settings: TrackerSettings, functions: TrackerFunctions) -> str:
        if settings.reference_store_id:
            return settings.reference_store_id
        # One reference store per account and Region: the account's own, created only if it has none.
        return AccountReferenceStore(self, "ReferenceStore", settings=settings, functions=functions).reference_store_id

    def _import_role(self, upload_prefix: str, import_sources: tuple[str, ...]) -> iam.Role:
        """HealthOmics assumes this role to read the uploaded files, and the `importSources` locations
        console-started imports may name; nothing else."""
        role = iam.Role(
            self,
            "ImportRole",
            assumed_by=iam.ServicePrincipal(
                "omics.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
            description="HealthOmics reads uploaded reference files with this role",
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[self.uploads.arn_for_objects(f"{upload_prefix}*")])
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetBucketLocation", "s3:ListBucket"], resources=[self.uploads.bucket_arn])
        )
        for location in import_sources:
            bucket, _, prefix = location.partition("/")
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"], resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}/{prefix}*"]
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["s3:GetBucketLocation", "s3:ListBucket"], resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}"]
                )
            )
        return role

    def _history_table(self) -> dynamodb.TableV2:
        table = dynamodb.TableV2(
            self,
            "History",
            partition_key=dynamodb.Attribute(name=Table.PK, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=Table.SK, type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),  # SSEType KMS; the key is set below
            removal_policy=RemovalPolicy.RETAIN,
            deletion_protection=True,
            # Each new history entry is news: the Notify function reads the stream (infra/notifications.py).
            dynamo_stream=dynamodb.StreamViewType.NEW_IMAGE,
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=Table.STATUS_INDEX,
                    partition_key=dynamodb.Attribute(name=Table.STATUS_INDEX_PK, type=dynamodb.AttributeType.STRING),
                    sort_key=dynamodb.Attribute(name=Table.STATUS_INDEX_SK, type=dynamodb.AttributeType.STRING),
                )
            ],
        )
        # Encrypted with the tracker's key. TableV2 renders a customer-managed key only in a stack bound to a
        # Region, and this stack is Region-agnostic: the key goes on the table's one replica directly.
        resource = table.node.default_child
        assert isinstance(resource, dynamodb.CfnGlobalTable)
        resource.add_property_override("Replicas.0.SSESpecification.KMSMasterKeyId", TrackerKey.of(self).key.key_arn)
        return table

    def grant_history_writes(self, grantee: iam.IGrantable) -> None:
        """What the history store uses: consistent reads, and a transaction of a Put (entry) and an Update (STATE)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"],
                resources=[self.history.table_arn],
            )
        )

    def grant_follow_marks(self, grantee: iam.IGrantable, account_wide: bool) -> None:
        """Prepare marks a job to follow in the history (one UpdateItem of its STATE item) before the first poll; in
        account-wide mode it first reads whether another execution follows the job (GetItem)."""
        actions = ["dynamodb:GetItem", "dynamodb:UpdateItem"] if account_wide else ["dynamodb:UpdateItem"]
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=actions, resources=[self.history.table_arn])
        )

    def grant_queue_reads(self, grantee: iam.IGrantable) -> None:
        """The store queue reads its waiting requests in arrival order (a Query on the store's item collection)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[self.history.table_arn])
        )

    def grant_job_reads(self, grantee: iam.IGrantable) -> None:
        """The Get operation of every job type, on the resources the job-type table names."""
        self.job_readers.append(grantee)
        for resource, job_types in job_read_grants(self.reference_store_id).items():
            grantee.grant_principal.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=[spec.iam_action for spec in job_types],
                    resources=["*" if resource == "*" else omics_arn(resource)],
                )
            )

    def grant_job_listing(self, grantee: iam.IGrantable, kinds: tuple[str, ...]) -> None:
        """The account-wide sweep: the followed kinds' List operations (and their stores'), which of the listed jobs
        the history knows (BatchGetItem of STATE items), and the call budget's slots (UpdateItem)."""
        principal = grantee.grant_principal
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:BatchGetItem", "dynamodb:UpdateItem"], resources=[self.history.table_arn]
            )
        )
        grouped: dict[str, set[str]] = {}
        for spec in (JOB_TYPES[kind] for kind in kinds):
            grouped.setdefault(spec.list_iam_resource, set()).add(f"omics:{spec.list_operation}")
            if spec.store_list_operation:  # no resource-level permissions
                grouped.setdefault("*", set()).add(f"omics:{spec.store_list_operation}")
        for resource, actions in grouped.items():
            principal.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=sorted(actions), resources=["*" if resource == "*" else omics_arn(resource)]
                )
            )


def job_read_grants(reference_store_id: str) -> dict[str, list[JobType]]:
    """Job types by the omics resource (``referenceStore/…``, or "*") their Get is allowed on. Ids the
    stack knows fill the table's placeholders, the others become "*" (a followed read-set export may
    be in any sequence store of the account)."""
    known = {"referenceStoreId": reference_store_id}
    grouped: dict[str, list[JobType]] = {}
    for spec in JOB_TYPES.values():
        resource = re.sub(r"\{(\w+)\}", lambda match: known.get(match.group(1), "*"), spec.iam_resource)
        grouped.setdefault(resource, []).append(spec)
    return grouped


def omics_arn(resource: str) -> str:
    return f"arn:{Aws.PARTITION}:omics:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"
