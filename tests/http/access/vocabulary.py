"""The words the access matrix's rows are written in: a ``Row`` (operation, target, request,
expected ``Outcome`` per actor), the outcomes (``ok``, ``refused``, ``no_access``, ``FORBIDDEN``),
how an actor a row leaves out gets its outcome (``outcome_of``: the link variants and the expired
link), and the rule templates the row modules share (``asset_read``, ``own_row``, ``album_rule``...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from tests.http.access.world import (
    ACTORS,
    DERIVED_FROM,
    EXTRA_ACTORS,
    LINK_AUTH_FAILURES,
    LOCKED_ACTORS,
    PASSWORD_LOCKED,
    World,
)

Check = Callable[[World, Any], bool]
Request = tuple[str, str, Any]  # method, path (with query), JSON body or None


@attrs.frozen
class Outcome:
    status: int
    message: str | None = None  # refusals: the exact message
    check: Check | None = None  # allowed: what the body must show

    @property
    def refused(self) -> bool:
        return self.message is not None


def ok(status: int = 200, check: Check | None = None) -> Outcome:
    return Outcome(status, check=check)


def refused(status: int, message: str) -> Outcome:
    return Outcome(status, message)


def no_access(permission: str) -> Outcome:
    return refused(400, f"Not found or no {permission} access")


FORBIDDEN = refused(403, "Forbidden")


@attrs.frozen(kw_only=True)
class Row:
    op: str
    target: Callable[[World], str]
    request: Callable[[World, str], Request]
    expect: Mapping[str, Outcome]
    asset: bool = True  # the locked actors apply (their target is the locked photo)


def outcome_of(row: Row, actor: str) -> Outcome:
    """What ``actor`` gets on ``row``: its own entry, the rule of its failing key, or the default."""
    if actor in LINK_AUTH_FAILURES:
        return refused(*LINK_AUTH_FAILURES[actor])
    if actor in PASSWORD_LOCKED:
        link = outcome_of(row, "album_link")
        return link if link == FORBIDDEN else refused(401, "Password required")
    if actor in row.expect:
        return row.expect[actor]
    return row.expect[DERIVED_FROM[actor]]


def actors_of(row: Row) -> tuple[str, ...]:
    return (*ACTORS, *(LOCKED_ACTORS if row.asset else ()), *EXTRA_ACTORS)


def photo(w: World) -> str:
    return w.photo


def video(w: World) -> str:
    return w.video


def _same(template: Mapping[str, Outcome], **changes: Outcome) -> dict[str, Outcome]:
    return {**template, **changes}


def shows(w: World, body: Any, target: str) -> bool:
    return isinstance(body, dict) and body.get("id") == target


# -- expectation templates ------------------------------------------------------------------


def asset_read(permission: str, *, links: bool) -> dict[str, Outcome]:
    """owner, partner and album members see it; links too when the route admits them."""
    link = ok() if links else FORBIDDEN
    return {
        "owner": ok(), "other": no_access(permission), "admin": no_access(permission),
        "partner": ok(), "album_viewer": ok(), "album_link": link, "asset_link": link,
        "locked": no_access(permission), "locked_elevated": ok(),
    }


FILE_REFUSED = refused(404, "Not Found")


def file_route(template: Mapping[str, Outcome]) -> dict[str, Outcome]:
    """File endpoints answer every failure, a refusal included, with a bare 404 (behaviour.md §2)."""
    return {
        actor: FILE_REFUSED if o.refused and o.status == 400 else o for actor, o in template.items()
    }


def asset_owner_only(permission: str, status: int = 200) -> dict[str, Outcome]:
    return {
        "owner": ok(status), "other": no_access(permission), "admin": no_access(permission),
        "partner": no_access(permission), "album_viewer": no_access(permission),
        "album_link": FORBIDDEN, "asset_link": FORBIDDEN,
        "locked": no_access(permission), "locked_elevated": ok(status),
    }


def own_row(status: int, refusal: Outcome) -> dict[str, Outcome]:
    """Rows of the owner's own (sessions, API keys): nobody else, no link."""
    return {
        "owner": ok(status), "other": refusal, "admin": refusal, "partner": refusal,
        "album_viewer": refusal, "album_link": FORBIDDEN, "asset_link": FORBIDDEN,
    }


def admin_only(status: int = 200) -> dict[str, Outcome]:
    return {actor: (ok(status) if actor == "admin" else FORBIDDEN) for actor in ACTORS}


def timeline(permission: str) -> dict[str, Outcome]:
    return {
        "owner": ok(), "other": no_access(permission), "admin": no_access(permission),
        "partner": ok(), "album_viewer": no_access(permission),
        "album_link": no_access(permission), "asset_link": no_access(permission),
    }


# -- the world's album (albums, downloads, activities, search) ---------------------------------


def _album(w: World) -> str:
    return w.album


def album_rule(permission: str, status: int = 200, *, viewer: bool = False, links: bool = False) -> dict[str, Outcome]:
    """The owner (and the viewer for reads); links only on the routes that admit them."""
    refusal = no_access(permission)
    return {
        "owner": ok(status), "other": refusal, "admin": refusal, "partner": refusal,
        "album_viewer": ok(status) if viewer else refusal,
        "album_link": ok(status) if links else FORBIDDEN,
        "asset_link": refusal if links else FORBIDDEN,
    }
