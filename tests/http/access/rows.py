"""Every row of the access matrix, in one order: the test ids (``test_access[<op>]``, numbered
where an operation has several rows) follow it, so a new block goes at the end.

Where a new route's row goes: in the module of its tag family, in the block of its tag (or a new
block there, added below):

- ``assets.py``: assets, the timeline by user, the rest of the asset tag (copy, jobs, edits, OCR);
- ``accounts.py``: sessions, API keys, users and admin users, partners, notifications;
- ``albums_and_sharing.py``: albums, downloads, shared links, activities, album roles and link
  variants;
- ``organising.py``: tags, memories, stacks;
- ``search_and_people.py``: search, people and faces;
- ``admin.py``: admin-only routes (admin notifications, integrity reports, heatmaps);
- ``workflows.py``: workflows and plugins (the cast in ``workflow_world.py``).

A module past ~400 lines splits by sub-concern. The rows are written in ``vocabulary.py``'s words
and aimed at ``world.py``'s cast.
"""

from __future__ import annotations

from tests.http.access.accounts import (
    NOTIFICATION_ROWS,
    PARTNER_ROWS,
    SESSION_AND_API_KEY_ROWS,
    USER_ROWS,
)
from tests.http.access.admin import HEATMAP_ROWS, INTEGRITY_ROWS, NOTIFICATION_ADMIN_ROWS
from tests.http.access.albums_and_sharing import (
    ACTIVITY_ROWS,
    ALBUM_ROLE_AND_LINK_VARIANT_ROWS,
    ALBUM_ROWS,
    DOWNLOAD_ROWS,
    SHARED_LINK_ROWS,
)
from tests.http.access.assets import ASSET_REST_ROWS, ASSET_ROWS, TIMELINE_ROWS
from tests.http.access.libraries import LIBRARY_ROWS
from tests.http.access.organising import MEMORY_ROWS, STACK_ROWS, TAG_ROWS
from tests.http.access.search_and_people import DUPLICATE_ROWS, PEOPLE_ROWS, SEARCH_ROWS
from tests.http.access.video_stream import STREAM_ROWS
from tests.http.access.vocabulary import Row
from tests.http.access.workflows import PLUGIN_ROWS, WORKFLOW_ROWS

ROWS: tuple[Row, ...] = (
    *ASSET_ROWS,
    *TIMELINE_ROWS,
    *SESSION_AND_API_KEY_ROWS,
    *USER_ROWS,
    *ALBUM_ROWS,
    *DOWNLOAD_ROWS,
    *SHARED_LINK_ROWS,
    *ACTIVITY_ROWS,
    *TAG_ROWS,
    *MEMORY_ROWS,
    *STACK_ROWS,
    *ASSET_REST_ROWS,
    *NOTIFICATION_ADMIN_ROWS,
    *ALBUM_ROLE_AND_LINK_VARIANT_ROWS,
    *SEARCH_ROWS,
    *INTEGRITY_ROWS,
    *PEOPLE_ROWS,
    *DUPLICATE_ROWS,
    *HEATMAP_ROWS,
    *PARTNER_ROWS,
    *NOTIFICATION_ROWS,
    *STREAM_ROWS,
    *WORKFLOW_ROWS,
    *PLUGIN_ROWS,
    *LIBRARY_ROWS,
)
