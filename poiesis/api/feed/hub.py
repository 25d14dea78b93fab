"""One reader of task events per API worker, fanning them out to that worker's subscribers.

The hub LISTENs on a connection of its own; every notification (and, as a backstop, every
``poll`` seconds) it reads the final events after its position in batches (one query for all
its subscribers, however many) and offers each to every subscriber. A subscriber's queue is
bounded: one that is full is marked dropped and gets nothing more, so a slow client costs at
most ``queue`` events of memory and never slows the hub, let alone a writer (writers only
insert rows and NOTIFY). The hub runs while it has subscribers and stops with the last one.

Offering events and moving the position happen without an ``await`` in between, so a
subscriber registered at position H gets exactly the events after H from the hub, and
reads those up to H itself (``route``): nothing is lost or sent twice at the hand-over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref

from poiesis.api.feed import events
from poiesis.store import AsyncStore, Event, Position, TaskFilter, Unavailable

log = logging.getLogger(__name__)

Item = tuple[Position, bytes]
#: Every hub of this process, so that a server that begins to stop can end their streams (``stop_all``).
_HUBS: weakref.WeakSet[Hub] = weakref.WeakSet()


def stop_all() -> None:
    """End every open stream of this process and take no new ones: the server is stopping.

    uvicorn waits for open responses before it exits, and a stream never ends by itself; the
    serving protocol calls this when uvicorn asks its connections to shut down
    (``poiesis.api.serving``). Clients reconnect with their last id, to another replica or to
    this one restarted.
    """
    for hub in list(_HUBS):
        hub.stop_streams()


#: Queued to wake a stream that waits for events when the server stops (position START: never sent).
CLOSING: Item = (Position(0, 0), b"")


class Full(Exception):
    """The worker already serves as many subscribers as it may (503)."""


class Subscriber:
    """One stream's side of the hub: what it wants and the events waiting for it."""

    def __init__(self, filters: TaskFilter, task_id: str | None, *, size: int, at: Position) -> None:
        self.filters, self.task_id = filters, task_id
        self.queue: asyncio.Queue[Item] = asyncio.Queue(size)
        #: the hub's position when this subscriber joined: the hub sends what comes after it
        self.joined_at = at
        self.dropped = False
        #: the server is stopping: the stream ends after what is queued
        self.closing = False

    def offer(self, event: Event, item: Item) -> None:
        """Queue ``item`` if wanted; a full queue drops the subscriber instead of waiting."""
        if self.dropped or not events.matches(self.filters, self.task_id, event):
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped = True


class Hub:
    """See the module docstring."""

    def __init__(self, store: AsyncStore, *, max_subscribers: int, queue: int, poll: float = 1.0,
                 batch: int = 1000) -> None:
        self.store = store
        self.max_subscribers, self.queue_size = max_subscribers, queue
        self.poll, self.batch = poll, batch
        self.subscribers: set[Subscriber] = set()
        self.position: Position | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.stopping = False
        _HUBS.add(self)

    def full(self) -> bool:
        return len(self.subscribers) >= self.max_subscribers

    def full_detail(self) -> str:
        return f"this worker already streams to {self.max_subscribers} subscribers (POIESIS_FEED_SUBSCRIBERS)"

    async def subscribe(self, filters: TaskFilter, task_id: str | None, *, wait: float = 5.0) -> Subscriber:
        """Join: the hub offers the new subscriber every event after its position now."""
        if self.full() or self.stopping:
            raise Full("the server is stopping" if self.stopping else self.full_detail())
        if self._task is None:
            self._ready.clear()
            self._task = asyncio.create_task(self._run(), name="poiesis-feed-hub")
        try:
            async with asyncio.timeout(wait):
                await self._ready.wait()
        except TimeoutError:
            self._stop_if_idle()
            raise Unavailable("the task database does not answer") from None
        assert self.position is not None
        subscriber = Subscriber(filters, task_id, size=self.queue_size, at=self.position)
        self.subscribers.add(subscriber)
        return subscriber

    def stop_streams(self) -> None:
        """Every subscriber ends its stream once it has sent what is queued; nobody joins any more."""
        self.stopping = True
        for subscriber in self.subscribers:
            subscriber.closing = True
            with contextlib.suppress(asyncio.QueueFull):  # a full queue wakes its stream anyway
                subscriber.queue.put_nowait(CLOSING)

    def leave(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        self._stop_if_idle()

    async def close(self) -> None:
        self.subscribers.clear()
        await self._cancel()

    def _stop_if_idle(self) -> None:
        if not self.subscribers and self._task is not None:
            self._task.cancel()
            self._task, self.position = None, None

    async def _cancel(self) -> None:
        task, self._task, self.position = self._task, None, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                async with self.store.listen() as listener:
                    if self.position is None:
                        self.position = await self.store.feed_head()
                    await self._read()  # after LISTEN: whatever commits from now on also wakes us
                    self._ready.set()
                    while True:
                        await listener.wait(self.poll)
                        await self._read()
            except Unavailable as exc:
                log.warning("change feed: the database is unavailable (%s); retrying", exc)
                await asyncio.sleep(1.0)
            except Exception:  # the hub outlives anything one read throws; its subscribers keep waiting
                log.exception("change feed: reading events failed; retrying")
                await asyncio.sleep(1.0)

    async def _read(self) -> None:
        assert self.position is not None
        while True:
            found = await self.store.events_after(self.position, limit=self.batch)
            for event in found:  # no await from here to the new position: see the module docstring
                item = (event.position, events.frame(event))
                for subscriber in self.subscribers:
                    subscriber.offer(event, item)
            if found:
                self.position = found[-1].position
            if len(found) < self.batch:
                return
