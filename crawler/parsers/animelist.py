"""A user's anime list: the ``load.json`` pages and the list page's ``table.list-table[data-items]``.

Both carry the same entry objects (``anime_id``, ``anime_title``, ``score``, ``status``,
``num_watched_episodes``, ...). Entries are checked strictly, because one wrong entry would misstate
what a user watched: a missing or mistyped field raises :class:`ParseError` naming the entry.
``anime_title`` may be a JSON number (the show "86"); it always comes back as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ._common import check_template, has_template, load_html, load_json, unescape
from .errors import ListUnavailable, NotThisPage, ParseError, TemplatePage

LIST_STATUSES = frozenset({1, 2, 3, 4, 6})  # watching, completed, on hold, dropped, plan to watch
_RESTRICTED = re.compile(r"restricted by the owner|this list (?:has been made|is) private", re.IGNORECASE)


def _int_field(kind: str, entry: Mapping[str, Any], key: str, index: int) -> int:
    if key not in entry or entry[key] is None:
        raise ParseError(kind, f"entry {index} has no {key}")
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParseError(kind, f"entry {index}: {key} must be an integer, got {value!r}")
    return value


def parse_entry(entry: Any, index: int = 0, kind: str = "animelist") -> dict[str, Any]:
    """One MAL list entry -> ``{anime_id, title, score, status, episodes_watched}``."""
    if not isinstance(entry, Mapping):
        raise ParseError(kind, f"entry {index} is not an object: {entry!r:.60}")
    anime_id = _int_field(kind, entry, "anime_id", index)
    if anime_id < 1:
        raise ParseError(kind, f"entry {index}: anime_id must be positive, got {anime_id}")
    title = entry.get("anime_title")
    if isinstance(title, bool) or not isinstance(title, str | int | float):
        raise ParseError(kind, f"entry {index} (anime {anime_id}): anime_title must be text, got {title!r}")
    if isinstance(title, float) and title.is_integer():
        title = int(title)
    title = unescape(str(title))
    if has_template(title):
        raise TemplatePage(kind, f"entry {index}: anime_title is unrendered template text {title[:60]!r}")
    score = _int_field(kind, entry, "score", index)
    if not 0 <= score <= 10:
        raise ParseError(kind, f"entry {index} (anime {anime_id}): score must be 0..10, got {score}")
    status = _int_field(kind, entry, "status", index)
    if status not in LIST_STATUSES:
        raise ParseError(kind, f"entry {index} (anime {anime_id}): status must be one of 1,2,3,4,6, got {status}")
    watched = _int_field(kind, entry, "num_watched_episodes", index)
    if watched < 0:
        raise ParseError(kind, f"entry {index} (anime {anime_id}): num_watched_episodes is negative")
    return {"anime_id": anime_id, "title": title, "score": score, "status": status, "episodes_watched": watched}


def _entries(data: Any, kind: str) -> list[dict[str, Any]]:
    if isinstance(data, Mapping) and "errors" in data:
        messages = "; ".join(str(e.get("message", e)) if isinstance(e, Mapping) else str(e)
                             for e in data.get("errors") or []) or "no message"
        raise ListUnavailable(kind, f"the list is private or the user does not exist ({messages})")
    if not isinstance(data, list):
        raise NotThisPage(kind, f"expected a JSON array of list entries, got {type(data).__name__}")
    return [parse_entry(entry, i, kind) for i, entry in enumerate(data)]


def parse_animelist(body: str | bytes, url: str | None = None) -> list[dict[str, Any]]:
    """One ``load.json`` page: its entries (``[]`` past the end of the list).

    Raises :class:`ListUnavailable` for MAL's HTTP 400 body ``{"errors": [...]}`` (private or missing).
    """
    return _entries(load_json(body, "animelist"), "animelist")


def parse_listpage(body: str | bytes, url: str | None = None) -> list[dict[str, Any]]:
    """The list page ``/animelist/{user}``: the (at most 300) entries in ``table.list-table[data-items]``.

    The rows themselves are drawn by JavaScript from that attribute, so the row template text
    (``${ item.anime_title }``) is ignored unless it is all the page has.
    """
    kind = "listpage"
    sel = load_html(body, kind)
    table = sel.css("table.list-table")
    if not table:
        text = " ".join(sel.css("#content ::text, .content-container ::text, body ::text").getall())
        if _RESTRICTED.search(text):
            raise ListUnavailable(kind, "access to this list is restricted by its owner")
        raise NotThisPage(kind, "no table.list-table: not an anime list page")
    items = table[0].attrib.get("data-items")
    if items is None:
        if has_template(table[0].get()):
            raise TemplatePage(kind, "the list table has only template rows and no data-items")
        raise NotThisPage(kind, "table.list-table has no data-items (classic list layout is not supported)")
    check_template(kind, {"data-items": items})
    try:
        data = json.loads(items)
    except json.JSONDecodeError as exc:
        raise ParseError(kind, f"data-items is not valid JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(data, list):
        raise ParseError(kind, f"data-items must be a JSON array, got {type(data).__name__}")
    return _entries(data, kind)
