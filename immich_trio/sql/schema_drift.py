"""Schema drift: the differences between the catalogue our migrations create (the source) and
a live database's (the target), as Immich's sql-tools names and words them, with SQL that
would bring the database back in line.

A changed column type, constraint, index or trigger is a drop followed by a create, as
Immich reports it; a changed nullability or default is a ``ColumnAlter``.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from immich_trio.sql.schema_catalogue import Catalogue

CONSTRAINT_TYPES = {
    "p": "PRIMARY KEY",
    "f": "FOREIGN KEY",
    "u": "UNIQUE",
    "c": "CHECK",
    "x": "EXCLUDE",
}

# Drops before creates, so the SQL runs top to bottom (a changed column is dropped, then added).
ORDER = (
    "TriggerDrop",
    "IndexDrop",
    "ConstraintDrop",
    "ColumnDrop",
    "TableDrop",
    "FunctionDrop",
    "EnumDrop",
    "EnumCreate",
    "FunctionCreate",
    "TableCreate",
    "ColumnAdd",
    "ColumnAlter",
    "ConstraintAdd",
    "IndexCreate",
    "TriggerCreate",
)


@attrs.frozen
class DriftItem:
    type: str  # one of ORDER
    human: str
    sql: tuple[str, ...]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_sql(name: str, column: dict[str, Any]) -> str:
    text = f"{_q(name)} {column['type']}"
    if not column["nullable"]:
        text += " NOT NULL"
    if column["default"] is not None:
        text += f" DEFAULT {column['default']}"
    return text


def _table_create(name: str, table: dict[str, Any]) -> list[DriftItem]:
    columns = ", ".join(_column_sql(c, spec) for c, spec in table["columns"].items())
    items = [
        DriftItem(
            "TableCreate",
            f'The table "{name}" is missing and needs to be created',
            (f"CREATE TABLE {_q(name)} ({columns});",),
        )
    ]
    items += [_constraint_add(name, c, spec) for c, spec in table["constraints"].items()]
    items += [_index_create(name, i, spec) for i, spec in table["indexes"].items()]
    items += [_trigger_create(name, t, spec) for t, spec in table["triggers"].items()]
    return items


def _column_add(table: str, name: str, column: dict[str, Any]) -> DriftItem:
    return DriftItem(
        "ColumnAdd",
        f'The column "{table}"."{name}" is missing and needs to be created',
        (f"ALTER TABLE {_q(table)} ADD {_column_sql(name, column)};",),
    )


def _column_drop(table: str, name: str) -> DriftItem:
    return DriftItem(
        "ColumnDrop",
        f'The column "{table}"."{name}" exists but should be removed',
        (f"ALTER TABLE {_q(table)} DROP COLUMN {_q(name)};",),
    )


def _column_alter(table: str, name: str, changes: dict[str, Any], sql: str) -> DriftItem:
    return DriftItem(
        "ColumnAlter",
        f'The column "{table}"."{name}" has changes that need to be applied '
        + json.dumps(changes, separators=(",", ":")),
        (f"ALTER TABLE {_q(table)} ALTER COLUMN {_q(name)} {sql};",),
    )


def _constraint_add(table: str, name: str, spec: dict[str, str]) -> DriftItem:
    kind = CONSTRAINT_TYPES.get(spec["type"], spec["type"])
    return DriftItem(
        "ConstraintAdd",
        f'The constraint "{table}"."{name}" ({kind}) is missing and needs to be created',
        (f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {spec['definition']};",),
    )


def _constraint_drop(table: str, name: str) -> DriftItem:
    return DriftItem(
        "ConstraintDrop",
        f'The constraint "{table}"."{name}" exists but should be removed',
        (f"ALTER TABLE {_q(table)} DROP CONSTRAINT {_q(name)};",),
    )


def _index_create(table: str, name: str, definition: str) -> DriftItem:
    return DriftItem(
        "IndexCreate",
        f'The index "{table}"."{name}" is missing and needs to be created',
        (definition + ";",),
    )


def _index_drop(name: str) -> DriftItem:
    return DriftItem(
        "IndexDrop",
        f'The index "{name}" exists but is no longer needed',
        (f"DROP INDEX {_q(name)};",),
    )


def _trigger_create(table: str, name: str, definition: str) -> DriftItem:
    return DriftItem(
        "TriggerCreate",
        f'The trigger "{table}"."{name}" is missing and needs to be created',
        (definition + ";",),
    )


def _trigger_drop(table: str, name: str) -> DriftItem:
    return DriftItem(
        "TriggerDrop",
        f'The trigger "{table}"."{name}" exists but is no longer needed',
        (f"DROP TRIGGER {_q(name)} ON {_q(table)};",),
    )


def _compare_columns(table: str, source: dict[str, Any], target: dict[str, Any]) -> list[DriftItem]:
    items: list[DriftItem] = []
    for name, column in source.items():
        live = target.get(name)
        if live is None:
            items.append(_column_add(table, name, column))
        elif live["type"] != column["type"]:
            items += [_column_drop(table, name), _column_add(table, name, column)]
        else:
            if live["nullable"] != column["nullable"]:
                sql = "DROP NOT NULL" if column["nullable"] else "SET NOT NULL"
                items.append(_column_alter(table, name, {"nullable": column["nullable"]}, sql))
            if live["default"] != column["default"]:
                default = column["default"]
                sql = "DROP DEFAULT" if default is None else f"SET DEFAULT {default}"
                changes = {} if default is None else {"default": default}
                items.append(_column_alter(table, name, changes, sql))
    items += [_column_drop(table, name) for name in target if name not in source]
    return items


def _compare_table(name: str, source: dict[str, Any], target: dict[str, Any]) -> list[DriftItem]:
    items = _compare_columns(name, source["columns"], target["columns"])
    for key, spec in source["constraints"].items():
        if target["constraints"].get(key) != spec:
            if key in target["constraints"]:
                items.append(_constraint_drop(name, key))
            items.append(_constraint_add(name, key, spec))
    items += [
        _constraint_drop(name, key)
        for key in target["constraints"]
        if key not in source["constraints"]
    ]
    for key, definition in source["indexes"].items():
        if target["indexes"].get(key) != definition:
            if key in target["indexes"]:
                items.append(_index_drop(key))
            items.append(_index_create(name, key, definition))
    items += [_index_drop(key) for key in target["indexes"] if key not in source["indexes"]]
    for key, definition in source["triggers"].items():
        if target["triggers"].get(key) != definition:
            if key in target["triggers"]:
                items.append(_trigger_drop(name, key))
            items.append(_trigger_create(name, key, definition))
    items += [
        _trigger_drop(name, key) for key in target["triggers"] if key not in source["triggers"]
    ]
    return items


def _function_name(signature: str) -> str:
    return signature.partition("(")[0]


def _compare_routines(source: Catalogue, target: Catalogue) -> list[DriftItem]:
    items: list[DriftItem] = []
    for signature, definition in source["functions"].items():
        if target["functions"].get(signature) != definition:
            human = f'The function "{_function_name(signature)}" is missing and needs to be created'
            items.append(DriftItem("FunctionCreate", human, (definition.rstrip() + ";",)))
    for signature in target["functions"]:
        if signature not in source["functions"]:
            human = f'The function "{_function_name(signature)}" exists but should be removed'
            items.append(DriftItem("FunctionDrop", human, (f"DROP FUNCTION {signature};",)))
    for name, labels in source["enums"].items():
        if target["enums"].get(name) != labels:
            sql: tuple[str, ...] = ()
            if name in target["enums"]:
                human = f'The enum "{name}" exists but is no longer needed'
                items.append(DriftItem("EnumDrop", human, (f"DROP TYPE {_q(name)};",)))
            values = ", ".join("'" + label.replace("'", "''") + "'" for label in labels)
            sql = (f"CREATE TYPE {_q(name)} AS ENUM ({values});",)
            items.append(
                DriftItem(
                    "EnumCreate", f'The enum "{name}" is missing and needs to be created', sql
                )
            )
    for name in target["enums"]:
        if name not in source["enums"]:
            human = f'The enum "{name}" exists but is no longer needed'
            items.append(DriftItem("EnumDrop", human, (f"DROP TYPE {_q(name)};",)))
    return items


def compare(source: Catalogue, target: Catalogue) -> list[DriftItem]:
    """What ``target`` (the database) lacks or has beyond ``source`` (the migrations)."""
    items = _compare_routines(source, target)
    for name, table in source["tables"].items():
        live = target["tables"].get(name)
        items += _table_create(name, table) if live is None else _compare_table(name, table, live)
    for name in target["tables"]:
        if name not in source["tables"]:
            human = f'The table "{name}" exists but should be removed'
            items.append(DriftItem("TableDrop", human, (f"DROP TABLE {_q(name)};",)))
    rank = {kind: i for i, kind in enumerate(ORDER)}
    return sorted(items, key=lambda item: rank[item.type])  # stable: catalogue order within a kind
