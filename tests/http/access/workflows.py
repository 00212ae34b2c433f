"""Rows of the Workflows and Plugins tags: a workflow is its owner's alone (another user's id is
Immich's 400, a search shows only one's own); plugins are every user's to read; no shared link
reaches either."""

from __future__ import annotations

from tests.http.access.vocabulary import (
    FORBIDDEN,
    Check,
    Outcome,
    Row,
    no_access,
    ok,
    own_row,
    shows,
)
from tests.http.access.world import World


def _workflow(w: World) -> str:
    return w.workflow


def _plugin(w: World) -> str:
    return w.plugin


def _listed(attr: str, count: int) -> Check:
    return lambda w, body: [item["id"] for item in body] == [getattr(w, attr)] * count


def _keys(count: int) -> Check:
    return lambda w, body: [m["key"] for m in body] == ["immich-plugin-core#assetArchive"] * count


def everyone(check: Check) -> dict[str, Outcome]:
    """Every user reads it; no link does."""
    allowed = ok(check=check)
    return {"owner": allowed, "other": allowed, "admin": allowed, "partner": allowed,
            "album_viewer": allowed, "album_link": FORBIDDEN, "asset_link": FORBIDDEN}


def own_search(attr: str) -> dict[str, Outcome]:
    """The owner finds it; everyone else searches their own (empty) list; no link."""
    nothing = ok(check=_listed(attr, 0))
    return {"owner": ok(check=_listed(attr, 1)), "other": nothing, "admin": nothing, "partner": nothing,
            "album_viewer": nothing, "album_link": FORBIDDEN, "asset_link": FORBIDDEN}


WORKFLOW_ROWS: tuple[Row, ...] = (
    Row(op="searchWorkflows", target=_workflow, asset=False,
        request=lambda w, t: ("GET", f"/api/workflows?id={t}", None), expect=own_search("workflow")),
    Row(op="getWorkflow", target=_workflow, asset=False, request=lambda w, t: ("GET", f"/api/workflows/{t}", None),
        expect={**own_row(200, no_access("workflow.read")), "owner": ok(check=lambda w, b: shows(w, b, w.workflow))}),
    Row(op="getWorkflowForShare", target=_workflow, asset=False,
        request=lambda w, t: ("GET", f"/api/workflows/{t}/share", None),
        expect={**own_row(200, no_access("workflow.read")),
                "owner": ok(check=lambda w, b: b["steps"] == [
                    {"method": "immich-plugin-core#assetArchive", "config": {"inverse": False}}])}),
    Row(op="updateWorkflow", target=_workflow, asset=False,
        request=lambda w, t: ("PUT", f"/api/workflows/{t}", {"name": "Renamed", "enabled": False}),
        expect={**own_row(200, no_access("workflow.update")),
                "owner": ok(check=lambda w, b: (b["name"], b["enabled"]) == ("Renamed", False))}),
    Row(op="deleteWorkflow", target=_workflow, asset=False,
        request=lambda w, t: ("DELETE", f"/api/workflows/{t}", None), expect=own_row(204, no_access("workflow.delete"))),
)

PLUGIN_ROWS: tuple[Row, ...] = (
    Row(op="searchPlugins", target=_plugin, asset=False, request=lambda w, t: ("GET", f"/api/plugins?id={t}", None),
        expect=everyone(_listed("plugin", 1))),
    Row(op="getPlugin", target=_plugin, asset=False, request=lambda w, t: ("GET", f"/api/plugins/{t}", None),
        expect=everyone(lambda w, b: shows(w, b, w.plugin))),
    Row(op="searchPluginMethods", target=_plugin, asset=False,
        request=lambda w, t: ("GET", "/api/plugins/methods?id=00000000-0000-4000-8000-000000000000", None),
        expect=everyone(_keys(0))),
)
