"""The scheduler: one ready queue of hosts, each host with its own queue of URLs.

Scrapy's downloader slots and Nutch's per-host fetch queues are the model. A worker asks for
the next URL and gets one only from a host that may be fetched *now*: below its concurrency
limit, past its rate spacing, not held by ``Retry-After`` or a robots.txt back-off, not paused
while its robots.txt is fetched. A held host waits on a timer of its own, so however many URLs
it has, it never occupies a worker, and hosts take turns (round robin) in the ready queue.

Each host keeps at most ``cap`` URLs in memory; ``offer`` refuses more (the engine hands them
back to the on-disk frontier) and ``on_room`` says when a full host has drained to half, so
memory stays bounded by the crawl's window whatever the mix of hosts. A host with nothing
queued or in flight is evicted as soon as its spacing or hold has passed (``on_evict`` lets the
transport drop its cookies), so memory does not grow with the number of hosts seen.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

PAGE, SITEMAP = 0, 1


class Item:
    """One URL on its way through the engine (a redirect chain moves it from host to host)."""

    __slots__ = (
        "attempts",
        "depth",
        "final",
        "hops",
        "host",
        "kind",
        "origin",
        "seq",
        "timer",
        "tries",
        "url",
    )

    def __init__(
        self, seq: int | None, url: str, depth: int, host: str, origin: str, kind: int = PAGE
    ) -> None:
        self.seq = seq  # row in the state's frontier (None: a sitemap, not archived)
        self.url = url  # the URL of the current hop
        self.depth = depth
        self.host = host
        self.origin = origin
        self.kind = kind
        self.attempts = 0  # requests made for this URL, all hops
        self.tries = 0  # attempts at the current hop (the retry budget)
        self.hops: list[tuple] | None = None  # redirect responses so far (WARC record tuples)
        self.timer: asyncio.TimerHandle | None = None
        self.final = False


class HostSlot:
    """Per-host state: queue, limits, spacing, holds, and the robots.txt rules of its origins."""

    __slots__ = (
        "active",
        "cap",
        "held_until",
        "host",
        "in_ready",
        "interval",
        "limit",
        "next_start",
        "paused",
        "queue",
        "robots",
        "timer",
    )

    def __init__(self, host: str, limit: int, interval: float, cap: int) -> None:
        self.host = host
        self.queue: deque[Item] = deque()
        self.active = 0
        self.limit = limit
        self.interval = interval  # seconds between request starts (0: none)
        self.cap = cap
        self.next_start = 0.0
        self.held_until = 0.0
        self.in_ready = False
        self.paused = False
        self.timer: asyncio.TimerHandle | None = None
        self.robots: dict[str, object] = {}  # origin → robots entry (see robots.py)

    @property
    def size(self) -> int:
        return len(self.queue) + self.active

    def slow_down(self, interval: float) -> None:
        self.interval = max(self.interval, interval)


Limits = Callable[[str], tuple[int, float, int]]  # host → (concurrency, interval, cap)


class Scheduler:
    def __init__(
        self,
        limits: Limits,
        *,
        on_evict: Callable[[str], None] | None = None,
        on_room: Callable[[HostSlot], None] | None = None,
    ) -> None:
        self.limits = limits
        self.on_evict = on_evict
        self.on_room = on_room
        self.loop = asyncio.get_running_loop()
        self.slots: dict[str, HostSlot] = {}
        self.ready: asyncio.Queue[HostSlot | None] = asyncio.Queue()
        self.dispatched = 0

    # ------------------------------------------------------------------ adding URLs
    def slot(self, host: str) -> HostSlot:
        slot = self.slots.get(host)
        if slot is None:
            limit, interval, cap = self.limits(host)
            slot = self.slots[host] = HostSlot(host, limit, interval, cap)
        return slot

    def offer(self, item: Item) -> bool:
        """Queue ``item`` unless its host already holds ``cap`` URLs (then False)."""
        slot = self.slot(item.host)
        if slot.size >= slot.cap:
            return False
        slot.queue.append(item)
        self._wake(slot)
        return True

    def put(self, item: Item, *, front: bool = False) -> None:
        """Queue ``item`` whatever the cap (retries, redirect hops, URLs put back)."""
        slot = self.slot(item.host)
        if front:
            slot.queue.appendleft(item)
        else:
            slot.queue.append(item)
        self._wake(slot)

    # ------------------------------------------------------------------ holding hosts
    def hold(self, slot: HostSlot, seconds: float) -> None:
        """No request to this host for ``seconds`` (Retry-After, robots.txt back-off)."""
        slot.held_until = max(slot.held_until, self.loop.time() + seconds)

    def pause(self, slot: HostSlot) -> None:
        slot.paused = True

    def resume(self, slot: HostSlot) -> None:
        slot.paused = False
        self._wake(slot)

    def drain(self, slot: HostSlot) -> list[Item]:
        """Take every queued URL out of ``slot`` (a host given up on)."""
        items = list(slot.queue)
        slot.queue.clear()
        self._settle(slot)
        return items

    # ------------------------------------------------------------------ workers
    async def next(self) -> tuple[HostSlot, Item] | None:
        """The next URL that may be fetched now, and its host (None: stop)."""
        ready = self.ready
        while True:
            slot = await ready.get()
            if slot is None:
                return None
            slot.in_ready = False
            if slot.paused or not slot.queue or slot.active >= slot.limit:
                continue
            now = self.loop.time()
            if slot.next_start > now or slot.held_until > now:
                self._wake(slot)
                continue
            item = slot.queue.popleft()
            slot.active += 1
            if slot.interval:
                slot.next_start = now + slot.interval
            self.dispatched += 1
            self._wake(slot)
            return slot, item

    def release(self, slot: HostSlot) -> None:
        """A worker is done with a request to ``slot``'s host."""
        slot.active -= 1
        self._wake(slot)
        self._settle(slot)

    def stop(self, workers: int) -> None:
        for _ in range(workers):
            self.ready.put_nowait(None)

    def close(self) -> None:
        for slot in self.slots.values():
            if slot.timer is not None:
                slot.timer.cancel()
                slot.timer = None

    # ------------------------------------------------------------------ internals
    def _wake(self, slot: HostSlot) -> None:
        if slot.in_ready or slot.paused or not slot.queue or slot.active >= slot.limit:
            return
        start = slot.next_start if slot.next_start > slot.held_until else slot.held_until
        if start > self.loop.time():
            self._timer_at(slot, start)
            return
        slot.in_ready = True
        self.ready.put_nowait(slot)

    def _timer_at(self, slot: HostSlot, when: float) -> None:
        if slot.timer is None:
            slot.timer = self.loop.call_at(when, self._timer_fired, slot)

    def _timer_fired(self, slot: HostSlot) -> None:
        slot.timer = None
        self._wake(slot)
        self._settle(slot)

    def _settle(self, slot: HostSlot) -> None:
        """Tell the engine a full host has room again; evict a host that is idle for good."""
        if self.on_room is not None and slot.size <= slot.cap // 2:
            self.on_room(slot)
        if slot.queue or slot.active or slot.paused:
            return
        until = slot.next_start if slot.next_start > slot.held_until else slot.held_until
        if until > self.loop.time():
            self._timer_at(slot, until)  # keep its spacing or hold until they pass
            return
        if self.slots.get(slot.host) is slot:
            del self.slots[slot.host]
            if self.on_evict is not None:
                self.on_evict(slot.host)
