"""Storage templates: parsing, rendering, and whether Immich accepts one.

Immich compiles the template with Handlebars in strict mode and renders it once for a sample
asset in an album; any syntax error, unknown variable or unbalanced block makes the update of
the system config fail with 400 ``Invalid storage template``. This handles the subset of
Handlebars a storage template uses: ``{{variable}}`` (HTML-escaped, as Handlebars does),
``{{{variable}}}``, comments, and ``{{#if x}}``/``{{#unless x}}`` blocks with ``{{else}}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

__all__ = [
    "DATE_TOKENS",
    "TemplateError",
    "is_valid_template",
    "names_album",
    "parse_template",
    "render_template",
    "sample_values",
]

DATE_TOKENS = ("d", "dd", "W", "WW", "M", "MM", "MMM", "MMMM", "y", "yy",
               "h", "hh", "H", "HH", "s", "ss", "SSS", "m", "mm")  # fmt: skip
ALBUM_DATE_VARIABLES = tuple(f"album-{edge}-{token}" for edge in ("startDate", "endDate") for token in DATE_TOKENS)
VARIABLES = frozenset(
    {"filename", "ext", "filetype", "filetypefull", "assetId", "assetIdShort", "album",
     "make", "model", "lensModel", *DATE_TOKENS, *ALBUM_DATE_VARIABLES}
)  # fmt: skip
_BLOCK_HELPERS = frozenset({"if", "unless"})
_MUSTACHE = re.compile(r"\{\{(\{?)(.*?)\}?\}\}", re.DOTALL)
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;",
                          "`": "&#x60;", "=": "&#x3D;"})  # fmt: skip


class TemplateError(ValueError):
    """A template Handlebars would not compile, or a variable missing when rendering."""


@attrs.frozen
class Text:
    text: str


@attrs.frozen
class Variable:
    name: str
    escaped: bool


@attrs.frozen
class Block:
    helper: str  # "if" or "unless"
    name: str
    then: tuple[Node, ...]
    otherwise: tuple[Node, ...]


Node = Text | Variable | Block


@attrs.define
class _Open:
    helper: str
    name: str
    then: list[Node] = attrs.Factory(list)
    otherwise: list[Node] | None = None

    def body(self) -> list[Node]:
        return self.then if self.otherwise is None else self.otherwise


def parse_template(template: str) -> tuple[Node, ...]:
    """The template's nodes; raises TemplateError where Handlebars fails to compile it.
    Names are checked when rendering reaches them, as Handlebars' strict mode does."""
    if "{{" in _MUSTACHE.sub("", template) or "}}" in _MUSTACHE.sub("", template):
        raise TemplateError("an unclosed or stray mustache")
    root: list[Node] = []
    stack: list[_Open] = []
    position = 0

    def current() -> list[Node]:
        return stack[-1].body() if stack else root

    for match in _MUSTACHE.finditer(template):
        if match.start() > position:
            current().append(Text(template[position : match.start()]))
        position = match.end()
        triple, body = match.group(1), match.group(2).strip()
        if triple and not match.group(0).endswith("}}}"):
            raise TemplateError("an unbalanced triple mustache")
        if body.startswith("!"):
            continue
        if triple:
            current().append(Variable(body, escaped=False))
        elif body.startswith("#"):
            helper, _, argument = body[1:].partition(" ")
            if helper not in _BLOCK_HELPERS:
                raise TemplateError(f"unknown helper {helper}")
            stack.append(_Open(helper, argument.strip()))
        elif body.startswith("/"):
            if not stack or stack[-1].helper != body[1:].strip():
                raise TemplateError(f"{body} does not close a block")
            done = stack.pop()
            current().append(Block(done.helper, done.name, tuple(done.then), tuple(done.otherwise or ())))
        elif body == "else":
            if not stack or stack[-1].otherwise is not None:
                raise TemplateError("else outside a block")
            stack[-1].otherwise = []
        else:
            current().append(Variable(body, escaped=True))
    if stack:
        raise TemplateError(f"{{{{#{stack[-1].helper}}}}} is not closed")
    if position < len(template):
        root.append(Text(template[position:]))
    return tuple(root)


def render_template(nodes: tuple[Node, ...], values: Mapping[str, str]) -> str:
    """The text of ``nodes`` with ``values``; a variable without a value raises TemplateError
    (Handlebars' strict mode), but only where rendering reaches it."""
    out: list[str] = []
    for node in nodes:
        match node:
            case Text(text=text):
                out.append(text)
            case Variable(name=name, escaped=escaped):
                if name not in values:
                    raise TemplateError(f'"{name}" not defined')
                out.append(values[name].translate(_ESCAPES) if escaped else values[name])
            case Block(helper=helper, name=name, then=then, otherwise=otherwise):
                if name not in values:
                    raise TemplateError(f'"{name}" not defined')
                truthy = bool(values[name])
                out.append(render_template(then if truthy == (helper == "if") else otherwise, values))
    return "".join(out)


def names_album(nodes: tuple[Node, ...]) -> bool:
    """Whether rendering may read the asset's album (its name or its dates)."""
    for node in nodes:
        match node:
            case Variable(name=name) if name.startswith("album"):
                return True
            case Block(name=name, then=then, otherwise=otherwise):
                if name.startswith("album") or names_album(then) or names_album(otherwise):
                    return True
    return False


def sample_values() -> dict[str, str]:
    """Every variable with a value, as Immich's validation renders (an asset in an album)."""
    return {name: "x" for name in VARIABLES}


def is_valid_template(template: str) -> bool:
    """Whether Immich would compile and render ``template`` without an error."""
    try:
        render_template(parse_template(template), sample_values())
    except TemplateError:
        return False
    return True
