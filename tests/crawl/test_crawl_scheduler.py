"""The per-host scheduler on its own: a held host never reaches a worker, hosts take turns,
per-host caps hand URLs back, and idle hosts are evicted."""

from __future__ import annotations

import asyncio

from searchlab.crawl.scheduler import Item, Scheduler


def item(host: str, n: int) -> Item:
    url = f"http://{host}/p{n}"
    return Item(n, url, 0, host, f"http://{host}")


def limits(limit: int = 8, interval: float = 0.0, cap: int = 100):
    return lambda host: (limit, interval, cap)


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 10))


def test_a_held_host_never_reaches_a_worker_while_others_are_served():
    async def scenario():
        scheduler = Scheduler(limits())
        for n in range(5):
            scheduler.put(item("held.test", n))
            scheduler.put(item("free.test", n))
        # the first held.test URL is out when its host is told to wait (Retry-After: 30)
        slot, first = await scheduler.next()
        assert first.host == "held.test"
        scheduler.hold(slot, 30.0)
        scheduler.put(first, front=True)
        scheduler.release(slot)
        handed = []
        for _ in range(5):
            slot, got = await asyncio.wait_for(scheduler.next(), 1)
            handed.append(got.host)
            scheduler.release(slot)
        assert handed == ["free.test"] * 5  # no worker was given (or blocked on) held.test
        nothing = asyncio.ensure_future(scheduler.next())
        await asyncio.sleep(0.05)
        assert not nothing.done()  # only held.test is left, and it is held
        nothing.cancel()
        assert len(scheduler.slots["held.test"].queue) == 5
        scheduler.close()

    run(scenario())


def test_hosts_take_turns_and_a_host_stays_below_its_concurrency():
    async def scenario():
        scheduler = Scheduler(limits(limit=1))
        for host in ("a", "b", "c"):
            for n in range(3):
                scheduler.put(item(host, n))
        order = []
        out = []
        for _ in range(3):
            slot, got = await scheduler.next()
            order.append(got.host)
            out.append(slot)
        assert sorted(order) == ["a", "b", "c"]  # one of each: each host is at its limit
        blocked = asyncio.ensure_future(scheduler.next())
        await asyncio.sleep(0.02)
        assert not blocked.done()
        scheduler.release(out[1])
        slot, got = await asyncio.wait_for(blocked, 1)
        assert got.host == order[1]
        scheduler.close()

    run(scenario())


def test_a_full_host_refuses_more_and_says_when_it_has_room():
    async def scenario():
        rooms = []
        scheduler = Scheduler(limits(limit=2, cap=4), on_room=lambda slot: rooms.append(slot.size))
        assert all(scheduler.offer(item("h", n)) for n in range(4))
        assert not scheduler.offer(item("h", 4))  # the engine hands it back to the frontier
        for _ in range(2):
            slot, _got = await scheduler.next()
            scheduler.release(slot)
        assert rooms and rooms[-1] <= 2
        scheduler.close()

    run(scenario())


def test_idle_hosts_are_evicted_and_spacing_outlives_the_queue_until_it_passes():
    async def scenario():
        evicted = []
        scheduler = Scheduler(limits(interval=0.05), on_evict=evicted.append)
        for n in range(200):
            scheduler.put(item(f"h{n}.test", n))
        for _ in range(200):
            slot, _got = await scheduler.next()
            scheduler.release(slot)
        # every host was used once and must keep its 50 ms spacing, then it is forgotten
        assert len(scheduler.slots) == 200 and not evicted
        for _ in range(100):  # bounded wait for the spacing timers
            if not scheduler.slots:
                break
            await asyncio.sleep(0.01)
        assert scheduler.slots == {} and len(evicted) == 200

    run(scenario())
