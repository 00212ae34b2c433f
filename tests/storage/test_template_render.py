"""Storage templates rendered for an asset, as Immich's Handlebars and luxon write them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from immich_trio.storage.template import TemplateError, parse_template, render_template
from immich_trio.storage.template_path import (
    Album,
    TemplateAsset,
    format_date,
    motion_filename,
    sanitize_filename,
    template_destination,
)

ASSET = TemplateAsset(
    id="d587e44b-f8c0-4832-9ba3-43268bbf5d4e", is_image=True, original_path="/m/upload/u/ab/cd/x.JPG",
    file_created_at=datetime(2024, 3, 9, 23, 5, 7, 42000, tzinfo=UTC), make="FUJIFILM", model=None,
)  # fmt: skip


def destination(
    template: str, *, taken: frozenset[str] = frozenset(), album: Album | None = None, zone: str = "UTC"
) -> str:
    return template_destination(
        parse_template(template), ASSET, filename="IMG_1.JPG", root="/m/library/u",
        album=album, zone=ZoneInfo(zone), exists=lambda p: p in taken,
    )  # fmt: skip


def test_date_tokens_as_luxon_writes_them() -> None:
    moment = datetime(2024, 3, 9, 23, 5, 7, 42000, tzinfo=UTC)
    got = {t: format_date(moment, t) for t in ("y", "yy", "M", "MM", "MMM", "MMMM", "d", "dd", "W", "WW",
                                                "h", "hh", "H", "HH", "m", "mm", "s", "ss", "SSS")}  # fmt: skip
    assert got == {"y": "2024", "yy": "24", "M": "3", "MM": "03", "MMM": "Mar", "MMMM": "March", "d": "9",
                   "dd": "09", "W": "10", "WW": "10", "h": "11", "hh": "11", "H": "23", "HH": "23",
                   "m": "5", "mm": "05", "s": "7", "ss": "07", "SSS": "042"}  # fmt: skip


def test_the_default_template_in_the_server_zone_with_immichs_extension() -> None:
    assert destination("{{y}}/{{y}}-{{MM}}-{{dd}}/{{filename}}") == "/m/library/u/2024/2024-03-09/IMG_1.jpg"
    # the same instant is already the 10th in Berlin
    assert destination("{{y}}-{{MM}}-{{dd}}/{{filename}}", zone="Europe/Berlin") == "/m/library/u/2024-03-10/IMG_1.jpg"


def test_collisions_count_up_and_a_plus_n_source_stays() -> None:
    taken = frozenset({"/m/library/u/2024/IMG_1.jpg", "/m/library/u/2024/IMG_1+1.jpg"})
    assert destination("{{y}}/{{filename}}", taken=taken) == "/m/library/u/2024/IMG_1+2.jpg"


def test_variables_escaping_and_blocks() -> None:
    album = Album(name="Rock & Roll...", start=datetime(2023, 12, 31, tzinfo=UTC), end=None)
    template = "{{#if album}}{{album-startDate-y}}/{{album}}{{else}}none{{/if}}/{{{make}}}-{{model}}-{{assetIdShort}}"
    assert destination(template, album=album) == "/m/library/u/2023/Rock &amp; Roll/FUJIFILM--43268bbf5d4e.jpg"
    assert destination(template) == "/m/library/u/none/FUJIFILM--43268bbf5d4e.jpg"


def test_a_template_that_fails_for_this_asset_or_escapes_the_root_leaves_it() -> None:
    # album dates exist only for an asset in an album (strict mode throws: no move)
    assert destination("{{album-startDate-y}}/{{filename}}") == ASSET.original_path
    climb = "/".join([".."] * 2)  # a template that climbs out of the user's library folder
    assert destination(climb + "/{{filename}}") == ASSET.original_path


def test_names() -> None:
    assert sanitize_filename('a/b:c*?"<>|d. ') == "abcd"
    assert sanitize_filename("..") == ""
    assert motion_filename("IMG_0002.HEIC", "/x/y/abc.MOV") == "IMG_0002.MOV"


def test_unknown_names_raise_only_where_rendering_reaches_them() -> None:
    nodes = parse_template("{{#if album}}{{album}}{{else}}{{nope}}{{/if}}")
    assert render_template(nodes, {"album": "A"}) == "A"
    with pytest.raises(TemplateError):
        render_template(nodes, {"album": ""})
