"""Whether a storage template is one Immich accepts.

Immich compiles the template with Handlebars in strict mode and renders it once for a sample
asset in an album; any syntax error, unknown variable or unbalanced block makes the update of
the system config fail with 400 ``Invalid storage template``. This checks the same things for
the subset of Handlebars a storage template uses: ``{{variable}}``, ``{{{variable}}}``,
comments, and ``{{#if x}}``/``{{#unless x}}`` blocks with ``{{else}}``.
"""

from __future__ import annotations

import re

__all__ = ["DATE_TOKENS", "is_valid_template"]

DATE_TOKENS = ("d", "dd", "W", "WW", "M", "MM", "MMM", "MMMM", "y", "yy",
               "h", "hh", "H", "HH", "s", "ss", "SSS", "m", "mm")  # fmt: skip
_VARIABLES = frozenset(
    {"filename", "ext", "filetype", "filetypefull", "assetId", "assetIdShort", "album",
     "make", "model", "lensModel", *DATE_TOKENS}
    | {f"album-{edge}-{token}" for edge in ("startDate", "endDate") for token in DATE_TOKENS}
)  # fmt: skip
_BLOCK_HELPERS = frozenset({"if", "unless"})
_MUSTACHE = re.compile(r"\{\{(\{?)(.*?)\}?\}\}", re.DOTALL)


def _known(name: str) -> bool:
    return name.strip() in _VARIABLES


def is_valid_template(template: str) -> bool:
    """Whether Immich would compile and render ``template`` without an error."""
    open_blocks: list[str] = []
    rest = _MUSTACHE.sub("", template)
    if "{{" in rest or "}}" in rest:  # an unclosed or stray mustache
        return False
    for match in _MUSTACHE.finditer(template):
        triple, body = match.group(1), match.group(2).strip()
        if triple and not match.group(0).endswith("}}}"):
            return False
        if body.startswith("!"):
            continue
        if triple:
            if not _known(body):
                return False
        elif body.startswith("#"):
            helper, _, argument = body[1:].partition(" ")
            if helper not in _BLOCK_HELPERS or not _known(argument):
                return False
            open_blocks.append(helper)
        elif body.startswith("/"):
            if not open_blocks or open_blocks.pop() != body[1:].strip():
                return False
        elif body == "else":
            if not open_blocks:
                return False
        elif not _known(body):
            return False
    return not open_blocks
