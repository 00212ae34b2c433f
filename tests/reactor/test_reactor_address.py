from __future__ import annotations

import pytest
import trio
import trio.lowlevel
from reactor_helpers import Add, Counter, Divide, Explode, GetTotal, Hold, TotalWhenReleased

from immich_trio.reactor import AskFailed


async def test_full_inbox_makes_send_wait_and_send_nowait_raise(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    counter = Counter()  # not running yet: nobody drains the inbox
    addr = counter.address
    addr.send_nowait(Add(value=1))
    await addr.send(Add(value=2))
    assert addr.statistics().depth == 2
    with pytest.raises(trio.WouldBlock):
        addr.send_nowait(Add(value=3))

    with trio.move_on_after(5) as scope:
        await addr.send(Add(value=3))
    assert scope.cancelled_caught  # still waiting after 5 s: backpressure
    assert addr.statistics().depth == 2

    sent_at: list[float] = []

    async def late_sender() -> None:
        await addr.send(Add(value=3))
        sent_at.append(trio.current_time())

    start = trio.current_time()
    nursery.start_soon(late_sender)
    await trio.sleep(1)
    assert sent_at == []
    await nursery.start(counter.run)  # the consumer frees room: the sender proceeds
    await trio.lowlevel.checkpoint()
    total: int = await addr.ask(lambda reply_to: GetTotal(reply_to=reply_to))
    assert sent_at == [start + 1]
    assert total == 6
    stats = addr.statistics()
    assert (stats.depth, stats.capacity, stats.peak) == (0, 2, 2)


async def test_ask_returns_the_answer(nursery: trio.Nursery) -> None:
    counter = Counter()
    await nursery.start(counter.run)
    await counter.address.send(Add(value=9))
    with trio.fail_after(1):
        half: float = await counter.address.ask(lambda r: Divide(by=2, reply_to=r))
    assert half == 4.5


async def test_ask_raises_what_the_actor_failed_with(nursery: trio.Nursery) -> None:
    counter = Counter()
    await nursery.start(counter.run)
    with trio.fail_after(1), pytest.raises(ZeroDivisionError, match="cannot divide by zero"):
        await counter.address.ask(lambda r: Divide(by=0, reply_to=r))
    # A deliberate fail() is an answer, not a failure of the actor.
    assert counter.statistics().failed == 0
    assert counter.statistics().handled == 1


async def test_ask_fails_cleanly_when_the_handler_raises(nursery: trio.Nursery) -> None:
    counter = Counter()
    await nursery.start(counter.run)
    with trio.fail_after(1), pytest.raises(AskFailed) as info:
        await counter.address.ask(lambda r: Divide(by=-3, reply_to=r))
    assert isinstance(info.value.error, ArithmeticError)
    assert str(info.value.error) == "negative divisor -3"
    assert info.value.actor == "Counter"
    # The actor survives and keeps answering.
    await counter.address.send(Add(value=4))
    assert await counter.address.ask(lambda r: GetTotal(reply_to=r)) == 4
    stats = counter.statistics()
    assert (stats.handled, stats.failed) == (2, 1)


async def test_ask_fails_when_the_actor_is_cancelled_mid_message(
    autojump_clock: trio.abc.Clock,
) -> None:
    counter = Counter()
    failures: list[AskFailed] = []

    async def asker() -> None:
        try:
            await counter.address.ask(lambda r: TotalWhenReleased(release=trio.Event(), reply_to=r))
        except AskFailed as exc:
            failures.append(exc)

    async with trio.open_nursery() as nursery:
        actor_scope = trio.CancelScope()

        async def run_actor(task_status: trio.TaskStatus[None]) -> None:
            with actor_scope:
                await counter.run(task_status=task_status)

        await nursery.start(run_actor)
        nursery.start_soon(asker)
        await trio.sleep(1)
        assert counter.statistics().in_flight == 1
        actor_scope.cancel()
    assert len(failures) == 1
    assert failures[0].error is None
    assert str(failures[0]) == "actor 'Counter' stopped before replying"
    assert counter.teardowns == 1


async def test_ask_deadline_is_set_by_the_caller(autojump_clock: trio.abc.Clock) -> None:
    counter = Counter()  # never runs
    start = trio.current_time()
    with pytest.raises(trio.TooSlowError):
        with trio.fail_after(3):
            await counter.address.ask(lambda r: GetTotal(reply_to=r))
    assert trio.current_time() == start + 3


async def test_answer_after_the_asker_left_is_dropped(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    counter = Counter()
    release = trio.Event()
    await counter.address.send(Hold(release=release))
    with trio.move_on_after(1):
        await counter.address.ask(lambda r: GetTotal(reply_to=r))
    await nursery.start(counter.run)
    release.set()
    await counter.address.send(Explode(reason="after"))
    await counter.address.send(Add(value=1))
    assert await counter.address.ask(lambda r: GetTotal(reply_to=r)) == 1
    stats = counter.statistics()
    assert (stats.handled, stats.failed) == (4, 1)
