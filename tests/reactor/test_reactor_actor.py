from __future__ import annotations

import attrs
import trio
from reactor_helpers import PINNED, Add, Counter, Explode, GetTotal, Hold, pinned_clock

from immich_trio.reactor import Actor, ErrorInfo


@attrs.frozen(kw_only=True)
class Work:
    seconds: float


class Pool(Actor[Work]):
    """Handles three messages at once."""

    inbox_capacity = 0
    concurrency = 3

    def __init__(self) -> None:
        super().__init__(name="pool")
        self.finished_at: list[float] = []

    async def handle(self, msg: Work) -> None:
        await trio.sleep(msg.seconds)
        self.finished_at.append(trio.current_time())

    def extra_status(self) -> dict[str, object]:
        return {"finished": len(self.finished_at)}


async def test_concurrency_bounds_work_in_flight(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    pool = Pool()
    await nursery.start(pool.run)
    start = trio.current_time()

    async def producer() -> None:
        for _ in range(5):
            await pool.address.send(Work(seconds=1))

    nursery.start_soon(producer)
    await trio.sleep(0.5)
    stats = pool.statistics()
    assert (stats.in_flight, stats.handled) == (3, 0)
    await trio.sleep(2)
    assert [t - start for t in pool.finished_at] == [1, 1, 1, 2, 2]
    stats = pool.statistics()
    assert (stats.in_flight, stats.handled, stats.concurrency) == (0, 5, 3)
    assert pool.extra_status() == {"finished": 5}


async def test_a_bad_message_is_counted_and_recorded_and_the_actor_goes_on(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    counter = Counter(wall_clock=pinned_clock)
    await nursery.start(counter.run)
    await trio.sleep(7)
    await counter.address.send(Explode(reason="corrupt JPEG"))
    await counter.address.send(Add(value=2))
    assert await counter.address.ask(lambda r: GetTotal(reply_to=r)) == 2
    stats = counter.statistics()
    assert (stats.handled, stats.failed, stats.in_flight) == (2, 1, 0)
    assert stats.last_error == ErrorInfo(
        type="ValueError",
        message="corrupt JPEG",
        when=trio.current_time(),
        timestamp=PINNED.isoformat(),
    )
    assert stats.last_error.timestamp == "2024-05-17T12:30:00+00:00"


async def test_request_stop_drains_the_inbox_then_tears_down(
    autojump_clock: trio.abc.Clock,
) -> None:
    counter = Counter()
    release = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(counter.run)
        await counter.address.send(Hold(release=release))
        await counter.address.send(Add(value=1))
        await counter.address.send(Add(value=2))
        counter.request_stop()
        await trio.sleep(1)
        assert counter.teardowns == 0  # Hold is still in flight
        release.set()
    assert counter.total == 3
    assert (counter.setups, counter.teardowns) == (1, 1)
    assert counter.address.statistics().depth == 0
