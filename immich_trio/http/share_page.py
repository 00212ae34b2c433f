"""The OpenGraph and Twitter tags of a shared link's page (``/share/<key>``, ``/s/<slug>``), put
into the web app's ``index.html`` where its ``<!-- metadata:tags -->`` marker is, as Immich's
server renders them: so that a link pasted into a chat shows the album's name, a count and a
picture. A link that is unknown, expired or has a password gets the page without tags.

Title: the album's name, else ``Public Share``; description: the link's own, else ``<n> shared
photos & videos``; image: the album's cover or the link's first asset, as the link's holder may
fetch it (``/api/assets/<id>/thumbnail?key=<key>``), else Immich's ``/feature-panel.png``, on
the configured external domain or the request's own origin. Values are written as Immich writes
them, with ``"``, ``<`` and ``>`` escaped so a name cannot leave its attribute.
"""

from __future__ import annotations

import base64
import re

from immich_trio import sysconfig
from immich_trio.http.credentials import resolve
from immich_trio.http.errors import HttpError
from immich_trio.runtime import Runtime
from immich_trio.sql import shared_links as q

MARKER = "<!-- metadata:tags -->"
_SHARE = re.compile(r"^share/([^/]+)$")
_SLUG = re.compile(r"^s/([^/]+)$")


def _attribute(value: str) -> str:
    return value.replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def render(index: str, title: str, description: str, image_url: str) -> str:
    title, description, image_url = _attribute(title), _attribute(description), _attribute(image_url)
    tags = f"""
    <meta name="description" content="{description}" />

    <!-- Facebook Meta Tags -->
    <meta property="og:type" content="website" />
    <meta property="og:title" content="{title}" />
    <meta property="og:description" content="{description}" />
    <meta property="og:image" content="{image_url}" />

    <!-- Twitter Meta Tags -->
    <meta name="twitter:card" content="summary_large_image" />
    <meta name="twitter:title" content="{title}" />
    <meta name="twitter:description" content="{description}" />

    <meta name="twitter:image" content="{image_url}" />"""
    return index.replace(MARKER, tags, 1)


async def tagged_index(runtime: Runtime, path: str, index: str, origin: str) -> str | None:
    """``index`` with the tags of the link ``path`` names, or None when it names none to show."""
    share, slug = _SHARE.match(path), _SLUG.match(path)
    if share is None and slug is None:
        return None
    query = {"key": share.group(1)} if share is not None else {"slug": slug.group(1) if slug else ""}
    try:
        auth = await resolve(runtime, {}, query)
    except HttpError:
        return None
    link = auth.shared_link if auth is not None else None
    if link is None or link.get("password"):
        return None
    async with runtime.pool.connection() as conn:
        preview = await q.link_preview(conn, link["id"])
        config = await sysconfig.load(conn, sysconfig.defaults_for(runtime.settings))
    if preview is None:
        return None
    key = base64.urlsafe_b64encode(bytes(link["key"])).decode().rstrip("=")
    image = f"/api/assets/{preview['cover']}/thumbnail?key={key}" if preview["cover"] else "/feature-panel.png"
    domain = (config.get("server") or {}).get("externalDomain") or origin
    return render(
        index,
        title=preview["albumName"] or "Public Share",
        description=preview["description"] or f"{preview['count']} shared photos & videos",
        image_url=domain.rstrip("/") + image,
    )
