"""Where the storage template puts an asset's original: ``<media>/library/<label or user id>/``
plus the rendered template, Immich's extension spelling, and ``+N`` when the name is taken."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime, tzinfo

import attrs

from immich_trio.storage.layout import LIBRARY
from immich_trio.storage.template import DATE_TOKENS, Node, TemplateError, render_template

# Immich writes one spelling per format (storage-template.service.ts getTemplatePath).
_EXTENSION_SPELLING = {"jpeg": "jpg", "jpe": "jpg", "tif": "tiff", "3gpp": "3gp", "mpeg": "mpg",
                       "mpe": "mpg", "m2ts": "mts", "m2t": "mts"}  # fmt: skip
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip
# What the npm package sanitize-filename removes, as Immich uses it.
_ILLEGAL = re.compile(r'[/?<>\\:*|"]')
_CONTROL = re.compile(r"[\x00-\x1f\x80-\x9f]")
_RESERVED = re.compile(r"^\.+$")
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_WINDOWS_TRAILING = re.compile(r"[. ]+$")
_DUPLICATE_SUFFIX = re.compile(r"^\+\d+$")
_MAX_NAME_BYTES = 255


def sanitize_filename(name: str) -> str:
    out = _ILLEGAL.sub("", name)
    out = _CONTROL.sub("", out)
    out = _RESERVED.sub("", out)
    out = _WINDOWS_RESERVED.sub("", out)
    out = _WINDOWS_TRAILING.sub("", out)
    return out.encode()[:_MAX_NAME_BYTES].decode(errors="ignore")


def format_date(moment: datetime, token: str) -> str:
    """``moment`` as luxon's ``toFormat(token)`` writes it, for the template's date tokens."""
    match token:
        case "y":
            return str(moment.year)
        case "yy":
            return f"{moment.year % 100:02d}"
        case "M" | "MM":
            return f"{moment.month:0{len(token)}d}"
        case "MMM":
            return _MONTHS[moment.month - 1][:3]
        case "MMMM":
            return _MONTHS[moment.month - 1]
        case "W" | "WW":
            return f"{moment.isocalendar().week:0{len(token)}d}"
        case "d" | "dd":
            return f"{moment.day:0{len(token)}d}"
        case "H" | "HH":
            return f"{moment.hour:0{len(token)}d}"
        case "h" | "hh":
            return f"{(moment.hour % 12) or 12:0{len(token)}d}"
        case "m" | "mm":
            return f"{moment.minute:0{len(token)}d}"
        case "s" | "ss":
            return f"{moment.second:0{len(token)}d}"
        case "SSS":
            return f"{moment.microsecond // 1000:03d}"
    raise ValueError(f"not a date token: {token}")


@attrs.frozen(kw_only=True)
class Album:
    name: str
    start: datetime | None
    end: datetime | None


@attrs.frozen(kw_only=True)
class TemplateAsset:
    """What the template reads of an asset (for a live photo's video: the still's dates, make
    and album, so both parts land in the same folder)."""

    id: str
    is_image: bool
    original_path: str
    file_created_at: datetime
    make: str | None = None
    model: str | None = None
    lens_model: str | None = None


def motion_filename(still_name: str, motion_path: str) -> str:
    """The name of a live photo's video: the still's stem with the video's extension."""
    return os.path.splitext(still_name)[0] + os.path.splitext(motion_path)[1]


def _values(asset: TemplateAsset, filename: str, extension: str, album: Album | None, zone: tzinfo) -> dict[str, str]:
    album_name = sanitize_filename(re.sub(r"\.+", "", album.name)) if album and album.name else ""
    values = {
        "filename": filename,
        "ext": extension,
        "filetype": "IMG" if asset.is_image else "VID",
        "filetypefull": "IMAGE" if asset.is_image else "VIDEO",
        "assetId": asset.id,
        "assetIdShort": asset.id[-12:],
        "album": album_name,
        "make": asset.make or "",
        "model": asset.model or "",
        "lensModel": asset.lens_model or "",
    }
    moment = asset.file_created_at.astimezone(zone)
    for token in DATE_TOKENS:
        values[token] = format_date(moment, token)
        if album and album.name:
            for edge, when in (("startDate", album.start), ("endDate", album.end)):
                values[f"album-{edge}-{token}"] = format_date(when.astimezone(zone), token) if when else ""
    return values


def library_root(media: str, owner_id: str, storage_label: str | None) -> str:
    return os.path.join(media, LIBRARY, storage_label or owner_id)


def template_destination(
    nodes: tuple[Node, ...],
    asset: TemplateAsset,
    *,
    filename: str,
    root: str,
    album: Album | None,
    zone: tzinfo,
    exists: Callable[[str], bool],
    source: str | None = None,
) -> str:
    """The path the template gives ``source`` (default: the asset's original), or ``source``
    itself when it is already there (``+N`` included), when the template cannot be rendered
    for it, or when the result would leave ``root``."""
    source = source or asset.original_path
    stem = os.path.splitext(os.path.basename(filename))[0]
    extension = os.path.splitext(source)[1].removeprefix(".")
    if stem.endswith(f".{extension}"):
        stem = stem[: -len(extension) - 1]
    extension = extension.lower()
    extension = _EXTENSION_SPELLING.get(extension, extension)
    try:
        rendered = render_template(nodes, _values(asset, sanitize_filename(stem), extension, album, zone))
    except TemplateError:
        return source
    rendered = re.sub(r"/{2,}", "/", rendered)
    full = os.path.normpath(os.path.join(root, rendered))
    if not full.startswith(root):
        return source
    destination = f"{full}.{extension}"
    if source == destination:
        return source
    if source.startswith(full) and source.endswith(f".{extension}"):
        if _DUPLICATE_SUFFIX.match(source[len(full) : -len(extension) - 1]):
            return source
    count = 0
    while exists(destination):
        count += 1
        destination = f"{full}+{count}.{extension}"
    return destination
