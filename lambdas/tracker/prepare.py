"""First state of every execution: validate the input and derive what the state machine does next."""

from __future__ import annotations

import math
from typing import Any, Protocol

from tracker.account_wide import follow_execution_name
from tracker.call_budget import SlotBooked
from tracker.contract import REFERENCE_IMPORT, BudgetExhausted, InvalidInput, JobRef
from tracker.history import HistoryStore
from tracker.inputs import FollowJob, StartReferenceImport, client_token_for, parse_request
from tracker.poll import SLOT_LEAD_SECONDS
from tracker.schedule import PollSchedule
from tracker.steps import FirstPark, PollCounters, Prepared, StartImport


def prepare_execution(payload: Any, reference_store_id: str, schedule: PollSchedule) -> Prepared:
    """The normalised request: ``job`` (what to follow), ``start`` (what to start, if anything), ``poll``.

    A job to follow is first waited for (``FirstPark``): its first status event, recorded on the follow
    marker, wakes the execution with the job's state; the first poll runs when the first wait of the
    schedule ends without one. Raises InvalidInput, naming the field, before anything is started or written.
    """
    request = parse_request(payload)
    if isinstance(request, FollowJob):
        carried = request.poll.unchanged_polls if request.poll and request.continued_from else 0
        job = JobRef(request.job_type, request.ids())
        return Prepared(
            job=job.to_dict(),
            poll=FirstPark(
                unchanged_polls=carried,
                wait_seconds=schedule.wait_after(carried, spread_key=f"{job.pk}#0"),
                job_key=job.pk,
            ),
            continued_from=request.continued_from,
        )

    store_id = request.reference_store_id or reference_store_id
    if not store_id:
        raise InvalidInput("referenceStoreId: required, the stack was deployed without a reference store")
    if isinstance(request, StartReferenceImport):
        sources = [source.named().to_json() for source in request.sources]
        token = request.client_token or client_token_for("sources", store_id, sources)
    else:
        upload = request.s3_upload
        sources = [upload.source().to_json()]
        # The S3 sequencer orders writes to one key: a new upload of the same key is a new import,
        # a redelivered event of the same upload is not.
        token = client_token_for("upload", store_id, upload.bucket, upload.key, upload.sequencer)
    return Prepared(
        job={"jobType": REFERENCE_IMPORT, "referenceStoreId": store_id},
        start=StartImport(reference_store_id=store_id, client_token=token, sources=sources),
        # A hand-over starts the same request again: it finds its place in the store's queue by its token.
        resume={name: value for name, value in payload.items() if name != "continuedFrom"},
        poll=PollCounters(),
        continued_from=request.continued_from,
    )


def mark_followed(prepared: Prepared, history: HistoryStore, execution_arn: str, schedule: PollSchedule) -> Prepared:
    """A job to follow is known now: mark it followed, so that its status events are recorded from this moment,
    whenever the first poll gets its turn in the call budget. (An import is known once started: TakeTurn.)

    An execution account-wide mode started for the job (named after it) ends instead if another one began to follow
    the job meanwhile: nothing is followed twice.

    A job whose first event was recorded for this execution before it began (account-wide mode starts the execution
    at that event) is waited on from that state, as the event would have woken the execution: for its next event, or
    until the schedule's next poll, not polled at once. A job another execution followed before (a hand-over, a
    second follow) is polled at once: its history may be behind."""
    if prepared.start is not None:
        return prepared
    job = JobRef.from_dict(prepared.job)
    if execution_arn.rsplit(":", 1)[-1] == follow_execution_name(job):  # started by account-wide mode
        known = history.read(job)
        others = sorted(known.execution_arns - {execution_arn}) if known else []
        if others:  # (e.g. the tracker's own import, recorded just after its first event started this one)
            return prepared.model_copy(update={"followed_elsewhere": others})
    state = history.follow(job, execution_arn)
    poll = prepared.poll
    if state.snapshot is None or state.snapshot.terminal or state.execution_arns != {execution_arn}:
        return prepared
    if not isinstance(poll, FirstPark):
        return prepared
    wait = schedule.wait_after(0, events_seen=state.events_seen, spread_key=f"{poll.job_key}#{state.version}")
    first = poll.model_copy(update={"history_version": state.version, "wait_seconds": wait})
    return prepared.model_copy(update={"poll": first})


class SlotTaker(Protocol):
    def acquire(self, operation: str, max_delay_seconds: float, book_within_seconds: float = 0) -> float: ...


def book_first_poll(prepared: Prepared, budget: SlotTaker, book_within_seconds: float) -> Prepared:
    """A job to follow waits first for its first event, then polls. Many started at once would all poll after the
    first wait, and queue for the call budget: so the first poll's slot is booked now, and the first wait lasts
    until that slot if it is further away (the poll then calls in it, with no second booking). A slot too far away
    to book is left to the first poll."""
    poll = prepared.poll
    # (a hand-over's first wait finds the history moved past its marker and polls at once: nothing to book)
    if prepared.start is not None or prepared.continued_from or prepared.followed_elsewhere:
        return prepared
    if not isinstance(poll, FirstPark):
        return prepared
    operation = JobRef.from_dict(prepared.job).spec.get_operation
    try:
        budget.acquire(operation, 0, book_within_seconds)
    except SlotBooked as booked:
        wait = max(math.ceil(booked.wait_seconds) - SLOT_LEAD_SECONDS, 1)
        if wait > poll.wait_seconds:
            first = poll.model_copy(update={"wait_seconds": wait, "booked_slot": booked.slot.to_json()})
            return prepared.model_copy(update={"poll": first})
    except BudgetExhausted:
        pass
    return prepared
