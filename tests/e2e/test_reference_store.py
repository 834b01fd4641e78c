"""The stack deploys into an account with or without a reference store, and never makes a second one.

HealthOmics allows one reference store per account and Region. The stack's custom resource (the tracker's
own handler behind CDK's Provider framework, run by the local deployer as CloudFormation would) uses the
account's store, or creates it if there is none; the stack output, the Prepare function and the imports all
name the store it chose. Re-running the custom resource (a stack update, a redeploy after ``cdk destroy``)
finds the same store; deleting it keeps the store.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from localcloud.cloud import LocalCloud
from localcloud.deploy import REGION, CustomResourceFailed, run_custom_resource
from tracker.contract import ReferenceStoreResource

EXISTING = "lab references"


@pytest.fixture
def account_with_a_store(cdk_out: Path) -> Iterator[LocalCloud]:
    """An account whose reference store (made in the console, or kept from an earlier deployment) exists."""
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module="aws_lambda_powertools")
    with LocalCloud(cdk_out, existing_reference_store=EXISTING) as local:
        yield local
    assert local.omics.contract_errors == []


def _prepare_environment(cloud: LocalCloud) -> dict[str, str]:
    function = cloud.deployment.refs[cloud.deployment.one("AWS::Lambda::Function", "PrepareFunction")]
    configuration = boto3.client("lambda", region_name=REGION).get_function_configuration(FunctionName=function)
    return dict(configuration["Environment"]["Variables"])


def _import_one(cloud: LocalCloud) -> str:
    """Upload a reference; the store its import went to."""
    cloud.upload("references/GRCh38.fa")
    [execution] = cloud.wait_for_executions(1)
    assert cloud.wait(execution["executionArn"])["status"] == "SUCCEEDED"
    [job] = cloud.omics.jobs.values()
    return job.store_id


def test_the_accounts_store_is_used_and_no_second_one_is_made(account_with_a_store: LocalCloud) -> None:
    cloud = account_with_a_store
    [existing] = cloud.omics.reference_stores.values()

    # Then the output, the Prepare function and an upload's import all use the account's store
    assert cloud.output("ReferenceStoreId") == cloud.reference_store_id == existing.id
    assert _prepare_environment(cloud)["REFERENCE_STORE_ID"] == existing.id
    assert _import_one(cloud) == existing.id
    # And the account still has exactly that one store, which no one tried to duplicate
    assert list(cloud.omics.reference_stores) == [existing.id]
    assert cloud.omics.call_count("CreateReferenceStore") == 0
    assert cloud.omics.call_count("ListReferenceStores") == 1


def test_an_account_without_a_store_gets_exactly_one_with_the_configured_name(cloud: LocalCloud) -> None:
    [created] = cloud.omics.reference_stores.values()

    assert created.name == "omics-job-tracker"  # referenceStoreName's default
    assert cloud.reference_store_id == created.id
    assert _prepare_environment(cloud)["REFERENCE_STORE_ID"] == created.id
    assert _import_one(cloud) == created.id
    assert cloud.omics.call_count("CreateReferenceStore") == 1


def test_running_the_custom_resource_again_finds_the_same_store(cloud: LocalCloud) -> None:
    store = cloud.deployment.one(ReferenceStoreResource.TYPE)
    [created] = cloud.omics.reference_stores

    # When the stack is updated, or deployed again after `cdk destroy` (its store kept), the handler runs again
    updated = run_custom_resource(cloud.deployment, store, "Update")
    recreated = run_custom_resource(cloud.deployment, store, "Create")

    # Then it answers with the same store, and the account still has one
    assert updated["PhysicalResourceId"] == recreated["PhysicalResourceId"] == created
    assert recreated["Data"]["ReferenceStoreId"] == created
    assert list(cloud.omics.reference_stores) == [created]
    assert cloud.omics.call_count("CreateReferenceStore") == 1


def test_deleting_the_custom_resource_keeps_the_store(cloud: LocalCloud) -> None:
    store = cloud.deployment.one(ReferenceStoreResource.TYPE)
    [kept] = cloud.omics.reference_stores

    answer = run_custom_resource(cloud.deployment, store, "Delete")

    assert answer == {"PhysicalResourceId": kept}
    assert list(cloud.omics.reference_stores) == [kept]
    assert cloud.omics.call_count("DeleteReferenceStore") == 0


def test_a_failing_handler_fails_the_custom_resource_as_cloudformation_would(cloud: LocalCloud) -> None:
    # Given HealthOmics refusing the handler's listing (a role without omics:ListReferenceStores, say)
    cloud.omics.fail_next("ListReferenceStores", "AccessDeniedException")

    # Then the request fails, naming the resource and the error, and nothing changes
    with pytest.raises(CustomResourceFailed, match="AccessDeniedException"):
        run_custom_resource(cloud.deployment, cloud.deployment.one(ReferenceStoreResource.TYPE), "Update")
    assert len(cloud.omics.reference_stores) == 1
