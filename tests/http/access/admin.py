"""Rows of the admin-only routes that take an id: notifications sent by an admin, integrity
reports, another user's calendar heatmap."""

from __future__ import annotations

from tests.http.access.vocabulary import Row, admin_only

# -- Notifications sent by an admin (Notifications admin) -------------------------------------

NOTIFICATION_ADMIN_ROWS: tuple[Row, ...] = (
    # the user id is the recipient's; only admins may write into anyone's bell
    Row(op="createNotification", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("POST", "/api/admin/notifications", {"userId": t, "title": "Hello"}),
        expect=admin_only(201)),
)


# -- Integrity reports (Maintenance admin) ------------------------------------------------------

INTEGRITY_ROWS: tuple[Row, ...] = (
    Row(op="getIntegrityReportFile", target=lambda w: w.integrity_report, asset=False,
        request=lambda w, t: ("GET", f"/api/admin/integrity/report/{t}/file", None), expect=admin_only()),
    Row(op="deleteIntegrityReport", target=lambda w: w.integrity_report, asset=False,
        request=lambda w, t: ("DELETE", f"/api/admin/integrity/report/{t}", None), expect=admin_only()),
)


# -- Calendar heatmap of another user (Users admin) ---------------------------------------------

HEATMAP_ROWS: tuple[Row, ...] = (
    Row(op="getUserCalendarHeatmapAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/admin/users/{t}/calendar-heatmap", None), expect=admin_only()),
)
