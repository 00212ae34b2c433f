"""The e-mails Immich sends, as our own small templates (Jinja2, HTML escaped): ``test``,
``welcome``, ``album-invite`` and ``album-update``, each with the same variables and the same
information as Immich's React-email ones, in HTML and in plain text.

An admin's custom template (``templates.email.*Template`` of the system config, or the body of
the template preview) replaces the message part: its ``{variable}`` tags are filled with the
escaped values, unknown tags stay as written, as Immich fills them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

DEFAULT_BASE_URL = "https://my.immich.app"
"""Immich's ``getExternalDomain`` fallback when the server has no external domain."""

TEST = "test"
WELCOME = "welcome"
ALBUM_INVITE = "album-invite"
ALBUM_UPDATE = "album-update"

_LAYOUT = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Immich</title></head>
<body style="margin:0;padding:0;background:#ffffff;color:#4250af;font-family:sans-serif;font-size:16px">
<div style="display:none">{{ preview }}</div>
<div style="max-width:480px;margin:0 auto;padding:24px">
<p style="text-align:center;font-size:28px;font-weight:bold;margin:0 0 24px">Immich</p>
{% block body %}{% endblock %}
<hr style="margin-top:24px">
<p style="color:#6a737d;font-size:12px;text-align:center">
<a href="https://immich.app">Immich</a> project is available under GNU AGPL v3 license.</p>
</div></body></html>
"""

_BUTTON = (
    '<p style="text-align:center;margin:24px 0"><a href="{{ url }}" style="background:#4250af;'
    'color:#ffffff;padding:12px 36px;border-radius:9999px;text-decoration:none;font-weight:bold">'
    "{{ label }}</a></p>"
)

_ALBUM_LINK = """{% if cid %}<p style="text-align:center"><img src="cid:{{ cid }}" alt="{{ albumName }}"
 style="max-width:300px;width:100%;border-radius:8px"></p>{% endif %}
{% with url = baseUrl ~ '/albums/' ~ albumId, label = 'View Album' %}{% include 'button' %}{% endwith %}
<p style="font-size:12px">If you cannot click the button use the link below to view the album.<br>
<a href="{{ baseUrl }}/albums/{{ albumId }}">{{ baseUrl }}/albums/{{ albumId }}</a></p>
"""

_HTML = {
    TEST: """{% extends 'layout' %}{% block body %}{% if custom %}{{ custom }}{% else %}
<p>Hey <strong>{{ displayName }}</strong>!</p>
<p>This is a test email from your Immich Instance!</p>
<p><a href="{{ baseUrl }}">{{ baseUrl }}</a></p>{% endif %}{% endblock %}""",
    WELCOME: """{% extends 'layout' %}{% block body %}{% if custom %}{{ custom }}{% else %}
<p>Hey <strong>{{ displayName }}</strong>!</p>
<p>A new account has been created for you.</p>
<p><strong>Username</strong>: {{ username }}{% if password %}<br>
<strong>Password</strong>: {{ password }}{% endif %}</p>
<p>To login, open the link in a browser, or click the button below.</p>
<p><a href="{{ baseUrl }}">{{ baseUrl }}</a></p>
{% with url = baseUrl ~ '/auth/login', label = 'Login' %}{% include 'button' %}{% endwith %}
{% endif %}{% endblock %}""",
    ALBUM_INVITE: """{% extends 'layout' %}{% block body %}{% if custom %}{{ custom }}{% else %}
<p>Hey <strong>{{ recipientName }}</strong>!</p>
<p>{{ senderName }} has added you to the album <strong>{{ albumName }}</strong>.</p>
{% include 'album_link' %}{% endif %}{% endblock %}""",
    ALBUM_UPDATE: """{% extends 'layout' %}{% block body %}{% if custom %}{{ custom }}{% else %}
<p>Hey <strong>{{ recipientName }}</strong>!</p>
<p>New media has been added to <strong>{{ albumName }}</strong>,<br> check it out!</p>
{% include 'album_link' %}{% endif %}{% endblock %}""",
}

_TEXT = {
    TEST: "Hey {{ displayName }}!\n\nThis is a test email from your Immich Instance!\n\n{{ baseUrl }}\n",
    WELCOME: (
        "Hey {{ displayName }}!\n\nA new account has been created for you.\n\nUsername: {{ username }}\n"
        "{% if password %}Password: {{ password }}\n{% endif %}\n"
        "To login, open the link in a browser, or click the button below.\n\n{{ baseUrl }}/auth/login\n"
    ),
    ALBUM_INVITE: (
        "Hey {{ recipientName }}!\n\n{{ senderName }} has added you to the album {{ albumName }}.\n\n"
        "View Album: {{ baseUrl }}/albums/{{ albumId }}\n"
    ),
    ALBUM_UPDATE: (
        "Hey {{ recipientName }}!\n\nNew media has been added to {{ albumName }}, check it out!\n\n"
        "View Album: {{ baseUrl }}/albums/{{ albumId }}\n"
    ),
}

_PREVIEW = {
    TEST: "This is a test email from Immich.",
    WELCOME: "You have been invited to a new Immich instance.",
    ALBUM_INVITE: "You have been added to a shared album.",
    ALBUM_UPDATE: "New media has been added to a shared album.",
}

_TAG = re.compile(r"{(.*?)}")

_html = Environment(
    loader=DictLoader(
        {"layout": _LAYOUT, "button": _BUTTON, "album_link": _ALBUM_LINK}
        | {f"{name}.html": body for name, body in _HTML.items()}
    ),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
)
_text = Environment(
    loader=DictLoader({f"{name}.txt": body for name, body in _TEXT.items()}),
    autoescape=False,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)

NAMES = frozenset(_HTML)


@attrs.frozen(kw_only=True)
class Rendered:
    html: str
    text: str


def fill_tags(template: str, values: Mapping[str, Any]) -> Markup:
    """``template`` (HTML written by an admin) with its ``{variable}`` tags filled, escaped."""

    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        value = values.get(key)
        return match.group(0) if value is None else str(escape(str(value)))

    return Markup(_TAG.sub(one, template))


def render(name: str, values: Mapping[str, Any], custom_template: str = "") -> Rendered:
    """The HTML and plain text of template ``name`` (one of ``NAMES``) with ``values``."""
    values = {"cid": None, "password": None, **values}
    custom = fill_tags(custom_template, values) if custom_template else None
    html = _html.get_template(f"{name}.html").render(values, custom=custom, preview=_PREVIEW[name])
    text = _text.get_template(f"{name}.txt").render(values)
    return Rendered(html=html, text=text)


def base_url(server_config: Mapping[str, Any]) -> str:
    """Links in mail point at the server's external domain, as Immich's ``getExternalDomain``."""
    domain = server_config.get("externalDomain")
    return domain if isinstance(domain, str) and domain else DEFAULT_BASE_URL
