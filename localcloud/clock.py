"""A simulated clock for the local cloud: Wait states, Retry intervals and task-token waits move it
instead of sleeping, so a 7-day job runs in seconds.

It is a small discrete-event scheduler. A thread that waits registers the moment it wants to wake
and blocks; time only moves when every actor (each running execution, each asynchronous Lambda
invocation) is waiting, and then it jumps to the earliest wake-up. So concurrent executions see one
consistent time, and no execution's wait can skip over what another is still doing.

`make local` uses a ScaledClock instead: wall time, sped up, so a person can watch a job move.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
# How often (real seconds) a watcher looks whether time may move when nobody said so: the safety net behind
# recheck(), which the local cloud calls whenever an actor stops or a waiter's interrupt is set.
_SAFETY_TICK_SECONDS = 0.05


class Clock(Protocol):
    """What the local cloud's parts need of a clock: SimClock (tests) and ScaledClock (`make local`)."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float, interrupt: threading.Event | None = None) -> None: ...

    def sleep_until(self, moment: datetime, interrupt: threading.Event | None = None) -> None: ...


class _Wakeup:
    """One waiting thread: the moment it wants, what may interrupt it, and its own condition (on the clock's
    lock), so moving time wakes only the threads that are due, not every waiter."""

    __slots__ = ("condition", "interrupt", "moment")

    def __init__(self, moment: datetime, interrupt: threading.Event | None, lock: threading.Lock) -> None:
        self.moment = moment
        self.interrupt = interrupt
        self.condition = threading.Condition(lock)

    def __getitem__(self, index: int) -> datetime:
        """wakeup[0] is the moment (a wakeup used to be the list [moment])."""
        return (self.moment,)[index]

    @property
    def interrupted(self) -> bool:
        return self.interrupt is not None and self.interrupt.is_set()


class SimClock:
    def __init__(self, start: datetime = EPOCH, actors: Callable[[], int] = lambda: 0) -> None:
        self._now = start
        self._actors = actors
        self._wakeups: list[Any] = []  # _Wakeup (or Actor, on a TurnClock): wakeup[0] is its moment
        self._lock = threading.Lock()
        self._watching = False  # a watcher thread runs while anyone waits

    def now(self) -> datetime:
        return self._now  # one reference, replaced whole under the lock: reading it needs no lock

    def sleep(self, seconds: float, interrupt: threading.Event | None = None) -> None:
        self.sleep_until(self.now() + timedelta(seconds=max(float(seconds), 0.0)), interrupt)

    def sleep_until(self, moment: datetime, interrupt: threading.Event | None = None) -> None:
        """Block until simulated time reaches `moment`, or `interrupt` is set (a task token answered)."""
        with self._lock:
            wakeup = _Wakeup(moment, interrupt, self._lock)
            self._wakeups.append(wakeup)
            self._watch()
            try:
                while self._now < moment and not wakeup.interrupted:
                    self._advance_if_all_wait()
                    if self._now < moment and not wakeup.interrupted:
                        wakeup.condition.wait()  # until time reaches it, recheck() or the watcher wakes it
            finally:
                self._wakeups.remove(wakeup)

    def recheck(self) -> None:
        """An actor stopped, or a waiter's interrupt was set: wake who is interrupted, move time if all wait."""
        with self._lock:
            self._wake(interrupted_only=True)
            self._advance_if_all_wait()

    def _advance_if_all_wait(self) -> None:
        # A waiter whose interrupt is set is about to act: it no longer counts as waiting.
        waiting = [wakeup.moment for wakeup in self._wakeups if not wakeup.interrupted]
        if waiting and len(waiting) >= self._actors():
            earliest = min(waiting)
            if earliest > self._now:
                self._now = earliest
                self._wake(interrupted_only=False)

    def _wake(self, interrupted_only: bool) -> None:
        for wakeup in self._wakeups:
            if wakeup.interrupted or (not interrupted_only and wakeup.moment <= self._now):
                wakeup.condition.notify()

    def _watch(self) -> None:
        """Start the watcher if none runs (called with the lock held)."""
        if not self._watching:
            self._watching = True
            threading.Thread(target=self._watcher, name="SimClock watcher", daemon=True).start()

    def _watcher(self) -> None:
        """Every tick while anyone waits, what recheck() does: time moves even if no one called it (e.g. a
        test held the clock and let go of it), only later."""
        while True:
            time.sleep(_SAFETY_TICK_SECONDS)
            with self._lock:
                if not self._wakeups:
                    self._watching = False
                    return
                self._wake(interrupted_only=True)
                self._advance_if_all_wait()


class Actor:
    """Something that acts on a TurnClock: an execution, an asynchronous invocation, a stream worker, the status
    event publisher, or the test driver. As a waiter, it reads like a _Wakeup (``actor[0]`` is its moment)."""

    __slots__ = ("condition", "interrupt", "moment", "name", "queued", "slept")

    def __init__(self, name: str, lock: threading.Lock) -> None:
        self.name = name
        self.condition = threading.Condition(lock)
        self.moment: datetime | None = None
        self.interrupt: threading.Event | None = None
        self.queued = False  # waiting for its turn
        self.slept = 0  # the order it went to sleep in (waiters due at one moment take turns in that order)

    def __getitem__(self, index: int) -> datetime:
        return (self.moment,)[index]  # type: ignore[return-value]

    @property
    def interrupted(self) -> bool:
        return self.interrupt is not None and self.interrupt.is_set()

    def __repr__(self) -> str:
        return f"Actor({self.name})"


class TurnClock(SimClock):
    """The local cloud's SimClock: actors take turns, one at a time, in an order that does not depend on threads.

    A SimClock lets every actor that may act at a moment run at once, on threads; what they do to shared things
    (a call budget's slots, a job's history) then lands in whatever order the threads happen to run, and so
    differs from run to run. Here one actor acts at a time: it has the turn until it sleeps on the clock or
    ends, and the turn then goes to the actor that has waited for it longest (a new actor queues when it is
    made, in its maker's turn; woken sleepers queue in the order they went to sleep). Time moves when no actor
    has or waits for the turn, to the earliest wake-up, exactly as on a SimClock. Given the same start, every
    run takes the same turns in the same order.

    Every actor is made with actor() (by the code that starts it) and acts inside turn(actor) (on its own
    thread). Threads an actor starts and waits for (moto runs each state's task on a new thread) act in its
    turn. A thread that sleeps outside every actor's turn (the test driver) takes a turn of its own for it."""

    def __init__(self, start: datetime = EPOCH) -> None:
        super().__init__(start)
        self._current: Actor | None = None
        self._queue: list[tuple[int, Actor]] = []  # who waits for the turn, first first
        self._order = itertools.count()
        self._local = threading.local()  # the actor of the thread that entered its turn
        self._maybe_interrupted = False  # someone set a sleeper's interrupt since the sleepers were last looked at
        # The sleepers: by the order they went to sleep (a dict: removal in O(1); HeldClock reads wakeup[0] of
        # each), and by (moment, order) in a heap, for the earliest without looking at all (stale entries of
        # actors that woke are dropped when they reach the top).
        self._wakeups: dict[Actor, None] = {}  # type: ignore[assignment]
        self._earliest: list[tuple[datetime, int, Actor]] = []
        self._timers: list[tuple[datetime, int, timedelta, str, Callable[[datetime], None]]] = []  # a heap
        self._closed = False

    def close(self) -> None:
        """The cloud stopped: nobody gets a turn again. Threads of executions still running stay blocked instead
        of waking later inside whatever runs next in this process (another cloud, a unit test's mocks)."""
        with self._lock:
            self._closed = True

    def every(self, period: timedelta, fire: Callable[[datetime], None], name: str = "timer") -> None:
        """fire(moment) at now + period, now + 2 * period, ..., each in a turn of its own. A timer is no sleeper:
        it fires only when time reaches its moment because some sleeper waits until then or later (so it never
        moves time by itself, and an idle clock stays still), and time about to jump past it stops there first."""
        with self._lock:
            heapq.heappush(self._timers, (self._now + period, next(self._order), period, name, fire))

    def _fire_timer(self) -> None:
        """With the lock held: time moves to the first timer's moment, which fires as an actor on a new thread
        (queued for its turn here: whatever it starts acts before time moves on)."""
        moment, _, period, name, fire = heapq.heappop(self._timers)
        heapq.heappush(self._timers, (moment + period, next(self._order), period, name, fire))
        self._now = max(self._now, moment)
        actor = Actor(name, self._lock)
        self._queue_for_turn(actor)
        threading.Thread(target=self._run_timer, args=(actor, fire, moment), name=name, daemon=True).start()

    def _run_timer(self, actor: Actor, fire: Callable[[datetime], None], moment: datetime) -> None:
        with self.turn(actor):
            fire(moment)

    def actor(self, name: str) -> Actor:
        """A new actor, queued for its turn now (call it where the actor is started, in its starter's turn)."""
        with self._lock:
            actor = Actor(name, self._lock)
            self._queue_for_turn(actor)
            self._give_turn()
            return actor

    @contextlib.contextmanager
    def turn(self, actor: Actor) -> Iterator[None]:
        """Act as `actor` on this thread: wait for its turn first; its end gives the turn on."""
        with self._lock:
            self._watch()
            while self._current is not actor:
                actor.condition.wait()
        previous = getattr(self._local, "actor", None)
        self._local.actor = actor
        try:
            yield
        finally:
            self._local.actor = previous
            self.leave(actor)

    def leave(self, actor: Actor) -> None:
        """`actor` is done (or will never start): the turn goes on."""
        with self._lock:
            if self._current is actor:
                self._current = None
            elif actor.queued:
                actor.queued = False
                self._queue = [(order, queued) for order, queued in self._queue if queued is not actor]
                heapq.heapify(self._queue)
            self._give_turn()

    @contextlib.contextmanager
    def acting(self, name: str = "driver") -> Iterator[None]:
        """Act in a turn of one's own (the test driver starting executions: they all start at one moment)."""
        with self.turn(self.actor(name)):
            yield

    def settle(self, timeout: float = 30) -> None:
        """Wait (real time) until every actor that may act at this moment has acted: nobody has or waits for the
        turn, or time moved on."""
        deadline, moment = time.monotonic() + timeout, self._now
        while time.monotonic() < deadline:
            with self._lock:
                if (self._current is None and not self._queue) or self._now != moment:
                    return
            time.sleep(0.001)

    def sleep_until(self, moment: datetime, interrupt: threading.Event | None = None) -> None:
        actor = getattr(self._local, "actor", None)
        if actor is None and threading.current_thread() is not threading.main_thread():
            actor = self._current  # a thread the actor in turn started (and waits for)
        if actor is None:
            with self.acting("sleeper"):
                self.sleep_until(moment, interrupt)
            return
        self._sleep_as(actor, moment, interrupt)

    def _sleep_as(self, actor: Actor, moment: datetime, interrupt: threading.Event | None) -> None:
        with self._lock:
            if self._now >= moment or (interrupt is not None and interrupt.is_set()):
                return
            actor.moment, actor.interrupt, actor.slept = moment, interrupt, next(self._order)
            self._wakeups[actor] = None
            heapq.heappush(self._earliest, (moment, actor.slept, actor))
            if self._current is actor:
                self._current = None
            self._give_turn()
            try:
                while self._current is not actor:
                    actor.condition.wait()
            finally:
                del self._wakeups[actor]
                actor.interrupt = None

    def recheck(self) -> None:
        with self._lock:
            self._maybe_interrupted = True
            self._give_turn()

    def _advance_if_all_wait(self) -> None:
        if self._current is not None or self._queue:
            return
        self._queue_interrupted()
        if self._queue:
            self._give_turn()
            return
        earliest = self._earliest
        while earliest and (earliest[0][2] not in self._wakeups or earliest[0][1] != earliest[0][2].slept):
            heapq.heappop(earliest)  # an actor that woke since
        if not earliest:
            return
        if earliest[0][2].interrupted:  # its interrupt was set without a recheck(): look at every sleeper
            self._maybe_interrupted = True
            self._give_turn()
            return
        if self._timers and self._timers[0][0] <= earliest[0][0]:
            self._fire_timer()
            self._give_turn()
            return
        self._now = max(self._now, earliest[0][0])
        # Every one due now (they went to sleep for this very moment): in the order they went to sleep.
        while earliest and earliest[0][0] <= self._now:
            _, slept, actor = heapq.heappop(earliest)
            if actor in self._wakeups and slept == actor.slept:
                self._queue_for_turn(actor)
        self._give_turn()

    def _queue_for_turn(self, actor: Actor) -> None:
        if not actor.queued and self._current is not actor:
            actor.queued = True
            heapq.heappush(self._queue, (next(self._order), actor))

    def _queue_interrupted(self) -> None:
        """Queue the sleepers whose interrupt is set, in the order they went to sleep (only if recheck() or the
        watcher said some may be: looking at every sleeper each time the turn passes would cost O(sleepers))."""
        if not self._maybe_interrupted:
            return
        self._maybe_interrupted = False
        for actor in self._wakeups:
            if actor.interrupted:
                self._queue_for_turn(actor)

    def _give_turn(self) -> None:
        """With the lock held: if nobody has the turn, the first in the queue gets it, else time may move."""
        if self._current is not None or self._closed:
            return
        if not self._queue:
            self._queue_interrupted()
        if self._queue:
            _, actor = heapq.heappop(self._queue)
            actor.queued = False
            self._current = actor
            actor.condition.notify()
        else:
            self._advance_if_all_wait()

    def _watcher(self) -> None:
        while True:
            time.sleep(_SAFETY_TICK_SECONDS)
            with self._lock:
                if self._closed or (not self._wakeups and not self._queue and self._current is None):
                    self._watching = False
                    return
                if self._current is None:  # (during a turn, the sleepers it interrupts are looked at after it)
                    self._maybe_interrupted = True
                    self._give_turn()


class ScaledClock:
    """Wall time sped up `speed` times (1: real time), from the current UTC time so timestamps look current.

    Nothing waits for anyone here: a sleep of n simulated seconds lasts n / speed real seconds, so a
    person can watch a job move through its statuses (a 10-minute job at speed 60 takes 10 s)."""

    def __init__(
        self, speed: float = 60, start: datetime | None = None, wall: Callable[[], float] = time.monotonic
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._start = start or datetime.now(UTC)
        self._wall = wall
        self._wall_start = wall()
        self._closed = threading.Event()
        self._timers: list[threading.Thread] = []

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(self._wall() - self._wall_start) * self.speed)

    def sleep(self, seconds: float, interrupt: threading.Event | None = None) -> None:
        self.sleep_until(self.now() + timedelta(seconds=max(float(seconds), 0.0)), interrupt)

    def sleep_until(self, moment: datetime, interrupt: threading.Event | None = None) -> None:
        """Block until `moment` (simulated), or `interrupt` is set (a task token answered)."""
        wake = interrupt or threading.Event()  # never set: a plain sleep
        # A loop, not one wait: a wait may end a little early (timer resolution, microsecond rounding).
        while (remaining := (moment - self.now()).total_seconds()) > 0:
            if wake.wait(remaining / self.speed):
                return

    def every(self, period: timedelta, fire: Callable[[datetime], None], name: str = "timer") -> None:
        """fire(moment) at now + period, now + 2 * period, ..., on a daemon thread, until close()."""
        first = self.now() + period

        def run() -> None:
            for k in itertools.count():
                moment = first + k * period
                self.sleep_until(moment, interrupt=self._closed)
                if self._closed.is_set():
                    return
                fire(moment)

        self._timers.append(threading.Thread(target=run, name=name, daemon=True))
        self._timers[-1].start()

    def close(self) -> None:
        """The cloud stopped: timers fire no more (one firing now may end first)."""
        self._closed.set()
        for timer in self._timers:
            timer.join(timeout=5)
