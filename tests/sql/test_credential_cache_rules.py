"""The credential cache's rules on Trio's MockClock: the LRU bound, expiry, holds while a
change commits, and nothing stored across a change heard meanwhile."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from immich_trio.sql.credential_cache import PENDING_HOLD, TTL, CredentialCache


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def _listening(cache: CredentialCache[str]) -> CredentialCache[str]:
    cache._listening = True  # what ``run`` sets once LISTEN is in place
    return cache


async def test_answers_only_while_listening(autojump_clock: trio.testing.MockClock) -> None:
    cache: CredentialCache[str] = CredentialCache()
    cache.put(b"k", "u1", "v", cache.generation)
    assert cache.get(b"k") is None
    _listening(cache).put(b"k", "u1", "v", cache.generation)
    assert cache.get(b"k") == "v"


async def test_entries_expire(autojump_clock: trio.testing.MockClock) -> None:
    cache = _listening(CredentialCache())
    cache.put(b"k", "u1", "v", cache.generation)
    await trio.sleep(TTL - 1)
    assert cache.get(b"k") == "v"
    await trio.sleep(1)
    assert cache.get(b"k") is None


async def test_size_is_bounded_least_recently_used_first(autojump_clock: trio.testing.MockClock) -> None:
    cache = _listening(CredentialCache(max_entries=2))
    cache.put(b"a", "u1", "a", cache.generation)
    cache.put(b"b", "u2", "b", cache.generation)
    assert cache.get(b"a") == "a"
    cache.put(b"c", "u3", "c", cache.generation)
    assert (cache.get(b"a"), cache.get(b"b"), cache.get(b"c")) == ("a", None, "c")
    assert cache.statistics().entries == 2


async def test_a_change_heard_during_a_look_up_wins(autojump_clock: trio.testing.MockClock) -> None:
    cache = _listening(CredentialCache())
    started = cache.generation
    cache.heard("u1 other-process.1")  # committed while the look-up read the old row
    cache.put(b"k", "u1", "stale", started)
    assert cache.get(b"k") is None


async def test_a_change_is_dropped_and_held_until_heard(autojump_clock: trio.testing.MockClock) -> None:
    cache = _listening(CredentialCache())
    cache.put(b"k", "u1", "v", cache.generation)
    cache.put(b"other", "u2", "w", cache.generation)
    cache.hold("u1", "t1")
    assert cache.get(b"k") is None
    assert cache.get(b"other") == "w"
    cache.put(b"k", "u1", "read before the commit", cache.generation)
    assert cache.get(b"k") is None
    cache.heard("u1 t1")
    cache.put(b"k", "u1", "fresh", cache.generation)
    assert cache.get(b"k") == "fresh"


async def test_a_hold_that_is_never_heard_lapses(autojump_clock: trio.testing.MockClock) -> None:
    cache = _listening(CredentialCache())
    cache.hold("u1", "rolled-back")
    await trio.sleep(PENDING_HOLD)
    cache.put(b"k", "u1", "v", cache.generation)
    assert cache.get(b"k") == "v"
