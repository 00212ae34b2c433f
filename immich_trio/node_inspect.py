"""Values printed as Node's ``console.dir`` prints them (``util.inspect`` defaults), for the
commands whose output Immich writes that way (``immich-admin list-users``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

BREAK_LENGTH = 80
_IDENTIFIER = re.compile(r"^[A-Za-z_$][\w$]*$")


def _string(text: str) -> str:
    if "'" not in text:
        return "'" + text.replace("\\", "\\\\").replace("\n", "\\n") + "'"
    quote = '"' if '"' not in text else "`"
    return quote + text.replace("\\", "\\\\").replace("\n", "\\n") + quote


def _date(value: datetime) -> str:
    utc = value.astimezone(UTC) if value.tzinfo else value
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime):
        return _date(value)
    return str(value)


def _key(name: str) -> str:
    return name if _IDENTIFIER.match(name) else _string(name)


def inspect(value: Any, indent: int = 0) -> str:
    """``value`` as Node shows it: short containers on one line, others one entry a line."""
    if isinstance(value, dict):
        entries = [f"{_key(str(k))}: {inspect(v, indent + 2)}" for k, v in value.items()]
        return _container("{", "}", entries, indent, spaced=True)
    if isinstance(value, list):
        return _container("[", "]", [inspect(v, indent + 2) for v in value], indent, spaced=False)
    return _scalar(value)


def _container(open_: str, close: str, entries: list[str], indent: int, *, spaced: bool) -> str:
    if not entries:
        return open_ + close
    one_line = ", ".join(entries)
    pad = " " if spaced else ""
    if "\n" not in one_line and indent + len(one_line) + 4 <= BREAK_LENGTH:
        return f"{open_}{pad}{one_line}{pad}{close}" if spaced else f"{open_} {one_line} {close}"
    inner = " " * (indent + 2)
    return open_ + "\n" + ",\n".join(inner + e for e in entries) + "\n" + " " * indent + close
