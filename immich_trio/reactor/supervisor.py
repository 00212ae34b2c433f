"""Supervisors: start children in order, restart them with backoff, escalate, shut down."""

from __future__ import annotations

import math
from typing import Any, TypeVar

import trio

from .actor import Actor
from .address import Address
from .child import ActorChild, Child, SupervisorEscalation, TaskChild, TaskFunction
from .policy import DEFAULT_SHUTDOWN_GRACE, Backoff, Restart, RestartLimit
from .status import ChildKind, ChildState, NodeStatus, WallClock, utc_now

Msg = TypeVar("Msg")


class Supervisor:
    """Owns an ordered list of children (actors, tasks, supervisors) and keeps them running.

    ``run`` starts the children one after the other, each only once the previous one called
    ``task_status.started()`` (or returned), then calls its own ``started``. A child whose run
    ends is restarted according to its ``Restart`` policy after an exponential ``Backoff``
    on the Trio clock; past its ``RestartLimit`` the supervisor stops the others and raises
    ``SupervisorEscalation``, so a parent supervisor can restart the whole group.
    ``shutdown`` stops children in reverse order: actors finish their buffered and in-flight
    messages, tasks and nested supervisors are cancelled / shut down, and whatever is still
    running at the deadline is cancelled. Cancelling ``run`` itself cancels everything at once.
    """

    def __init__(
        self,
        name: str,
        *,
        backoff: Backoff | None = None,
        limit: RestartLimit | None = None,
        shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
        wall_clock: WallClock | None = None,
    ) -> None:
        self.name = name
        self.backoff = backoff or Backoff()
        self.limit = limit or RestartLimit()
        self.shutdown_grace = shutdown_grace
        self._wall_clock = wall_clock
        self._children: list[Child] = []
        self._state = ChildState.STOPPED
        self._stop_requested = trio.Event()
        self._finished = trio.Event()
        self._finished.set()
        self._stop_deadline = math.inf
        self._startup_scope: trio.CancelScope | None = None
        self._escalation: SupervisorEscalation | None = None

    @property
    def wall_clock(self) -> WallClock:
        return self._wall_clock or utc_now

    def adopt_wall_clock(self, wall_clock: WallClock) -> None:
        if self._wall_clock is None:
            self._wall_clock = wall_clock
            for child in self._children:
                if isinstance(child, ActorChild):
                    child.actor.adopt_wall_clock(wall_clock)
                elif isinstance(child, _SupervisorChild):
                    child.supervisor.adopt_wall_clock(wall_clock)

    # -- building the tree -------------------------------------------------------------

    def _policy(
        self, restart: Restart, backoff: Backoff | None, limit: RestartLimit | None
    ) -> dict[str, Any]:
        return {
            "restart": restart,
            "backoff": backoff or self.backoff,
            "limit": limit or self.limit,
        }

    def _add(self, child: Child) -> None:
        if any(existing.name == child.name for existing in self._children):
            raise ValueError(f"supervisor {self.name!r} already has a child {child.name!r}")
        if not self._finished.is_set():
            raise RuntimeError("children are added before the supervisor runs")
        self._children.append(child)

    def add_actor(
        self,
        actor: Actor[Msg],
        *,
        restart: Restart = Restart.PERMANENT,
        backoff: Backoff | None = None,
        limit: RestartLimit | None = None,
    ) -> Address[Msg]:
        if self._wall_clock is not None:
            actor.adopt_wall_clock(self._wall_clock)
        self._add(ActorChild(actor, **self._policy(restart, backoff, limit)))
        return actor.address

    def add_task(
        self,
        name: str,
        fn: TaskFunction,
        *,
        restart: Restart = Restart.PERMANENT,
        backoff: Backoff | None = None,
        limit: RestartLimit | None = None,
    ) -> None:
        self._add(TaskChild(name, fn, **self._policy(restart, backoff, limit)))

    def add_supervisor(
        self,
        supervisor: Supervisor,
        *,
        restart: Restart = Restart.PERMANENT,
        backoff: Backoff | None = None,
        limit: RestartLimit | None = None,
    ) -> Supervisor:
        if self._wall_clock is not None:
            supervisor.adopt_wall_clock(self._wall_clock)
        self._add(_SupervisorChild(supervisor, **self._policy(restart, backoff, limit)))
        return supervisor

    # -- running -----------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        if not self._finished.is_set():
            raise RuntimeError(f"supervisor {self.name!r} is already running")
        self._finished = trio.Event()
        self._stop_requested = trio.Event()
        self._stop_deadline = math.inf
        self._escalation = None
        self._state = ChildState.STARTING
        try:
            async with trio.open_nursery() as nursery:
                with trio.CancelScope() as self._startup_scope:
                    for child in self._children:
                        if self._stop_requested.is_set():
                            break
                        await nursery.start(self._keep, child)
                self._startup_scope = None
                if not self._stop_requested.is_set():
                    self._state = ChildState.RUNNING
                if self._escalation is None:
                    # A tree that gave up while starting never says it started: the caller's
                    # ``nursery.start`` raises the escalation instead.
                    task_status.started()
                await self._stop_requested.wait()
                await self._stop_children()
            if self._escalation is not None:
                self._state = ChildState.FAILED
                raise self._escalation from self._escalation.error
        finally:
            if self._state is not ChildState.FAILED:
                self._state = ChildState.STOPPED
            self._finished.set()

    async def _keep(self, child: Child, *, task_status: trio.TaskStatus[None]) -> None:
        await child.keep(
            supervisor=self.name,
            wall_clock=self.wall_clock,
            escalate=self._escalate,
            task_status=task_status,
        )

    def _escalate(self, escalation: SupervisorEscalation) -> None:
        if self._escalation is None:
            self._escalation = escalation
        self.request_stop(trio.current_time() + self.shutdown_grace)

    def request_stop(self, deadline: float) -> None:
        """Begin a graceful stop that must be over by ``deadline`` (Trio time); no wait."""
        self._stop_deadline = min(self._stop_deadline, deadline)
        self._stop_requested.set()
        if self._startup_scope is not None:
            # A child still starting is a straggler by definition.
            self._startup_scope.cancel()

    async def shutdown(self, *, deadline: float | None = None) -> None:
        """Stop gracefully and wait until ``run`` has returned.

        ``deadline`` is a Trio time; by default ``shutdown_grace`` seconds from now.
        """
        if deadline is None:
            deadline = trio.current_time() + self.shutdown_grace
        self.request_stop(deadline)
        await self._finished.wait()

    async def _stop_children(self) -> None:
        for child in reversed(self._children):
            if child.stopped.is_set():
                continue
            child.request_stop(self._stop_deadline)
            with trio.move_on_at(self._stop_deadline):
                await child.stopped.wait()
            if not child.stopped.is_set():
                child.cancel()
                await child.stopped.wait()

    # -- status ------------------------------------------------------------------------

    def snapshot(self) -> NodeStatus:
        return self._status(self._state, 0, None)

    def _status(self, state: ChildState, restarts: int, child: Child | None) -> NodeStatus:
        return NodeStatus(
            name=self.name,
            kind=ChildKind.SUPERVISOR,
            state=state,
            restarts=restarts,
            last_error=None if child is None else child.last_error,
            children=tuple(c.status() for c in self._children),
        )


class _SupervisorChild(Child):
    kind = ChildKind.SUPERVISOR

    def __init__(self, supervisor: Supervisor, **policy: Any) -> None:
        super().__init__(supervisor.name, **policy)
        self.supervisor = supervisor

    async def run_once(self, task_status: Any) -> None:
        await self.supervisor.run(task_status=task_status)

    def stop_gracefully(self, deadline: float) -> None:
        self.supervisor.request_stop(deadline)

    def status(self) -> NodeStatus:
        return self.supervisor._status(self.state, self.restarts, self)
