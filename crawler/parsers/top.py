"""``/topanime.php?limit=N``: the ranking table, 50 ``tr.ranking-list`` rows a page (2018-2024 layouts).

Each row: the rank, a link to ``/anime/{id}/{slug}`` with the title (2018: ``a.hoverinfo_trigger``,
2020+: ``h3.anime_ranking_h3 a``), the score, and an information block
("TV (64 eps) / Apr 2009 - Jul 2010 / 1,219,009 members").
"""

from __future__ import annotations

import re
from typing import Any

from ._common import check_template, clean, load_html, parse_count, parse_score
from .anime import anime_id_from_url
from .errors import NotThisPage, ParseError

KIND = "top"
_TYPE_EPISODES = re.compile(r"^(?P<type>[^()]+?)\s*\((?P<episodes>[\d,]+|\?)\s*eps?\)", re.IGNORECASE)
_MEMBERS = re.compile(r"([\d,]+)\s+members", re.IGNORECASE)


def parse_top(body: str | bytes, url: str | None = None) -> list[dict[str, Any]]:
    """Rows: ``rank`` (int or None), ``anime_id``, ``title``, ``score`` (float or None), ``type``,
    ``episodes`` (int or None), ``members`` (int or None). An empty table (past the end) gives []."""
    sel = load_html(body, KIND)
    rows = sel.css("tr.ranking-list")
    if not rows and not sel.css("table.top-ranking-table"):
        raise NotThisPage(KIND, "no table.top-ranking-table / tr.ranking-list rows")
    result: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        links = [a for a in row.css("td.title a[href*='/anime/']") if clean(a.xpath("string()").get())]
        links = [a for a in links if not a.attrib.get("href", "").rstrip("/").endswith("/video")]
        if not links:
            raise ParseError(KIND, f"ranking row {index} has no anime link")
        link = links[0]
        title = clean(link.xpath("string()").get())
        anime_id = anime_id_from_url(link.attrib.get("href"))
        rank_text = clean(row.css("td.rank").xpath("string()").get())
        score_node = row.css("td.score span.score-label, td.score span.text, td.score span")
        score_text = clean(score_node[0].xpath("string()").get()) if score_node else clean(
            row.css("td.score").xpath("string()").get())
        info = [clean(t) for t in row.css("div.information ::text").getall() if clean(t)]
        check_template(KIND, {"title": title, "rank": rank_text, "score": score_text, "information": info})
        if not anime_id:
            raise ParseError(KIND, f"ranking row {index} links to no anime id")
        type_match = _TYPE_EPISODES.match(info[0]) if info else None
        members_match = next((m for m in map(_MEMBERS.search, info) if m), None)
        result.append({
            "rank": parse_count(KIND, "rank", rank_text),
            "anime_id": anime_id,
            "title": title,
            "score": parse_score(KIND, "score", score_text),
            "type": clean(type_match.group("type")) if type_match else None,
            "episodes": parse_count(KIND, "episodes", type_match.group("episodes")) if type_match else None,
            "members": parse_count(KIND, "members", members_match.group(1)) if members_match else None,
        })
    return result
