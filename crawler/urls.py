"""MAL URL scheme in one place, so the replica and the real site are crawled by the same spiders."""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

ALL_STATUSES = 7  # MAL's status filter for "all" on load.json
LOADJSON_PAGE_SIZE = 300  # entries per load.json page on MAL (and the replica)
STATS_PAGE_SIZE = 75  # members per stats page
TOP_PAGE_SIZE = 50  # rows per topanime.php page
ANIME_ID_RE = re.compile(r"/anime/(\d+)")


def join(base: str, path: str) -> str:
    return base.rstrip("/") + path


def anime_url(base: str, anime_id: int) -> str:
    # MAL redirects /anime/ID to the canonical /anime/ID/Slug page.
    return join(base, f"/anime/{int(anime_id)}")


def stats_url(base: str, anime_id: int, show: int = 0) -> str:
    # The slug part is free text on MAL; "_" keeps the URL stable before we know the title.
    return join(base, f"/anime/{int(anime_id)}/_/stats?" + urlencode({"m": "all", "show": show}))


def loadjson_url(base: str, username: str, offset: int = 0, status: int = ALL_STATUSES) -> str:
    return join(base, f"/animelist/{quote(username)}/load.json?" + urlencode({"offset": offset, "status": status}))


def listpage_url(base: str, username: str) -> str:
    return join(base, f"/animelist/{quote(username)}")


def profile_url(base: str, username: str) -> str:
    return join(base, f"/profile/{quote(username)}")


def users_url(base: str, page: int = 0) -> str:
    return join(base, "/users.php?" + urlencode({"page": page}))


def top_url(base: str, page: int = 0) -> str:
    """Page ``page`` (0-based) of the top-anime ranking, ``TOP_PAGE_SIZE`` rows a page."""
    return join(base, f"/topanime.php?limit={int(page) * TOP_PAGE_SIZE}")


def anime_id_from_url(url: str) -> int | None:
    match = ANIME_ID_RE.search(url)
    return int(match.group(1)) if match else None
