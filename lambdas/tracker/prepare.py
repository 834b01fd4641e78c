"""First state of every execution: validate the input and derive what the state machine does next."""

from __future__ import annotations

from typing import Any

from tracker.errors import InvalidInput
from tracker.inputs import (
    FollowJob,
    StartReferenceImport,
    TrackUpload,
    client_token_for,
    parse_request,
    reference_name_for,
)
from tracker.job_types import JobTypeName
from tracker.settings import Settings


def prepare_execution(payload: Any, settings: Settings) -> dict[str, Any]:
    """The normalised request: ``job`` (what to follow), ``start`` (what to start, if anything), ``poll``.

    Raises InvalidInput, naming the field, before anything is started or written.
    """
    request = parse_request(payload)
    first_poll = {"attempt": 0, "unchangedPolls": 0}
    if isinstance(request, FollowJob):
        prepared: dict[str, Any] = {"job": {"jobType": str(request.job_type), **request.ids()}, "poll": first_poll}
        if request.continued_from:
            prepared["continuedFrom"] = request.continued_from
            first_poll["unchangedPolls"] = request.poll.unchanged_polls if request.poll else 0
        return prepared

    store_id = request.reference_store_id or settings.reference_store_id
    if not store_id:
        raise InvalidInput("referenceStoreId: required, the stack was deployed without a reference store")
    if isinstance(request, StartReferenceImport):
        sources = [source.to_api() for source in request.sources]
        token = request.client_token or client_token_for("sources", store_id, sources)
    else:
        upload = request.s3_upload
        sources = [
            {
                "SourceFile": f"s3://{upload.bucket}/{upload.key}",
                "Name": reference_name_for(upload.key),
                "Description": f"Uploaded to s3://{upload.bucket}/{upload.key}"[:255],
            }
        ]
        # The S3 sequencer orders writes to one key: a new upload of the same key is a new import,
        # a redelivered event of the same upload is not.
        token = client_token_for("upload", store_id, upload.bucket, upload.key, upload.sequencer)
    assert isinstance(request, StartReferenceImport | TrackUpload)
    return {
        "job": {"jobType": str(JobTypeName.REFERENCE_IMPORT), "referenceStoreId": store_id},
        "start": {
            "ReferenceStoreId": store_id,
            "ClientToken": token,
            "Sources": sources,
        },
        "poll": first_poll,
    }
