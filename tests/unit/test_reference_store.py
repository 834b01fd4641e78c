"""The custom resource's logic: the account's one reference store is used, or created once, and never deleted.

HealthOmics is a botocore Stubber on a real omics client: each test lists the exact calls it expects.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from pydantic import ValidationError

from tracker.contract import ReferenceStoreResource
from tracker.reference_store import ReferenceStore, on_event, preferred, resolve_reference_store

NAME = "omics-job-tracker"
DESCRIPTION = ReferenceStoreResource.DEFAULT_DESCRIPTION
ARN = "arn:aws:omics:us-east-1:123456789012:referenceStore/{}"


def store(store_id: str, name: str = "genomes", created: int = 1) -> dict[str, Any]:
    return {
        "id": store_id,
        "arn": ARN.format(store_id),
        "name": name,
        "creationTime": datetime(2025, 1, created, tzinfo=UTC),
    }


def request(request_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:framework-onEvent",
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/OmicsJobTracker/1",
        "RequestId": "5d4ba3e7-8d2b-4b8a-9b1e-2f1f1c1c1c1c",
        "LogicalResourceId": "StorageReferenceStore",
        "ResourceType": "Custom::AccountReferenceStore",
        "ResourceProperties": {"ServiceToken": "arn:...", "ReferenceStoreName": NAME, "Description": "Genomes"},
        **extra,
    }


@pytest.fixture
def omics() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "omics", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def listed(stubber: Stubber, *stores: dict[str, Any], token: str | None = None, next_token: str | None = None) -> None:
    response: dict[str, Any] = {"referenceStores": list(stores)}
    if next_token:
        response["nextToken"] = next_token
    stubber.add_response("list_reference_stores", response, {"nextToken": token} if token else {})


# --- Create and Update: the account's store ---------------------------------------------------------------


def test_an_account_without_a_store_gets_one_named_as_configured(omics: tuple[Any, Stubber]) -> None:
    client, stubber = omics
    listed(stubber)
    stubber.add_response("create_reference_store", store("1234567890", NAME), {"name": NAME, "description": "Genomes"})

    answer = on_event(request("Create"), client)

    assert answer == {
        "PhysicalResourceId": "1234567890",
        "Data": {
            "ReferenceStoreId": "1234567890",
            "ReferenceStoreArn": ARN.format("1234567890"),
            "ReferenceStoreName": NAME,
        },
    }


def test_the_accounts_store_is_used_whatever_its_name_and_none_is_created(omics: tuple[Any, Stubber]) -> None:
    client, stubber = omics
    listed(stubber, store("1111111111", "lab references"))

    answer = on_event(request("Create"), client)

    assert answer["PhysicalResourceId"] == "1111111111"
    assert answer["Data"]["ReferenceStoreName"] == "lab references"


def test_every_page_of_stores_is_read(omics: tuple[Any, Stubber]) -> None:
    # Given a listing whose first pages are empty (HealthOmics may answer a page with fewer items than exist)
    client, stubber = omics
    listed(stubber, next_token="page-2")
    listed(stubber, token="page-2", next_token="page-3")
    listed(stubber, store("2222222222"), token="page-3")

    resolution = resolve_reference_store(client, NAME, DESCRIPTION)

    assert (resolution.store.id, resolution.created, resolution.others) == ("2222222222", False, ())


def test_of_several_stores_the_one_named_as_configured_is_used(omics: tuple[Any, Stubber]) -> None:
    client, stubber = omics
    listed(stubber, store("1111111111", "old", created=1), next_token="more")
    listed(stubber, store("3333333333", NAME, created=9), store("2222222222", "other", created=5), token="more")

    resolution = resolve_reference_store(client, NAME, DESCRIPTION)

    assert resolution.store.id == "3333333333"
    assert {other.id for other in resolution.others} == {"1111111111", "2222222222"}


def test_of_several_stores_none_named_as_configured_the_oldest_is_used_and_the_choice_logged(
    omics: tuple[Any, Stubber], caplog: pytest.LogCaptureFixture
) -> None:
    client, stubber = omics
    listed(stubber, store("2222222222", "b", created=5), store("1111111111", "a", created=2))

    with caplog.at_level(logging.INFO):
        answer = on_event(request("Create"), client)

    assert answer["PhysicalResourceId"] == "1111111111"
    (warning,) = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert "several reference stores" in warning.getMessage()
    assert (getattr(warning, "referenceStoreId", None), getattr(warning, "others", None)) == (
        "1111111111",
        ["2222222222"],
    )


def test_oldest_and_named_ties_are_broken_by_id() -> None:
    stores = [
        ReferenceStore.from_api(store("2222222222", NAME, created=3)),
        ReferenceStore.from_api(store("1111111111", NAME, created=3)),
        ReferenceStore.from_api(store("0000000009", "x", created=1)),
    ]

    assert preferred(stores, NAME).id == "1111111111"
    assert preferred(stores, "nobody").id == "0000000009"


def test_a_store_created_meanwhile_by_another_deployment_is_used(omics: tuple[Any, Stubber]) -> None:
    # Given an empty listing, then a CreateReferenceStore refused because the account's store now exists
    client, stubber = omics
    listed(stubber)
    stubber.add_client_error("create_reference_store", "ServiceQuotaExceededException", http_status_code=402)
    listed(stubber, store("4444444444", "created by another stack"))

    resolution = resolve_reference_store(client, NAME, DESCRIPTION)

    assert (resolution.store.id, resolution.created) == ("4444444444", False)


def test_a_refused_create_with_still_no_store_fails_the_request(omics: tuple[Any, Stubber]) -> None:
    client, stubber = omics
    listed(stubber)
    stubber.add_client_error("create_reference_store", "AccessDeniedException", http_status_code=403)
    listed(stubber)

    with pytest.raises(ClientError, match="AccessDeniedException"):
        on_event(request("Create"), client)


def test_update_finds_the_store_again(omics: tuple[Any, Stubber]) -> None:
    client, stubber = omics
    listed(stubber, store("1111111111", NAME))

    answer = on_event(request("Update", PhysicalResourceId="1111111111", OldResourceProperties={}), client)

    assert answer["PhysicalResourceId"] == "1111111111"


# --- Delete: the store is kept ------------------------------------------------------------------------------


def test_delete_keeps_the_store_and_calls_nothing(omics: tuple[Any, Stubber]) -> None:
    client, _ = omics  # the Stubber fails any call it was not given

    assert on_event(request("Delete", PhysicalResourceId="1111111111"), client) == {"PhysicalResourceId": "1111111111"}


# --- the request's properties -------------------------------------------------------------------------------


def test_a_request_without_a_store_name_is_refused_before_any_call(omics: tuple[Any, Stubber]) -> None:
    client, _ = omics
    event = request("Create", ResourceProperties={"ServiceToken": "arn:..."})

    with pytest.raises(ValidationError, match=r"ReferenceStoreName\n +Field required"):
        on_event(event, client)
