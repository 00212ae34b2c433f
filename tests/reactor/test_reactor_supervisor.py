from __future__ import annotations

import functools

import pytest
import trio
from reactor_helpers import PINNED, Add, CrashingCounter, Explode, GetTotal, pinned_clock

from immich_trio.reactor import (
    Backoff,
    ChildKind,
    ChildState,
    Restart,
    RestartLimit,
    Supervisor,
    SupervisorEscalation,
    Unrecoverable,
)


async def failing(
    log: list[float], *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    log.append(trio.current_time())
    raise OSError("database unreachable")


async def starts_then_fails(
    log: list[float], *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    task_status.started()
    log.append(trio.current_time())
    raise OSError("database unreachable")


async def test_children_start_in_order(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    events: list[tuple[str, float]] = []

    async def slow_start(
        name: str, delay: float, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        events.append((f"{name} begins", trio.current_time()))
        if name == "db" and len(events) == 1:
            raise OSError("port in use")  # first attempt fails before started()
        await trio.sleep(delay)
        task_status.started()
        events.append((f"{name} ready", trio.current_time()))
        await trio.sleep_forever()

    async def migrate(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.sleep(1)  # a one-shot job: returning counts as started
        events.append(("migrations done", trio.current_time()))

    sup = Supervisor("root")
    sup.add_task("db", functools.partial(slow_start, "db", 2))
    sup.add_task("migrate", migrate, restart=Restart.TRANSIENT)
    sup.add_task("http", functools.partial(slow_start, "http", 0.5))
    start = trio.current_time()
    await nursery.start(sup.run)
    assert [(what, t - start) for what, t in events] == [
        ("db begins", 0),
        ("db begins", 0.1),  # retried after backoff; nothing else started meanwhile
        ("db ready", 2.1),
        ("migrations done", 3.1),
        ("http begins", 3.1),
        ("http ready", 3.6),
    ]
    status = sup.snapshot()
    assert status.state is ChildState.RUNNING
    assert status.find("db").restarts == 1
    assert [(c.name, c.state) for c in status.children] == [
        ("db", ChildState.RUNNING),
        ("migrate", ChildState.STOPPED),
        ("http", ChildState.RUNNING),
    ]
    await sup.shutdown()
    assert sup.snapshot().state is ChildState.STOPPED


async def test_backoff_delays_are_exact(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    log: list[float] = []
    sup = Supervisor("root", limit=RestartLimit(max_restarts=100, window=1000))
    sup.add_task("flaky", functools.partial(failing, log), backoff=Backoff(cap=1.0))
    start = trio.current_time()
    nursery.start_soon(sup.run)
    await trio.sleep(4)
    assert [round(t - start, 9) for t in log] == [0, 0.1, 0.3, 0.7, 1.5, 2.5, 3.5]
    flaky = sup.snapshot().find("flaky")
    assert (flaky.state, flaky.restarts) == (
        ChildState.BACKING_OFF,
        7,
    )  # 7th run failed at 3.5, next at 4.5
    await sup.shutdown()


async def test_escalates_after_the_restart_limit(autojump_clock: trio.abc.Clock) -> None:
    log: list[float] = []
    stopped: list[float] = []

    async def bystander(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            stopped.append(trio.current_time())

    sup = Supervisor("media", limit=RestartLimit(max_restarts=3, window=60))
    sup.add_task("bystander", bystander)
    sup.add_task("flaky", functools.partial(failing, log))
    start = trio.current_time()
    with pytest.raises(SupervisorEscalation) as info:
        await sup.run()
    assert [round(t - start, 9) for t in log] == [0, 0.1, 0.3, 0.7]
    assert [round(t - start, 9) for t in stopped] == [0.7]  # siblings stopped, not leaked
    esc = info.value
    assert (esc.supervisor, esc.child, esc.restarts) == ("media", "flaky", 3)
    assert isinstance(esc.error, OSError)
    assert esc.__cause__ is esc.error
    assert str(esc) == "media/flaky gave up after 3 restarts: OSError: database unreachable"
    status = sup.snapshot()
    assert status.state is ChildState.FAILED
    assert status.find("flaky").state is ChildState.FAILED
    assert status.find("bystander").state is ChildState.STOPPED


async def test_failures_spread_wider_than_the_window_do_not_escalate(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    runs: list[float] = []

    async def fails_after_a_while(
        *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        runs.append(trio.current_time())
        task_status.started()
        await trio.sleep(10)
        raise RuntimeError("lost connection")

    sup = Supervisor("root", limit=RestartLimit(max_restarts=1, window=5))
    sup.add_task("poller", fails_after_a_while)
    start = trio.current_time()
    await nursery.start(sup.run)
    await trio.sleep(40)
    # Each restart is alone in its 5 s window: no escalation, and backoff stays at 0.1 s.
    assert [round(t - start, 9) for t in runs] == [0, 10.1, 20.2, 30.3]
    assert sup.snapshot().state is ChildState.RUNNING
    await sup.shutdown()


@pytest.mark.parametrize(
    ("policy", "error", "expected_runs", "final_state"),
    [
        (Restart.PERMANENT, False, 3, ChildState.BACKING_OFF),
        (Restart.TRANSIENT, False, 1, ChildState.STOPPED),
        (Restart.TRANSIENT, True, 3, ChildState.BACKING_OFF),
        (Restart.TEMPORARY, True, 1, ChildState.FAILED),
    ],
)
async def test_restart_policies(
    autojump_clock: trio.abc.Clock,
    nursery: trio.Nursery,
    policy: Restart,
    error: bool,
    expected_runs: int,
    final_state: ChildState,
) -> None:
    runs: list[float] = []

    async def job(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        runs.append(trio.current_time())
        task_status.started()
        if error:
            raise KeyError("boom")

    sup = Supervisor("root", backoff=Backoff(initial=1, factor=1))
    sup.add_task("job", job, restart=policy)
    await nursery.start(sup.run)
    await trio.sleep(2.5)
    assert len(runs) == expected_runs
    assert sup.snapshot().find("job").state is final_state
    await sup.shutdown()


async def test_crashed_child_error_appears_in_the_snapshot(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    log: list[float] = []
    sup = Supervisor("root", wall_clock=pinned_clock)
    counter = CrashingCounter(name="counter")
    addr = sup.add_actor(counter)
    sup.add_task("flaky", functools.partial(starts_then_fails, log), backoff=Backoff(initial=5))
    await trio.sleep(3)
    nursery.start_soon(sup.run)
    await trio.sleep(1)
    flaky = sup.snapshot().find("flaky")
    assert flaky.kind is ChildKind.TASK
    assert flaky.state is ChildState.BACKING_OFF
    assert flaky.restarts == 1
    assert flaky.last_error is not None
    assert (flaky.last_error.type, flaky.last_error.message) == (
        "OSError",
        "database unreachable",
    )
    assert flaky.last_error.when == log[0]
    assert flaky.last_error.timestamp == PINNED.isoformat()

    addr.send_nowait(Add(value=5))  # handed straight to the waiting actor
    addr.send_nowait(Add(value=1))  # buffered until the actor comes back for it
    await trio.sleep(0.01)
    as_dict = sup.snapshot().to_dict()
    assert as_dict["name"] == "root"
    assert as_dict["kind"] == "supervisor"
    assert as_dict["state"] == "running"
    actor = as_dict["children"][0]
    assert actor == {
        "name": "counter",
        "kind": "actor",
        "state": "running",
        "restarts": 0,
        "last_error": None,
        "inbox": {"depth": 0, "capacity": 2, "peak": 1},
        "handled": 2,
        "failed": 0,
        "in_flight": 0,
        "extra": {},
    }
    assert as_dict["children"][1]["last_error"] == {
        "type": "OSError",
        "message": "database unreachable",
        "when": log[0],
        "timestamp": "2024-05-17T12:30:00+00:00",
    }
    await sup.shutdown()


async def test_address_keeps_working_across_an_actor_restart(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    sup = Supervisor("root", wall_clock=pinned_clock)
    counter = CrashingCounter(name="counter")
    addr = sup.add_actor(counter)
    await nursery.start(sup.run)
    await addr.send(Add(value=1))
    await addr.send(Explode(reason="bad state"))
    await addr.send(Add(value=2))  # buffered while the actor restarts
    await trio.sleep(0.05)
    node = sup.snapshot().find("counter")
    assert (node.state, node.restarts, node.failed) == (ChildState.BACKING_OFF, 1, 1)
    assert node.last_error is not None and node.last_error.message == "bad state"
    assert node.inbox is not None and node.inbox.depth == 1
    with trio.fail_after(1):
        total: int = await addr.ask(lambda r: GetTotal(reply_to=r))
    # Same instance, run again: setup() ran twice and the buffered message was not lost.
    assert total == 3
    assert (counter.setups, counter.teardowns) == (2, 1)
    node = sup.snapshot().find("counter")
    assert (node.state, node.restarts, node.handled, node.failed) == (
        ChildState.RUNNING,
        1,
        3,
        1,
    )
    await sup.shutdown()


async def test_shutdown_stops_in_reverse_order_and_cancels_stragglers_at_the_deadline(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    stopped: list[tuple[str, float]] = []

    async def polite(
        name: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            stopped.append((name, trio.current_time()))

    async def stubborn(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(2)  # a slow but bounded cleanup
            stopped.append(("stubborn", trio.current_time()))

    sup = Supervisor("root")
    sup.add_task("first", functools.partial(polite, "first"))
    counter = CrashingCounter(name="counter")
    addr = sup.add_actor(counter)
    sup.add_task("stubborn", stubborn)
    sup.add_task("last", functools.partial(polite, "last"))
    await nursery.start(sup.run)
    never = trio.Event()
    from reactor_helpers import Hold  # an actor message that never finishes

    await addr.send(Hold(release=never))
    start = trio.current_time()
    await sup.shutdown(deadline=start + 5)
    assert [(name, t - start) for name, t in stopped] == [
        ("last", 0),
        ("stubborn", 2),  # cancellation is how a task is asked to stop
        ("first", 5),  # reached only at the deadline: then cancelled at once
    ]
    assert trio.current_time() == start + 5
    status = sup.snapshot()
    assert status.state is ChildState.STOPPED
    assert {c.name: c.state for c in status.children} == dict.fromkeys(
        ["first", "counter", "stubborn", "last"], ChildState.STOPPED
    )
    assert counter.teardowns == 1
    assert status.find("counter").in_flight == 0


async def test_nested_supervisor_escalation_restarts_the_group(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    log: list[float] = []
    inner = Supervisor("media", limit=RestartLimit(max_restarts=1, window=60))
    inner.add_task("flaky", functools.partial(failing, log))
    outer = Supervisor("root", wall_clock=pinned_clock, backoff=Backoff(initial=10))
    outer.add_supervisor(inner)
    start = trio.current_time()
    nursery.start_soon(outer.run)
    await trio.sleep(12)
    # inner: fail, restart after 0.1, fail, escalate; outer restarts inner 10 s later.
    assert [round(t - start, 9) for t in log] == [0, 0.1, 10.1, 10.2]
    status = outer.snapshot()
    media = status.find("media")
    assert media.kind is ChildKind.SUPERVISOR
    assert (media.state, media.restarts) == (ChildState.BACKING_OFF, 2)
    assert media.last_error is not None
    assert media.last_error.type == "SupervisorEscalation"
    assert media.last_error.timestamp == PINNED.isoformat()
    assert status.find("media", "flaky").state is ChildState.FAILED
    assert status.to_dict()["children"][0]["children"][0]["name"] == "flaky"
    await outer.shutdown()
    assert outer.snapshot().find("media").state is ChildState.STOPPED


async def test_shutdown_during_startup_cancels_the_child_still_starting(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    started: list[str] = []

    async def hangs(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.sleep_forever()

    async def later(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        started.append("later")
        task_status.started()

    sup = Supervisor("root")
    sup.add_task("hangs", hangs)
    sup.add_task("later", later)
    nursery.start_soon(sup.run)
    await trio.sleep(1)
    assert sup.snapshot().state is ChildState.STARTING
    assert sup.snapshot().find("hangs").state is ChildState.STARTING
    start = trio.current_time()
    await sup.shutdown(deadline=start + 30)
    assert trio.current_time() == start
    assert started == []
    assert sup.snapshot().find("hangs").state is ChildState.STOPPED
    assert sup.snapshot().state is ChildState.STOPPED


async def test_unrecoverable_escalates_at_once_and_never_reports_started(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    runs: list[float] = []

    async def refuses(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        runs.append(trio.current_time())
        raise Unrecoverable("schema of another version")

    sup = Supervisor("root", limit=RestartLimit(max_restarts=1000, window=60))
    sup.add_task("migrations", refuses)
    with pytest.raises(SupervisorEscalation) as info:
        await nursery.start(sup.run)
    assert len(runs) == 1  # no restart: retrying cannot help
    assert isinstance(info.value.error, Unrecoverable)
    assert info.value.restarts == 0
