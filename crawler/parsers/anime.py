"""The anime detail page, ``/anime/{id}/{slug}``, in its 2016-2024 layouts.

The left column holds ``<div><span class="dark_text">Label:</span> value</div>`` blocks whose labels
changed over the years (Genres/Genre, Themes/Theme, Studios/Studio); they are read by label, never by
position. The synopsis is ``p[itemprop=description]`` (2019+) or ``span[itemprop=description]``
(2016-2018).
"""

from __future__ import annotations

import re
from typing import Any

from parsel import Selector

from ._common import check_template, clean, clean_title, load_html, parse_count, parse_score
from .errors import NotThisPage, ParseError

KIND = "anime"
_ANIME_ID = re.compile(r"/anime/(\d+)(?:/|$|\?|#)")
_DBCHANGES_ID = re.compile(r"dbchanges\.php\?(?:[^\"']*&(?:amp;)?)?aid=(\d+)")
_NO_SYNOPSIS = re.compile(r"^no synopsis (?:information )?has been added", re.IGNORECASE)
_LABEL_FIELDS = {
    "genre": "genres", "genres": "genres",
    "theme": "themes", "themes": "themes",
    "studio": "studios", "studios": "studios",
    "demographic": "demographics", "demographics": "demographics",
}


def anime_id_from_url(url: str | None) -> int | None:
    """The MAL anime id in a URL such as ``https://myanimelist.net/anime/57181/Ao_no_Hako``."""
    match = _ANIME_ID.search(url or "")
    return int(match.group(1)) if match else None


def _info_blocks(sel: Selector) -> dict[str, Selector]:
    """Label (lower case, no colon) -> the block holding it, for every ``span.dark_text`` label."""
    blocks: dict[str, Selector] = {}
    for label in sel.css("span.dark_text"):
        name = clean(label.xpath("string()").get()).rstrip(":").strip().lower()
        parent = label.xpath("..")
        if name and parent and name not in blocks:
            blocks[name] = parent[0]
    return blocks


def _value_text(block: Selector) -> str:
    """A block's text without its label and without hidden duplicates (``span[itemprop=genre]``)."""
    texts = list(block.xpath("./text()").getall())
    for child in block.xpath("./*"):
        classes = f" {child.attrib.get('class', '')} "
        tag = child.root.tag if isinstance(child.root.tag, str) else ""
        if " dark_text " in classes or tag in {"sup", "div", "meta", "script", "style"}:
            continue
        if tag == "span" and child.attrib.get("itemprop") == "genre":
            continue
        texts.append(child.xpath("string()").get() or "")
    return clean(" ".join(texts))


def _link_names(block: Selector, href_part: str) -> list[str]:
    names = [clean(a.xpath("string()").get()) for a in block.css(f'a[href*="{href_part}"]')]
    return list(dict.fromkeys(n for n in names if n))


def _synopsis(sel: Selector) -> str | None:
    nodes = sel.css('p[itemprop="description"], span[itemprop="description"]')
    if not nodes:
        return None
    root = nodes[0].root
    # <br> is the paragraph structure of a synopsis; keep it as newlines, collapse everything else.
    pieces: list[str] = [root.text or ""]
    for node in root.iterdescendants():
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag == "br":
            pieces.append("\n")
        elif tag in {"script", "style"}:
            pieces.append(node.tail or "")
            continue
        else:
            pieces.append(node.text or "")
        pieces.append(node.tail or "")
    lines = [clean(line) for line in "".join(pieces).split("\n")]
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines + [""]:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    text = "\n\n".join(paragraphs).strip()
    if not text or _NO_SYNOPSIS.match(text):
        return None
    return text


def _title(sel: Selector) -> str | None:
    for query in ("h1.title-name", "h1 [itemprop=name]", "h1.h1", "h1"):
        node = sel.css(query)
        if node:
            # 2024: <h1 class="title-name"><strong>Title</strong></h1>; the English title is outside h1.
            text = clean_title(node[0].xpath("string()").get())
            if text:
                return text
    return clean_title(sel.css('meta[property="og:title"]::attr(content)').get()) or None


def _page_anime_id(sel: Selector) -> int | None:
    for query in ('link[rel="canonical"]::attr(href)', 'meta[property="og:url"]::attr(content)'):
        anime_id = anime_id_from_url(sel.css(query).get())
        if anime_id:
            return anime_id
    for href in sel.css('a[href*="dbchanges.php"]::attr(href)').getall():
        match = _DBCHANGES_ID.search(href)
        if match:
            return int(match.group(1))
    return None


def _score(blocks: dict[str, Selector], sel: Selector) -> float | None:
    block = blocks.get("score")
    if block is not None:
        node = block.css('[itemprop="ratingValue"], span.score-label')
        text = node[0].xpath("string()").get() if node else _value_text(block).split(" ")[0]
        return parse_score(KIND, "score", text)
    value = sel.css('[itemprop="ratingValue"]::text').get()
    return parse_score(KIND, "score", value) if value is not None else None


def _image_url(sel: Selector) -> str | None:
    img = sel.css('img[itemprop="image"]')
    if img:
        url = img[0].attrib.get("data-src") or img[0].attrib.get("src")
        if url:
            return url.strip()
    return (sel.css('meta[property="og:image"]::attr(content)').get() or "").strip() or None


def parse_anime(body: str | bytes, url: str | None = None) -> dict[str, Any]:
    """Parse an anime page into the ``anime`` record.

    ``anime_id`` comes from ``url`` (the response URL) when it names one, else from the page's
    canonical link, og:url or edit links. Fields MAL shows as Unknown / N/A come back as None; lists
    come back empty when the page shows none.
    """
    sel = load_html(body, KIND)
    blocks = _info_blocks(sel)
    if "type" not in blocks or ("episodes" not in blocks and "aired" not in blocks):
        raise NotThisPage(KIND, "no anime information block (span.dark_text Type/Episodes/Aired)")
    if sel.css("#summary_stats, table.score-stats, table.table-recently-updated"):
        raise NotThisPage(KIND, "this is an anime stats page, not the anime detail page")
    has_synopsis_heading = any(
        clean(h.xpath("string()").get()).endswith("Synopsis") for h in sel.css("h2")
    )
    if not (sel.css('[itemprop="description"]') or has_synopsis_heading):
        raise NotThisPage(KIND, "no synopsis section: not an anime detail page")

    anime_id = anime_id_from_url(url) or _page_anime_id(sel)
    if not anime_id:
        raise ParseError(KIND, "no anime id: pass the page URL (canonical link and og:url are missing)")
    raw = {
        "title": _title(sel),
        "synopsis": _synopsis(sel),
        "type": _value_text(blocks["type"]) if "type" in blocks else None,
        "episodes": _value_text(blocks["episodes"]) if "episodes" in blocks else None,
        "aired": _value_text(blocks["aired"]) if "aired" in blocks else None,
        "members": _value_text(blocks["members"]) if "members" in blocks else None,
    }
    lists: dict[str, list[str]] = {"genres": [], "themes": [], "studios": [], "demographics": []}
    for label, block in blocks.items():
        field = _LABEL_FIELDS.get(label)
        if field:
            href = "/anime/producer/" if field == "studios" else "/genre/"
            lists[field] = _link_names(block, href)
    check_template(KIND, {**raw, **lists})
    if not raw["title"]:
        raise ParseError(KIND, "the page has no title")
    record: dict[str, Any] = {
        "anime_id": anime_id,
        "title": raw["title"],
        "synopsis": raw["synopsis"],
        "genres": lists["genres"],
        "themes": lists["themes"],
        # Not in the stable interface's list, but shown on every page since 2020 (Shounen, Seinen...).
        "demographics": lists["demographics"],
        "type": raw["type"] if raw["type"] and raw["type"].lower() != "unknown" else None,
        "episodes": parse_count(KIND, "episodes", raw["episodes"]),
        "aired": raw["aired"] if raw["aired"] and raw["aired"] != "Not available" else None,
        "studios": lists["studios"],
        "score": _score(blocks, sel),
        "members": parse_count(KIND, "members", raw["members"]),
        "image_url": _image_url(sel),
    }
    return record
