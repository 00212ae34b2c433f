"""Rows of the account routes: sessions, API keys, users and admin users, partners and
notifications (the owner's own rows; users are read by anyone, administered by admins)."""

from __future__ import annotations

from tests.http.access.vocabulary import FORBIDDEN, Row, admin_only, no_access, ok, own_row, refused
from tests.http.access.world import ACTORS

API_KEY_NOT_FOUND = refused(400, "API Key not found")
USER_SEEN = {actor: ok() for actor in ACTORS} | {"album_link": FORBIDDEN, "asset_link": FORBIDDEN}


# Partners: anyone shares their own library with anyone (the owner's pair exists already;
# Immich refuses no self-share); only the pair's sharer removes it.
PARTNER_CREATE = own_row(201, ok(201)) | {"owner": refused(400, "Partner already exists")}
PARTNER_NOT_FOUND = refused(400, "Partner not found")
READ_AT = "2026-01-01T00:00:00.000Z"


# -- Sessions and API keys ---------------------------------------------------------------------

SESSION_AND_API_KEY_ROWS: tuple[Row, ...] = (
    Row(op="updateSession", target=lambda w: w.session, asset=False,
        request=lambda w, t: ("PUT", f"/api/sessions/{t}", {"isPendingSyncReset": True}),
        expect=own_row(200, no_access("session.update"))),
    Row(op="lockSession", target=lambda w: w.session, asset=False,
        request=lambda w, t: ("POST", f"/api/sessions/{t}/lock", None),
        expect=own_row(204, no_access("session.lock"))),
    Row(op="deleteSession", target=lambda w: w.session, asset=False,
        request=lambda w, t: ("DELETE", f"/api/sessions/{t}", None),
        expect=own_row(204, no_access("authDevice.delete"))),
    Row(op="getApiKey", target=lambda w: w.api_key, asset=False,
        request=lambda w, t: ("GET", f"/api/api-keys/{t}", None), expect=own_row(200, API_KEY_NOT_FOUND)),
    Row(op="updateApiKey", target=lambda w: w.api_key, asset=False,
        request=lambda w, t: ("PUT", f"/api/api-keys/{t}", {"name": "Renamed"}), expect=own_row(200, API_KEY_NOT_FOUND)),
    Row(op="deleteApiKey", target=lambda w: w.api_key, asset=False,
        request=lambda w, t: ("DELETE", f"/api/api-keys/{t}", None), expect=own_row(204, API_KEY_NOT_FOUND)),
)

# -- Users (any user reads any user) and admin users (route-level: admins only) ---------------

USER_ROWS: tuple[Row, ...] = (
    Row(op="getUser", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/users/{t}", None), expect=USER_SEEN),
    Row(op="getProfileImage", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/users/{t}/profile-image", None),
        expect=USER_SEEN | {a: ok(404) for a in ACTORS if USER_SEEN[a].status == 200}),
    Row(op="searchUsersAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/admin/users?id={t}", None), expect=admin_only()),
    Row(op="getUserAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/admin/users/{t}", None), expect=admin_only()),
    Row(op="getUserPreferencesAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/admin/users/{t}/preferences", None), expect=admin_only()),
    Row(op="getUserSessionsAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/admin/users/{t}/sessions", None), expect=admin_only()),
    Row(op="getUserStatisticsAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/admin/users/{t}/statistics", None), expect=admin_only()),
    Row(op="updateUserAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("PUT", f"/api/admin/users/{t}", {"name": "Renamed"}), expect=admin_only()),
    Row(op="updateUserPreferencesAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("PUT", f"/api/admin/users/{t}/preferences", {"memories": {"enabled": False}}),
        expect=admin_only()),
    Row(op="restoreUserAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("POST", f"/api/admin/users/{t}/restore", None), expect=admin_only()),
    Row(op="deleteUserAdmin", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("DELETE", f"/api/admin/users/{t}", {}), expect=admin_only()),
)

# -- Partners ----------------------------------------------------------------------------------

PARTNER_ROWS: tuple[Row, ...] = (
    Row(op="createPartner", target=lambda w: w.partner_id, asset=False,
        request=lambda w, t: ("POST", "/api/partners", {"sharedWithId": t}), expect=PARTNER_CREATE),
    Row(op="createPartnerDeprecated", target=lambda w: w.partner_id, asset=False,
        request=lambda w, t: ("POST", f"/api/partners/{t}", None), expect=PARTNER_CREATE),
    Row(op="updatePartner", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("PUT", f"/api/partners/{t}", {"inTimeline": True}),
        expect=own_row(200, no_access("partner.update")) | {
            "owner": no_access("partner.update"), "partner": ok(check=lambda w, b: b["inTimeline"] is True)}),
    Row(op="removePartner", target=lambda w: w.partner_id, asset=False,
        request=lambda w, t: ("DELETE", f"/api/partners/{t}", None), expect=own_row(204, PARTNER_NOT_FOUND)),
)

# -- Notifications -----------------------------------------------------------------------------

NOTIFICATION_ROWS: tuple[Row, ...] = (
    Row(op="getNotifications", target=lambda w: w.notification, asset=False,
        request=lambda w, t: ("GET", f"/api/notifications?id={t}", None),
        expect=own_row(200, ok(check=lambda w, b: b == [])) | {
            "owner": ok(check=lambda w, b: [n["id"] for n in b] == [w.notification])}),
    Row(op="getNotification", target=lambda w: w.notification, asset=False,
        request=lambda w, t: ("GET", f"/api/notifications/{t}", None),
        expect=own_row(200, no_access("notification.read"))),
    Row(op="updateNotification", target=lambda w: w.notification, asset=False,
        request=lambda w, t: ("PUT", f"/api/notifications/{t}", {"readAt": READ_AT}),
        expect=own_row(200, no_access("notification.update"))),
    Row(op="updateNotifications", target=lambda w: w.notification, asset=False,
        request=lambda w, t: ("PUT", "/api/notifications", {"ids": [t], "readAt": READ_AT}),
        expect=own_row(204, no_access("notification.update"))),
    Row(op="deleteNotification", target=lambda w: w.notification, asset=False,
        request=lambda w, t: ("DELETE", f"/api/notifications/{t}", None),
        expect=own_row(204, no_access("notification.delete"))),
    Row(op="deleteNotifications", target=lambda w: w.notification, asset=False,
        request=lambda w, t: ("DELETE", "/api/notifications", {"ids": [t]}),
        expect=own_row(204, no_access("notification.delete"))),
)
