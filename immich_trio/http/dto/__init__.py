"""Wire DTOs: attrs classes with snake_case fields, camelCase on the wire through one converter.

A field whose value is ``OMIT`` is left out of the JSON, as Immich leaves out ``undefined``
properties; ``None`` is written as ``null``. Datetimes are written as Immich's
``YYYY-MM-DDTHH:mm:ss.sssZ``. A field's wire name can be forced with
``attrs.field(metadata={"wire": "name"})``.
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, date, datetime
from types import NoneType, UnionType
from typing import Any, Final, TypeVar, Union, get_args, get_origin
from uuid import UUID

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override


class _Omit(enum.Enum):
    OMIT = "OMIT"

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Final = _Omit.OMIT

_T = TypeVar("_T")
_D = TypeVar("_D")


def value_or(value: _T | _Omit, default: _D) -> _T | _D:
    """A request field's value, or ``default`` when the key was absent (``OMIT``)."""
    return default if isinstance(value, _Omit) else value


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def iso_z(value: datetime) -> str:
    """Immich's JSON date form: UTC with milliseconds and a ``Z``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if value.year >= 1000:  # isoformat is ~10x faster; below 1000 it would not pad the year
        return value.isoformat(timespec="milliseconds")[:-6] + "Z"
    # not strftime: glibc's %Y writes year 1 as "1"; toISOString always writes four digits
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}"
        f":{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


class SqlJsonDatetime(datetime):
    """A date-time that PostgreSQL wrote into JSON it aggregated (``to_json``), written back
    in that text form (``2024-01-15T10:30:00.123+00:00``): Immich does not re-parse rows it
    aggregates in SQL, so their dates keep it (docs/reference/behaviour.md §6)."""

    text: str

    @classmethod
    def parse(cls, text: str) -> SqlJsonDatetime:
        value = cls.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        value.text = text
        return value


converter = cattrs.Converter()
converter.register_unstructure_hook(SqlJsonDatetime, lambda value: value.text)
converter.register_unstructure_hook(datetime, iso_z)
converter.register_unstructure_hook(date, lambda d: d.isoformat())
converter.register_unstructure_hook(UUID, str)
converter.register_structure_hook(UUID, lambda v, _: UUID(str(v)))


def _parse_datetime(value: Any, _: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


converter.register_structure_hook(datetime, _parse_datetime)
converter.register_structure_hook(date, lambda v, _: v if isinstance(v, date) else date.fromisoformat(v))


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, UnionType)


def _structure_union(value: Any, tp: Any) -> Any:
    """``X | _Omit`` is ``X`` on the wire (an absent key never reaches here); ``X | None`` is
    ``X`` or ``null``; a union of several types (the spec's ``anyOf``) takes the first option
    that structures, in the spec's order (the request was checked against the spec first)."""
    options = [a for a in get_args(tp) if a is not _Omit]
    if value is None and NoneType in options:
        return None
    options = [a for a in options if a is not NoneType]
    if len(options) == 1:
        return converter.structure(value, options[0])
    errors: list[Exception] = []
    for option in options:
        try:
            return converter.structure(value, option)
        except Exception as exc:  # the next option may fit
            errors.append(exc)
    raise cattrs.errors.BaseValidationError("no option of the union fits", errors, tp)


converter.register_structure_hook_func(_is_union, _structure_union)


def _wire_name(a: attrs.Attribute[Any]) -> str:
    return str(a.metadata.get("wire", camel(a.name)))


# Immich writes some DTOs' keys in its class's order, not the spec's (alphabetical) one.
_KEY_ORDER: dict[type, tuple[str, ...]] = {}


def key_order(cls: type, *names: str) -> None:
    """Write ``cls``'s fields in this order (every field named once), as Immich does.

    Call at import time, next to the builder of ``cls``: the order is read when the converter
    first meets the class."""
    if sorted(names) != sorted(a.name for a in attrs.fields(cls)):
        raise ValueError(f"key_order({cls.__name__}) must name each field once")
    _KEY_ORDER[cls] = names


# Fast paths of the converter for the values most fields hold (exact types only: subclasses
# such as SqlJsonDatetime or str enums still go through the converter). Building a reply of
# 250 assets spent two thirds of its time dispatching these through cattrs.
_PLAIN: frozenset[type] = frozenset((str, int, float, bool, NoneType))
_DIRECT: dict[type, Any] = {datetime: iso_z, UUID: str}


def _make_unstructure(cls: type) -> Any:
    by_name = {a.name: a for a in attrs.fields(cls)}
    order = _KEY_ORDER.get(cls, tuple(by_name))
    fields = [(name, _wire_name(by_name[name])) for name in order]
    unstructure = converter.unstructure
    plain = _PLAIN
    direct = _DIRECT

    def unstructure_dto(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, wire in fields:
            value = getattr(obj, name)
            if value is OMIT:
                continue
            kind = type(value)
            if kind in plain:
                out[wire] = value
            elif kind in direct:
                out[wire] = direct[kind](value)
            else:
                out[wire] = unstructure(value)
        return out

    return unstructure_dto


def _make_structure(cls: type) -> Any:
    overrides = {a.name: override(rename=_wire_name(a)) for a in attrs.fields(cls)}
    return make_dict_structure_fn(cls, converter, **overrides)  # type: ignore[arg-type]


converter.register_unstructure_hook_factory(attrs.has, _make_unstructure)
converter.register_structure_hook_factory(attrs.has, _make_structure)


def to_wire(obj: Any) -> Any:
    """The JSON-ready form of a DTO, a list of DTOs, or plain data."""
    return converter.unstructure(obj)


def dumps(obj: Any) -> bytes:
    return json.dumps(to_wire(obj), separators=(",", ":"), ensure_ascii=False).encode()


def from_wire(cls: type[Any], data: Any) -> Any:
    return converter.structure(data, cls)


# The per-id outcomes belong to no one tag (albums, tags, memories, people, duplicates and
# shared links all answer with them), so their order is set here, where every handler that
# writes one has already passed: Immich's zod schemas declare id, success, error, errorMessage.
from immich_trio.http.dto import generated as _generated  # noqa: E402  (generated imports this module)

key_order(_generated.BulkIdResponseDto, "id", "success", "error", "error_message")
key_order(_generated.AssetIdsResponseDto, "asset_id", "success", "error")
