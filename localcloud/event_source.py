"""HealthOmics' status events on the simulated clock, delivered by one publisher instead of by every waiter.

``fixes.task_token_wait`` on ``make local``'s ScaledClock lets each execution waiting for a task
token wake at every job status change before its deadline, deliver the events due then (the first to wake
delivers them, the others find none) and look for the next change over all jobs. With N executions and N jobs
that is N wake-ups per change and an O(N) search per wake-up: O(N^3) work, hours for a thousand executions.

Here the waits only wait (until their deadline or their token), and one publisher does the rest, with the same
outcome: it stops the clock at each status change that some task-token wait's deadline reaches (none sooner
than the waits that covered it did) and delivers every event due by then, in time order; changes already due
when a wait starts are delivered at once; an event no wait covers waits for the next wait that does, as
before. The publisher is an actor of the clock while it has something to look at or deliver, so time does not
move past a change before its events are out (their Lambda targets are then actors themselves).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from localcloud.clock import TurnClock
from localcloud.omics import OmicsSimulator


class StatusEventSource:
    def __init__(
        self, clock: TurnClock, omics: OmicsSimulator, publish_due: Callable[[], None], recheck: Callable[[], None]
    ) -> None:
        self._clock, self._omics, self._publish_due, self._recheck = clock, omics, publish_due, recheck
        self._changed = threading.Condition()
        self._deadlines: dict[int, datetime] = {}  # the task-token waits under way: number -> deadline
        self._latest: list[tuple[float, int]] = []  # (-deadline, id): a heap for the latest deadline
        self._changes: list[tuple[datetime, int]] = []  # unannounced status changes of the jobs seen: a heap
        self._jobs_seen = 0
        self._order = itertools.count()
        self._busy = False  # an actor: it has to look again, or a change to deliver
        self._actor: Any = None  # its actor on a TurnClock, while busy
        self._interrupt = threading.Event()  # set when it has to look again while sleeping until a change
        self._thread: threading.Thread | None = None
        self._closed = False
        self.errors: list[Exception] = []

    def wait_for_token(self, endpoint: Any, timeout: float | None) -> Any:
        """CallbackEndpoint.wait on the simulated clock: until the token is answered or the deadline passes."""
        notified: threading.Event = endpoint._notify_event
        if notified.is_set():
            return endpoint._outcome
        deadline = self._clock.now() + timedelta(seconds=timeout or 0)
        key = next(self._order)
        self._look_again(lambda: self._add_wait(key, deadline))
        try:
            self._clock.sleep_until(deadline, interrupt=notified)
        finally:
            self._look_again(lambda: self._deadlines.pop(key, None))
        return endpoint._outcome

    def pass_time(self, seconds: float) -> None:
        """Sleep on the clock (the test driver), delivering the events of the changes before the end as a task-token
        wait does: jobs no execution follows yet (account-wide mode) have their events delivered too."""
        deadline = self._clock.now() + timedelta(seconds=seconds)
        key = next(self._order)
        self._look_again(lambda: self._add_wait(key, deadline))
        try:
            self._clock.sleep_until(deadline)
        finally:
            self._look_again(lambda: self._deadlines.pop(key, None))

    def _add_wait(self, key: int, deadline: datetime) -> None:
        self._deadlines[key] = deadline
        heapq.heappush(self._latest, (-deadline.timestamp(), key))

    def _latest_deadline(self) -> datetime:
        """The latest deadline of the waits under way (ended waits leave the heap when they reach its top)."""
        while self._latest and self._deadlines.get(self._latest[0][1], None) is None:
            heapq.heappop(self._latest)
        return self._deadlines[self._latest[0][1]]

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._interrupt.set()

    def _look_again(self, change: Callable[[], Any]) -> None:
        """Apply `change` to the waits and make the publisher look again, an actor until it has."""
        with self._changed:
            change()
            if not self._busy:
                self._actor = self._clock.actor("HealthOmics status events")
            self._busy = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="HealthOmics status events", daemon=True)
                self._thread.start()
            self._changed.notify_all()
        self._interrupt.set()
        self._recheck()  # wakes the publisher if it sleeps on the clock

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._busy and not self._closed:
                    self._changed.wait()
                if self._closed:
                    self._busy = False
                    return
                actor = self._actor
            with self._clock.turn(actor):
                self._deliver_until_idle()

    def _deliver_until_idle(self) -> None:
        while True:
            with self._changed:
                self._interrupt.clear()
                moment = self._next_change() if not self._closed else None
                if moment is None:
                    self._busy = False  # nothing to deliver before some wait starts or ends
                    self._actor = None
            if moment is None:
                self._recheck()  # one actor fewer: time may move
                return
            self._clock.sleep_until(moment, interrupt=self._interrupt)
            if self._clock.now() < moment:
                continue  # a wait started or ended before the change: look again
            # Time reached the change while a wait covered it (a wait ending before it would have made the
            # publisher look again first, and time cannot move while it looks): deliver, even if a wait
            # ended at this very moment.
            try:
                self._sync_jobs()
                self._publish_due()
            except Exception as error:  # kept for the harness; the publisher goes on (time must not stop)
                self.errors.append(error)
            self._announced(self._clock.now())

    def _next_change(self) -> datetime | None:
        """The first unannounced change some wait's deadline reaches (now, if already due); None if none."""
        if not self._deadlines:
            return None
        self._sync_jobs()
        if not self._changes:
            return None
        first = self._changes[0][0]
        if first > self._latest_deadline():
            return None
        return max(first, self._clock.now())

    def _sync_jobs(self) -> None:
        """Add the status changes of jobs added since the last look (jobs are only ever added)."""
        if len(self._omics.jobs) == self._jobs_seen:
            return
        jobs = list(self._omics.jobs.values())
        for job in jobs[self._jobs_seen :]:
            for moment in self._omics._status_moments(job):
                heapq.heappush(self._changes, (moment, next(self._order)))
        self._jobs_seen = len(jobs)

    def _announced(self, now: datetime) -> None:
        """due_events() announced every change up to `now`."""
        with self._changed:
            while self._changes and self._changes[0][0] <= now:
                heapq.heappop(self._changes)
