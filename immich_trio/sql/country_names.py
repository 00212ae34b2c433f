"""English country names for ISO 3166 codes, as Immich's ``i18n-iso-countries`` gives them.

Immich answers reverse geocoding with ``getName(code, 'en')``. pycountry carries the same
ISO list; where its name (or common name) differs from i18n-iso-countries' first English
name, the table below holds the latter, so answers match Immich word for word.
"""

from __future__ import annotations

from functools import cache

import pycountry

I18N_ENGLISH = {
    "CD": "Democratic Republic of the Congo",
    "CG": "Republic of the Congo",
    "CI": "Cote d'Ivoire",
    "CN": "People's Republic of China",
    "CV": "Cape Verde",
    "CZ": "Czech Republic",
    "GM": "Republic of The Gambia",
    "IR": "Islamic Republic of Iran",
    "LA": "Lao People's Democratic Republic",
    "MD": "Moldova, Republic of",
    "MK": "The Republic of North Macedonia",
    "PS": "State of Palestine",
    "RE": "Reunion",
    "SH": "Saint Helena",
    "SY": "Syrian Arab Republic",
    "TW": "Taiwan, Province of China",
    "TZ": "United Republic of Tanzania",
    "US": "United States of America",
    "XK": "Kosovo",  # user-assigned code, known to i18n-iso-countries, not to ISO
}
XK_ALPHA3 = "XKX"


@cache
def country_name(code: str | None) -> str | None:
    """The English name for an ISO alpha-2 or alpha-3 code; None when unknown."""
    if not code:
        return None
    code = code.strip().upper()
    if code == XK_ALPHA3:
        code = "XK"
    if code in I18N_ENGLISH:
        return I18N_ENGLISH[code]
    found = pycountry.countries.get(alpha_2=code) if len(code) == 2 else pycountry.countries.get(alpha_3=code)
    if found is None:
        return None
    alpha_2 = str(found.alpha_2)
    if alpha_2 in I18N_ENGLISH:
        return I18N_ENGLISH[alpha_2]
    return str(getattr(found, "common_name", None) or found.name)
