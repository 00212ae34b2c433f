"""One supervised child: its restart loop (the keeper) and its entry in the status tree."""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from .actor import Actor
from .policy import Backoff, Restart, RestartLimit
from .status import ChildKind, ChildState, ErrorInfo, NodeStatus, WallClock, latest_error

TaskFunction = Callable[..., Awaitable[object]]
"""``async def fn(*, task_status=trio.TASK_STATUS_IGNORED)``; bind other arguments first."""


class SupervisorEscalation(Exception):
    """A child failed more often than its restart limit allows; raised out of its supervisor."""

    def __init__(self, supervisor: str, child: str, error: BaseException | None, restarts: int):
        self.supervisor = supervisor
        self.child = child
        self.error = error
        self.restarts = restarts
        what = "exited" if error is None else f"{type(error).__name__}: {error}"
        super().__init__(f"{supervisor}/{child} gave up after {restarts} restarts: {what}")


class Unrecoverable(Exception):
    """Raised by a child when running it again cannot help (a database of a schema version this
    server does not speak): its supervisor escalates at once instead of restarting it."""


class _StartedSignal:
    """A ``trio.TaskStatus`` that reports ``started()`` to the keeper instead of a nursery."""

    def __init__(self, on_started: Callable[[], None]) -> None:
        self._on_started = on_started
        self.called = False

    def started(self, value: object = None) -> None:
        if self.called:
            raise RuntimeError("task_status.started() called twice")
        self.called = True
        self._on_started()


class Child:
    """Base of the three kinds of child; subclasses say how to run once and how to stop."""

    kind: ChildKind

    def __init__(
        self, name: str, *, restart: Restart, backoff: Backoff, limit: RestartLimit
    ) -> None:
        self.name = name
        self.restart = restart
        self.backoff = backoff
        self.limit = limit
        self.state = ChildState.STOPPED
        self.restarts = 0
        self.last_error: ErrorInfo | None = None
        self.stop_requested = False
        self.stopped = trio.Event()
        self.stopped.set()  # not running yet; keep() replaces it for each run
        self._scope: trio.CancelScope | None = None

    async def run_once(self, task_status: Any) -> None:
        raise NotImplementedError

    def stop_gracefully(self, deadline: float) -> None:
        """Ask a running child to finish; by default, cancel it."""
        self.cancel()

    def cancel(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    def request_stop(self, deadline: float) -> None:
        self.stop_requested = True
        if self.state is ChildState.RUNNING:
            self.stop_gracefully(deadline)
        else:  # starting or backing off: nothing to finish, so stop now
            self.cancel()

    def status(self) -> NodeStatus:
        return NodeStatus(
            name=self.name,
            kind=self.kind,
            state=self.state,
            restarts=self.restarts,
            last_error=self.last_error,
        )

    async def keep(
        self,
        *,
        supervisor: str,
        wall_clock: WallClock,
        escalate: Callable[[SupervisorEscalation], None],
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run the child, restarting it per policy; ``started`` after its first start."""
        self.stop_requested = False
        self.stopped = trio.Event()
        restart_times: collections.deque[float] = collections.deque()
        reported = False

        def report_started() -> None:
            nonlocal reported
            if not reported:
                reported = True
                task_status.started()

        def on_started() -> None:
            self.state = ChildState.RUNNING
            report_started()

        try:
            with trio.CancelScope() as self._scope:
                while not self.stop_requested:
                    self.state = ChildState.STARTING
                    error: Exception | None = None
                    try:
                        await self.run_once(_StartedSignal(on_started))
                    except Exception as exc:
                        error = exc
                        self.last_error = ErrorInfo.capture(exc, wall_clock)
                    if error is None:
                        # A run that returned without started() (a one-shot job) counts as
                        # started, so the next sibling waits for it to finish. One that
                        # raised before started() is retried before any sibling starts.
                        report_started()
                    if self.stop_requested:
                        break
                    if self.restart is Restart.TEMPORARY or (
                        error is None and self.restart is Restart.TRANSIENT
                    ):
                        self.state = ChildState.STOPPED if error is None else ChildState.FAILED
                        report_started()
                        return
                    now = trio.current_time()
                    while restart_times and restart_times[0] <= now - self.limit.window:
                        restart_times.popleft()
                    if isinstance(error, Unrecoverable) or len(restart_times) >= self.limit.max_restarts:
                        self.state = ChildState.FAILED
                        escalate(SupervisorEscalation(supervisor, self.name, error, self.restarts))
                        report_started()
                        return
                    delay = self.backoff.delay(len(restart_times))
                    restart_times.append(now)
                    self.restarts += 1
                    self.state = ChildState.BACKING_OFF
                    await trio.sleep(delay)
            self.state = ChildState.STOPPED
            report_started()  # stopped on request before it ever started
        finally:
            self._scope = None
            if self.state is not ChildState.FAILED:
                self.state = ChildState.STOPPED
            self.stopped.set()


class TaskChild(Child):
    kind = ChildKind.TASK

    def __init__(self, name: str, fn: TaskFunction, **policy: Any) -> None:
        super().__init__(name, **policy)
        self.fn = fn

    async def run_once(self, task_status: Any) -> None:
        await self.fn(task_status=task_status)


class ActorChild(Child):
    kind = ChildKind.ACTOR

    def __init__(self, actor: Actor[Any], **policy: Any) -> None:
        super().__init__(actor.name, **policy)
        self.actor = actor

    async def run_once(self, task_status: Any) -> None:
        await self.actor.run(task_status=task_status)

    def stop_gracefully(self, deadline: float) -> None:
        self.actor.request_stop()

    def status(self) -> NodeStatus:
        stats = self.actor.statistics()
        return NodeStatus(
            name=self.name,
            kind=self.kind,
            state=self.state,
            restarts=self.restarts,
            last_error=latest_error(self.last_error, stats.last_error),
            inbox=stats.inbox,
            handled=stats.handled,
            failed=stats.failed,
            in_flight=stats.in_flight,
            extra=self.actor.extra_status(),
        )
