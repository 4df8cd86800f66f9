"""A user's profile page, ``/profile/{username}``: who the user is and the anime-list counts shown.

The counts live in ``div.stats.anime``: ``ul.stats-status`` (Watching, Completed, On-Hold, Dropped,
Plan to Watch, each an ``a`` whose class names the status) and ``ul.stats-data`` (Total Entries,
Rewatched, Episodes), plus "Days" and "Mean Score". Only what the page shows is returned.
"""

from __future__ import annotations

import re
from typing import Any

from parsel import Selector

from ._common import check_template, clean, load_html, parse_count, parse_score, title_text
from .errors import NotThisPage, ParseError
from .users import username_from_href

KIND = "profile"
_OWNER = re.compile(r"^(.+?)['’]s Profile$", re.IGNORECASE)
_STATUS_CLASSES = ("watching", "completed", "on_hold", "dropped", "plan_to_watch")
_STATUS_LABELS = {"watching": "watching", "completed": "completed", "on-hold": "on_hold", "on hold": "on_hold",
                  "dropped": "dropped", "plan to watch": "plan_to_watch"}


def _key(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def _username(sel: Selector) -> str:
    for text in (clean(sel.css("h1").xpath("string()").get()), title_text(sel)):
        match = _OWNER.match(text)
        if match:
            return match.group(1).strip()
    for query in ('meta[property="og:url"]::attr(content)', 'link[rel="canonical"]::attr(href)'):
        name = username_from_href(sel.css(query).get() or "")
        if name:
            return name
    return ""


def parse_profile(body: str | bytes, url: str | None = None) -> dict[str, Any]:
    """``username`` plus the anime counts shown: watching, completed, on_hold, dropped, plan_to_watch,
    total_entries, rewatched, episodes (ints), days, mean_score (floats), and last_online / joined
    (MAL's text) when present."""
    sel = load_html(body, KIND)
    if not sel.css("div.user-profile") and not _OWNER.match(clean(sel.css("h1").xpath("string()").get())):
        raise NotThisPage(KIND, "no div.user-profile and no \"NAME's Profile\" heading")
    username = _username(sel) or username_from_href(url or "")
    check_template(KIND, {"username": username})
    if not username:
        raise ParseError(KIND, "the profile page names no user")
    profile: dict[str, Any] = {"username": username}
    for item in sel.css("div.user-profile ul.user-status li"):
        label = clean(item.css(".user-status-title").xpath("string()").get()).lower()
        value = clean(item.css(".user-status-data").xpath("string()").get())
        if label in {"last online", "joined"} and value:
            profile[_key(label)] = value

    stats = sel.css("div.stats.anime")
    if stats:
        for item in stats[0].css("ul.stats-status li"):
            link = item.css("a")
            classes = set((link[0].attrib.get("class", "") if link else "").split())
            name = next((c for c in _STATUS_CLASSES if c in classes), None)
            if name is None:
                name = _STATUS_LABELS.get(clean(link[0].xpath("string()").get()).lower()) if link else None
            if name:
                profile[name] = parse_count(KIND, name, item.xpath("./span").xpath("string()").get())
        for item in stats[0].css("ul.stats-data li"):
            spans = item.xpath("./span")
            if len(spans) >= 2:
                name = _key(clean(spans[0].xpath("string()").get()))
                profile[name] = parse_count(KIND, name, spans[-1].xpath("string()").get())
        for block in stats[0].css("div.stat-score > div"):
            label = clean(block.css("span").xpath("string()").get()).rstrip(":").lower()
            value = clean("".join(block.xpath("./text()").getall()))
            if label == "days":
                days = value.replace(",", "")
                try:
                    profile["days"] = float(days)
                except ValueError:
                    raise ParseError(KIND, f"days is not a number: {value[:20]!r}") from None
            elif label == "mean score":
                profile["mean_score"] = parse_score(KIND, "mean_score", value)
    return profile
