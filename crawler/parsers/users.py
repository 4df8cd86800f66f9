"""``/users.php``: the recently online users grid (user discovery, 20 users a page)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from ._common import check_template, clean, load_html
from .errors import NotThisPage, ParseError

KIND = "users"
_PROFILE = re.compile(r"/profile/([^/?#]+)")


def username_from_href(href: str) -> str:
    """``/profile/Kaxkk`` -> ``Kaxkk``; empty when the link is not a profile link."""
    match = _PROFILE.search(href or "")
    return unquote(match.group(1)) if match else ""


def parse_users(body: str | bytes, url: str | None = None) -> list[dict[str, Any]]:
    """Users on the page: ``username`` and ``last_online`` (MAL's relative text, e.g. "2 seconds ago")."""
    sel = load_html(body, KIND)
    header = sel.xpath(
        "//*[contains(concat(' ', normalize-space(@class), ' '), ' normal_header ')]"
        "[contains(normalize-space(.), 'Recently Online Users')]"
    )
    if not header:
        raise NotThisPage(KIND, "no 'Recently Online Users' section")
    cells = header[0].xpath("following-sibling::table[1]//td")
    users: list[dict[str, Any]] = []
    seen: set[str] = set()
    for cell in cells:
        links = cell.css('a[href*="/profile/"]')
        if not links:
            continue
        username = next(
            (clean(a.xpath("string()").get()) for a in links if clean(a.xpath("string()").get())), ""
        ) or username_from_href(links[0].attrib.get("href", ""))
        check_template(KIND, {"username": username})
        if not username:
            raise ParseError(KIND, "a user cell has no username")
        if username in seen:
            continue
        seen.add(username)
        last_online = clean(cell.css("small").xpath("string()").get()) or None
        users.append({"username": username, "last_online": last_online})
    return users
