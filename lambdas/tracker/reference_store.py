"""The account's one HealthOmics reference store, found or created by the stack's custom resource.

HealthOmics allows a single reference store per account and Region, and the store outlives any stack that
uses it: it holds the imported genomes. So the custom resource never creates a second one. On Create and
Update it lists the account's stores (every page) and uses the one there is; only in an account without a
store does it create one, named as configured. Should several stores exist (the quota is one, but it is a
quota), it takes the one with the configured name, else the oldest, and logs the others. On Delete it does
nothing: the store stays with its genomes, for the next deployment or anyone else in the account.

The answer is what CDK's custom-resource Provider framework expects from an on-event handler: the store id
as the physical resource id, and ``ReferenceStoreId``, ``ReferenceStoreArn`` and ``ReferenceStoreName`` as
the attributes ``Fn::GetAtt`` reads. The thin Lambda entry point is ``tracker.handlers.reference_store``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from tracker.contract import ReferenceStoreResource
from tracker.observability import logger


class StoreProperties(BaseModel):
    """The custom resource's properties (``ResourceProperties``; CloudFormation adds ``ServiceToken``)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(alias="ReferenceStoreName", min_length=1, max_length=127)
    description: str = Field(
        default=ReferenceStoreResource.DEFAULT_DESCRIPTION, alias="Description", min_length=1, max_length=255
    )


@dataclass(frozen=True)
class ReferenceStore:
    id: str
    arn: str
    name: str
    creation_time: datetime

    @classmethod
    def from_api(cls, answer: dict[str, Any]) -> ReferenceStore:
        """A store as ListReferenceStores, CreateReferenceStore and GetReferenceStore describe it."""
        return cls(str(answer["id"]), str(answer["arn"]), str(answer.get("name") or ""), answer["creationTime"])


@dataclass(frozen=True)
class Resolution:
    """The store the stack uses, whether this request created it, and the account's other stores, if any."""

    store: ReferenceStore
    created: bool
    others: tuple[ReferenceStore, ...] = ()


def account_reference_stores(omics: Any) -> list[ReferenceStore]:
    """Every reference store of the account in this Region, from every page of ListReferenceStores."""
    pages = omics.get_paginator("list_reference_stores").paginate()
    return [ReferenceStore.from_api(store) for page in pages for store in page.get("referenceStores", [])]


def preferred(stores: list[ReferenceStore], name: str) -> ReferenceStore:
    """The store named `name` if there is one (the oldest of them), else the oldest store."""
    named = [store for store in stores if store.name == name]
    return min(named or stores, key=lambda store: (store.creation_time, store.id))


def resolve_reference_store(omics: Any, name: str, description: str) -> Resolution:
    """The account's reference store; one named `name` is created only if the account has none."""
    stores = account_reference_stores(omics)
    if not stores:
        try:
            created = omics.create_reference_store(name=name, description=description)
        except ClientError:
            # Another deployment may have created the account's store since we listed: then use it. What
            # HealthOmics answers to a second CreateReferenceStore is not documented, so any error counts.
            stores = account_reference_stores(omics)
            if not stores:
                raise
        else:
            return Resolution(ReferenceStore.from_api(created), created=True)
    chosen = preferred(stores, name)
    return Resolution(chosen, created=False, others=tuple(store for store in stores if store != chosen))


def on_event(event: dict[str, Any], omics: Any) -> dict[str, Any]:
    """A CloudFormation custom-resource request (Create, Update or Delete), answered for the Provider framework."""
    request_type = event["RequestType"]
    if request_type == "Delete":
        # The store holds the imported genomes and is the account's only one: it is never deleted here.
        logger.info("Reference store kept", extra={"referenceStoreId": event.get("PhysicalResourceId")})
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    properties = StoreProperties.model_validate(event.get("ResourceProperties") or {})
    resolution = resolve_reference_store(omics, properties.name, properties.description)
    store = resolution.store
    if resolution.others:
        logger.warning(
            "The account has several reference stores; using the one named as configured, else the oldest",
            extra={"referenceStoreId": store.id, "others": [other.id for other in resolution.others]},
        )
    logger.info(
        "Reference store created" if resolution.created else "Reference store of the account used",
        extra={"requestType": request_type, "referenceStoreId": store.id, "referenceStoreName": store.name},
    )
    return {
        "PhysicalResourceId": store.id,
        "Data": {
            ReferenceStoreResource.ID: store.id,
            ReferenceStoreResource.ARN: store.arn,
            ReferenceStoreResource.NAME: store.name,
        },
    }
