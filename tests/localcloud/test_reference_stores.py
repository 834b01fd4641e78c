"""The simulator's reference stores: one per account, created, listed (page by page) and read as the model says.

HealthOmics allows one reference store per account and Region ("Creating a HealthOmics reference store"). It
does not document what a second CreateReferenceStore gets; the simulator answers ServiceQuotaExceededException.
Every answer is checked against botocore's omics model by the simulator itself (contract_errors stays empty).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud.clock import SimClock
from localcloud.omics import OmicsSimulator

REGION = "us-east-1"


@pytest.fixture
def simulator() -> Iterator[OmicsSimulator]:
    with mock_aws():
        simulator = OmicsSimulator(SimClock(), region=REGION)
        yield simulator
        assert simulator.contract_errors == []


def a_second_later(simulator: OmicsSimulator) -> None:
    """CreateReferenceStore allows one call per second (HealthOmics API quotas)."""
    simulator.clock.sleep_until(simulator.clock.now() + timedelta(seconds=1))


def test_the_first_store_is_created_and_described_as_the_model_says(simulator: OmicsSimulator, omics: Any) -> None:
    created = omics.create_reference_store(name="lab references", description="GRCh38 and friends")

    assert created["id"] in simulator.reference_stores
    assert created["arn"] == f"arn:aws:omics:{REGION}:123456789012:referenceStore/{created['id']}"
    assert (created["name"], created["description"]) == ("lab references", "GRCh38 and friends")
    fetched = omics.get_reference_store(id=created["id"])
    assert {k: fetched[k] for k in ("id", "arn", "name", "creationTime")} == {
        k: created[k] for k in ("id", "arn", "name", "creationTime")
    }
    assert [s["id"] for s in omics.list_reference_stores()["referenceStores"]] == [created["id"]]


def test_a_second_store_is_refused_and_the_first_stays_the_only_one(simulator: OmicsSimulator, omics: Any) -> None:
    first = omics.create_reference_store(name="first")["id"]
    a_second_later(simulator)

    with pytest.raises(ClientError) as refused:
        omics.create_reference_store(name="second")

    assert refused.value.response["Error"]["Code"] == "ServiceQuotaExceededException"
    assert first in refused.value.response["Error"]["Message"]
    assert list(simulator.reference_stores) == [first]


def test_a_store_made_before_the_test_counts_as_the_accounts_one(simulator: OmicsSimulator, omics: Any) -> None:
    existing = simulator.create_reference_store("made in the console")

    with pytest.raises(ClientError, match="ServiceQuotaExceededException"):
        omics.create_reference_store(name="tracker")

    assert [s["id"] for s in omics.list_reference_stores()["referenceStores"]] == [existing]


def test_the_same_client_token_returns_the_same_store(simulator: OmicsSimulator, omics: Any) -> None:
    first = omics.create_reference_store(name="tracker", clientToken="deploy-1")
    a_second_later(simulator)

    again = omics.create_reference_store(name="tracker", clientToken="deploy-1")

    assert again["id"] == first["id"]
    assert len(simulator.reference_stores) == 1


def test_an_unknown_store_is_not_found(omics: Any) -> None:
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        omics.get_reference_store(id="9999999999")


def test_an_empty_account_lists_no_store(omics: Any) -> None:
    assert omics.list_reference_stores()["referenceStores"] == []


def test_stores_are_listed_page_by_page_and_filtered(simulator: OmicsSimulator, omics: Any) -> None:
    # Given an account that somehow has three stores (a quota raised for the test)
    simulator.reference_store_quota = 3
    ids = []
    for name in ("a", "b", "c"):
        ids.append(omics.create_reference_store(name=name)["id"])
        a_second_later(simulator)

    # When they are listed one per page (maxResults and nextToken travel in the query string)
    pages = list(omics.get_paginator("list_reference_stores").paginate(PaginationConfig={"PageSize": 1}))

    # Then every store comes once, oldest first, and the last page has no nextToken
    assert [[s["id"] for s in page["referenceStores"]] for page in pages] == [[ids[0]], [ids[1]], [ids[2]]]
    assert "nextToken" not in pages[-1]
    assert [s["name"] for s in omics.list_reference_stores(filter={"name": "b"})["referenceStores"]] == ["b"]
    second = simulator.reference_stores[ids[1]].created
    after = omics.list_reference_stores(filter={"createdAfter": second})["referenceStores"]
    assert [s["id"] for s in after] == ids[1:]


def test_a_next_token_the_simulator_did_not_give_is_refused(omics: Any) -> None:
    with pytest.raises(ClientError, match="ValidationException"):
        omics.list_reference_stores(nextToken="not-a-token")
