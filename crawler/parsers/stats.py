"""The anime stats page's member list, ``/anime/{id}/{slug}/stats?m=all&show=N`` (user discovery).

The members table is ``table.table-recently-updated``: a header row, then one row per member whose
first cell links to ``/profile/{username}``, followed by score ("-" when unscored), status, episodes
("3 / 12") and date cells. The logged-in "friends" view of the page has no table and says "No friends
found"; that parses to an empty list.
"""

from __future__ import annotations

import re
from typing import Any

from ._common import check_template, clean, load_html, parse_count, status_code
from .errors import NotThisPage, ParseError
from .users import username_from_href

KIND = "stats"
_STATS_HEADINGS = {"summary stats", "recently updated by", "score stats"}
_EPISODES = re.compile(r"^\s*([\d,]+|-)?\s*(?:/\s*([\d,]+|-|\?))?\s*$")


def _score(text: str) -> int:
    value = clean(text)
    if value in {"", "-", "N/A"}:
        return 0  # unscored, as in list entries
    if not value.isdigit() or not 0 <= int(value) <= 10:
        raise ParseError(KIND, f"member score is not 0-10: {value[:20]!r}")
    return int(value)


def parse_stats(body: str | bytes, url: str | None = None) -> list[dict[str, Any]]:
    """Members listed on a stats page: ``username``, ``score`` (int, 0 = unscored), ``status``
    (int list status code or None), ``status_text`` and ``episodes_watched`` (int or None)."""
    sel = load_html(body, KIND)
    headings = {clean(h.xpath("string()").get()).lower() for h in sel.css("h2")}
    table = sel.css("table.table-recently-updated")
    if not table and not (headings & _STATS_HEADINGS or sel.css("#summary_stats")):
        raise NotThisPage(KIND, "no stats sections (Summary Stats / Recently Updated By)")
    members: list[dict[str, Any]] = []
    for row in table.xpath(".//tr") if table else []:
        cells = row.xpath("./td")
        link = cells[0].css('a[href*="/profile/"]') if cells else []
        if not link:
            continue  # the header row
        names = [clean(a.xpath("string()").get()) for a in link]
        username = next((n for n in names if n), "") or username_from_href(link[0].attrib.get("href", ""))
        check_template(KIND, {"username": username})
        if not username:
            raise ParseError(KIND, "a member row has no username")
        texts = [clean(c.xpath("string()").get()) for c in cells[1:]]
        member: dict[str, Any] = {"username": username}
        if len(texts) >= 1:
            member["score"] = _score(texts[0])
        if len(texts) >= 2:
            member["status"] = status_code(texts[1])
            member["status_text"] = texts[1] or None
        if len(texts) >= 3:
            match = _EPISODES.match(texts[2])
            member["episodes_watched"] = parse_count(KIND, "episodes", match.group(1)) if match else None
        members.append(member)
    return members
