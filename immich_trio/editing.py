"""Asset edits as Immich v3.1 stores them (``asset_edit``: action + JSON parameters, in
sequence): the checks a list must pass, the size it produces, and where a point of the
unedited image lands in the edited one. Pure functions, used by the HTTP layer (validation,
OCR boxes) and the thumbnailer (which applies the same list to pixels).

Conventions (Immich's media repository): the crop comes first and is in pixels of the
oriented, unedited image; ``rotate`` turns clockwise by 0/90/180/270 degrees; ``mirror``
``horizontal`` swaps left and right, ``vertical`` swaps top and bottom.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ACTIONS = ("crop", "rotate", "mirror")
ANGLES = (0, 90, 180, 270)
AXES = ("horizontal", "vertical")
CROP_FIELDS = (("x", 0), ("y", 0), ("width", 1), ("height", 1))
MAX_SAFE_INTEGER = 9007199254740991

Edit = Mapping[str, Any]
"""``{"action": ..., "parameters": {...}}``."""


def _issue(path: list[str | int], message: str, code: str = "custom") -> dict[str, Any]:
    return {"code": code, "path": path, "message": message}


def _is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer()
    )


def check_edit(index: int, item: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """One item of ``edits``: ``(normalised edit, issues)`` (zod-style issues, ``[]`` if valid)."""
    base: list[str | int] = ["edits", index]
    if not isinstance(item, Mapping):
        return None, [_issue(base, "Invalid input: expected object", "invalid_type")]
    action = item.get("action")
    params = item.get("parameters")
    if action not in ACTIONS:
        return None, [_issue([*base, "action"], 'Invalid option: expected one of "crop"|"rotate"|"mirror"',
                             "invalid_value")]
    if not isinstance(params, Mapping):
        return None, [_issue([*base, "parameters"], "Invalid input: expected object", "invalid_type")]
    where = [*base, "parameters"]
    issues: list[dict[str, Any]] = []
    clean: dict[str, Any] = {}
    match action:
        case "crop":
            for name, minimum in CROP_FIELDS:
                value: Any = params.get(name)
                if value is None or not _is_int(value):
                    issues.append(_issue([*where, name], "Invalid input: expected int", "invalid_type"))
                elif not minimum <= value <= MAX_SAFE_INTEGER:
                    issues.append(_issue([*where, name], f"Too small: expected number to be >={minimum}",
                                         "too_small"))
                else:
                    clean[name] = int(value)
        case "rotate":
            angle = params.get("angle")
            if isinstance(angle, bool) or not isinstance(angle, int | float) or angle not in ANGLES:
                issues.append(_issue([*where, "angle"], "angle must be one of the following values: 0, 90, 180, 270"))
            else:
                clean["angle"] = int(angle)
        case "mirror":
            axis = params.get("axis")
            if axis not in AXES:
                issues.append(_issue([*where, "axis"], 'Invalid option: expected one of "horizontal"|"vertical"',
                                     "invalid_value"))
            else:
                clean["axis"] = axis
    return ({"action": action, "parameters": clean} if not issues else None), issues


def check_edits(items: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The whole ``edits`` list: shapes, at least one item, no action twice (a mirror may
    appear once per axis). Returns ``(edits, issues)``."""
    if not isinstance(items, list):
        return [], [_issue(["edits"], "Invalid input: expected array", "invalid_type")]
    if not items:
        return [], [_issue(["edits"], "Too small: expected array to have >=1 items", "too_small")]
    edits: list[dict[str, Any]] = []
    issues: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        edit, found = check_edit(index, item)
        issues.extend(found)
        if edit is not None:
            edits.append(edit)
    if not issues:
        seen: set[str] = set()
        for edit in edits:
            key = f"mirror-{edit['parameters']['axis']}" if edit["action"] == "mirror" else edit["action"]
            if key in seen:
                issues.append(_issue(["edits"], "Duplicate edit actions are not allowed"))
                break
            seen.add(key)
    return edits, issues


def output_size(edits: Sequence[Edit], width: int, height: int) -> tuple[int, int]:
    """The size of the image after ``edits`` (crop size, quarter turns swap the sides)."""
    for edit in edits:
        if edit["action"] == "crop":
            width, height = edit["parameters"]["width"], edit["parameters"]["height"]
    for edit in edits:
        if edit["action"] == "rotate" and edit["parameters"]["angle"] in (90, 270):
            width, height = height, width
    return width, height


def transform_points(
    points: Sequence[tuple[float, float]], edits: Sequence[Edit], width: float, height: float
) -> tuple[list[tuple[float, float]], float, float]:
    """Move pixel ``points`` of the unedited image into the edited one: ``(points, w, h)``."""
    moved = list(points)
    for edit in edits:
        if edit["action"] == "crop":
            p = edit["parameters"]
            moved = [(x - p["x"], y - p["y"]) for x, y in moved]
            width, height = p["width"], p["height"]
    for edit in edits:
        p = edit["parameters"]
        if edit["action"] == "rotate":
            angle = p["angle"]
            if angle == 90:
                moved = [(height - y, x) for x, y in moved]
            elif angle == 180:
                moved = [(width - x, height - y) for x, y in moved]
            elif angle == 270:
                moved = [(y, width - x) for x, y in moved]
            if angle in (90, 270):
                width, height = height, width
        elif edit["action"] == "mirror":
            if p["axis"] == "horizontal":
                moved = [(width - x, y) for x, y in moved]
            else:
                moved = [(x, height - y) for x, y in moved]
    return moved, width, height


def transform_ocr_box(box: Mapping[str, Any], edits: Sequence[Edit], width: int, height: int) -> dict[str, Any]:
    """An ``asset_ocr`` row (corners normalised 0..1, clockwise from top-left) as seen on the
    edited image: corners moved, renormalised, and reordered so corner 1 stays the top-left
    after a rotation (Immich's ``transformOcrBoundingBox``)."""
    out = dict(box)
    if not edits:
        return out
    corners = [(box[f"x{i}"] * width, box[f"y{i}"] * height) for i in range(1, 5)]
    moved, w, h = transform_points(corners, edits, width, height)
    angle = next((e["parameters"]["angle"] for e in edits if e["action"] == "rotate"), 0)
    shift = {90: 3, 180: 2, 270: 1}.get(angle, 0)
    moved = moved[shift:] + moved[:shift] if shift else moved
    for i, (x, y) in enumerate(moved, start=1):
        out[f"x{i}"] = x / w
        out[f"y{i}"] = y / h
    return out
