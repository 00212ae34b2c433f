"""Small actors and a pinned wall clock shared by the reactor tests."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import trio

from immich_trio.reactor import Actor, ReplyTo

PINNED = datetime(2024, 5, 17, 12, 30, tzinfo=UTC)


def pinned_clock() -> datetime:
    return PINNED


@attrs.frozen(kw_only=True)
class Add:
    value: int


@attrs.frozen(kw_only=True)
class Explode:
    reason: str


@attrs.frozen(kw_only=True)
class GetTotal:
    reply_to: ReplyTo[int]


@attrs.frozen(kw_only=True)
class Divide:
    by: int
    reply_to: ReplyTo[float]


@attrs.frozen(kw_only=True)
class Hold:
    """Keep the handler busy until ``release`` is set."""

    release: trio.Event


@attrs.frozen(kw_only=True)
class TotalWhenReleased:
    release: trio.Event
    reply_to: ReplyTo[int]


CounterMsg = Add | Explode | GetTotal | Divide | Hold | TotalWhenReleased


class Counter(Actor[CounterMsg]):
    """Owns a running total; survives bad messages unless ``crash_on_error`` says otherwise."""

    inbox_capacity = 2

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.total = 0
        self.setups = 0
        self.teardowns = 0

    async def setup(self) -> None:
        self.setups += 1

    async def teardown(self) -> None:
        self.teardowns += 1

    async def handle(self, msg: CounterMsg) -> None:
        match msg:
            case Add(value=value):
                self.total += value
            case Explode(reason=reason):
                raise ValueError(reason)
            case GetTotal(reply_to=reply_to):
                reply_to.send(self.total)
            case Divide(by=0, reply_to=reply_to):
                reply_to.fail(ZeroDivisionError("cannot divide by zero"))
            case Divide(by=by, reply_to=reply_to):
                if by < 0:
                    raise ArithmeticError(f"negative divisor {by}")
                reply_to.send(self.total / by)
            case Hold(release=release):
                await release.wait()
            case TotalWhenReleased(release=release, reply_to=reply_to):
                await release.wait()
                reply_to.send(self.total)


class CrashingCounter(Counter):
    crash_on_error = True
