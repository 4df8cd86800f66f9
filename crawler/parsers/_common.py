"""Helpers shared by the page parsers: decoding, the checks every page goes through, and number parsing.

Every HTML parser calls :func:`load_html` first. It classifies a body that is not content at all
(captcha, ban or rate-limit page, truncated body, 404 page) with the matching :mod:`.errors` class, so
the per-kind parsers only deal with pages that are complete and real.

Truncation rule: every page MAL serves (2016-2024, every kind) ends with ``</html>``; a body whose
end, give or take whitespace, is not ``</html>`` was cut off and is rejected before anything is read
from it. lxml would otherwise happily "repair" a half page and we would store half a record.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from parsel import Selector

from .errors import (
    BlockedPage,
    NotFoundPage,
    NotThisPage,
    ParseError,
    ServerErrorPage,
    TemplatePage,
    TruncatedPage,
)

_HTML_END = re.compile(r"</html\s*>\s*$", re.IGNORECASE)
# Unrendered client-side templates: ES template literals (MAL's list page) and Vue/Jinja moustaches.
_TEMPLATE = re.compile(r"\$\{\s*[\w.$\[\]'\"]+\s*\}|\{\{\s*[\w.]+\s*\}\}")
# Titles and headings of MAL's (and proxies') block pages. Matched against the whole title or h1 so
# that an anime merely called "Forbidden ..." is not mistaken for a ban page.
_BLOCKED_TITLE = re.compile(
    r"(?:error\s*)?403(?:\s*[-:]?\s*(?:forbidden|access denied|banned|blocked)\b.*)?|"
    r"(?:error\s*)?429(?:\s*[-:]?\s*(?:too many requests|rate limit\w*)\b.*)?|"
    r"forbidden|access denied|too many requests|rate limit(?:ed| exceeded)?|"
    r"you (?:have been|are) (?:banned|blocked|rate limited)\b.*|"
    r"are you (?:a )?human\??|(?:please )?verify (?:that )?you are (?:a )?human\.?|captcha",
    re.IGNORECASE,
)
_SERVER_ERROR_TITLE = re.compile(
    r"(?:(?:error\s*)?5\d\d\s*[-:]?\s*)?(?:internal server error|service (?:temporarily )?unavailable|"
    r"bad gateway|gateway time-?out)|(?:error\s*)?5\d\d",
    re.IGNORECASE,
)
_SITE_SUFFIX = re.compile(r"\s*-\s*MyAnimeList(?:\.net)?\s*$", re.IGNORECASE)
_NOT_FOUND_TITLE = re.compile(r"^404\b|^(?:page )?not found$", re.IGNORECASE)
_NONE_WORDS = frozenset({"", "-", "?", "n/a", "na", "unknown", "none"})

# MAL list status codes, by the words the pages use for them.
STATUS_CODES = {
    "watching": 1, "currently watching": 1,
    "completed": 2,
    "on-hold": 3, "on hold": 3, "on_hold": 3,
    "dropped": 4,
    "plan to watch": 6, "plan_to_watch": 6, "plantowatch": 6,
}


_MARKUP_BREAK = re.compile(r"[ \t]*[\r\n\t]\s*")


def to_text(body: str | bytes) -> str:
    """The body as text. MAL serves UTF-8; undecodable bytes become U+FFFD rather than an exception."""
    if isinstance(body, bytes | bytearray | memoryview):
        body = bytes(body).decode("utf-8", errors="replace")
    if not isinstance(body, str):
        raise TypeError(f"body must be str or bytes, not {type(body).__name__}")
    return body.lstrip("\ufeff")


def clean(text: str | None) -> str:
    """Collapse runs of whitespace (including non-breaking spaces) to single spaces and strip."""
    return " ".join((text or "").replace("\xa0", " ").split())


def title_text(sel: Selector) -> str:
    """The document <title>, without the site name suffix."""
    return _SITE_SUFFIX.sub("", clean(" ".join(sel.xpath("//head/title//text() | /html/title//text()").getall())))


def has_template(text: str | None) -> bool:
    return bool(text) and bool(_TEMPLATE.search(text))


def check_template(kind: str, values: dict[str, Any]) -> None:
    """Raise TemplatePage if any extracted text (or text in a list) is unrendered template text."""
    for name, value in values.items():
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, str) and has_template(item):
                raise TemplatePage(kind, f"{name} is unrendered template text {clean(item)[:60]!r}")


def classify_block(sel: Selector, kind: str) -> None:
    """Raise BlockedPage for captcha, ban and rate-limit pages, ServerErrorPage for 5xx error pages."""
    if sel.css("div.display-submit"):
        raise BlockedPage(kind, "captcha page (div.display-submit) served instead of content")
    headings = [title_text(sel), clean(" ".join(sel.css("h1 ::text").getall()))]
    for heading in headings:
        if heading and _BLOCKED_TITLE.fullmatch(heading):
            raise BlockedPage(kind, f"block page served instead of content: {heading[:80]!r}")
        if heading and _SERVER_ERROR_TITLE.fullmatch(heading):
            raise ServerErrorPage(kind, f"server error page served instead of content: {heading[:80]!r}")


def classify_not_found(sel: Selector, kind: str) -> None:
    """Raise NotFoundPage for MAL's 404 page (``div.error404``, title "404 Not Found", og:url /error/404)."""
    og_url = sel.css('meta[property="og:url"]::attr(content)').get() or ""
    if sel.css("div.error404") or _NOT_FOUND_TITLE.search(title_text(sel)) or og_url.rstrip("/").endswith(
        "/error/404"
    ):
        raise NotFoundPage(kind, f"404 page: {title_text(sel) or 'not found'}")


def load_html(body: str | bytes, kind: str) -> Selector:
    """Parse an HTML body after ruling out block pages, truncation and 404 pages (in that order).

    Block pages come first because a captcha or ban page is the more useful diagnosis even when it is
    also short; truncation before 404 because a cut-off page cannot be trusted to say anything.
    """
    text = to_text(body)
    if not text.strip():
        raise TruncatedPage(kind, "empty body")
    if not text.lstrip().startswith("<"):
        what = "a JSON body" if text.lstrip()[:1] in "[{" else "not markup"
        raise NotThisPage(kind, f"expected an HTML page, got {what}")
    sel = Selector(text=text, type="html")
    classify_block(sel, kind)
    if not _HTML_END.search(text[-4096:]):
        raise TruncatedPage(kind, "the body does not end with </html>: it was cut off")
    classify_not_found(sel, kind)
    return sel


def load_json(body: str | bytes, kind: str) -> Any:
    """Decode a JSON body; an HTML body is classified (blocked / 404 / wrong kind) instead."""
    text = to_text(body).strip()
    if not text:
        raise TruncatedPage(kind, "empty body")
    if text.startswith("<"):
        load_html(text, kind)  # raises for block, truncated and 404 pages
        raise NotThisPage(kind, "expected a JSON body, got an HTML page")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        closer = {"[": "]", "{": "}"}.get(text[0])
        if closer and not text.endswith(closer):
            raise TruncatedPage(kind, f"JSON body ends mid-value ({exc.msg} at char {exc.pos})") from None
        if text[0] in "[{":
            raise ParseError(kind, f"malformed JSON ({exc.msg} at char {exc.pos})") from None
        raise NotThisPage(kind, "the body is neither JSON nor HTML") from None


def parse_count(kind: str, name: str, text: str | None) -> int | None:
    """A non-negative integer as MAL prints it ("128,442", "#193"); None for Unknown, N/A, "-" or "?"."""
    value = clean(text).lstrip("#")
    if value.lower() in _NONE_WORDS:
        return None
    digits = value.replace(",", "")
    if not digits.isdigit():
        raise ParseError(kind, f"{name} is not a number: {value[:40]!r}")
    return int(digits)


def parse_score(kind: str, name: str, text: str | None) -> float | None:
    """A 0-10 score ("8.40"); None for "N/A" and its relatives."""
    value = clean(text)
    if value.lower() in _NONE_WORDS:
        return None
    try:
        score = float(value.replace(",", ""))
    except ValueError:
        raise ParseError(kind, f"{name} is not a number: {value[:40]!r}") from None
    if not 0.0 <= score <= 10.0:
        raise ParseError(kind, f"{name} {score} is outside 0..10")
    return score


def clean_title(text: str | None) -> str:
    """A title as served: ends stripped and markup line breaks folded, but runs of plain spaces kept
    (some real titles have them, e.g. anime 30155), so crawled titles equal the site's."""
    return _MARKUP_BREAK.sub(" ", (text or "").replace("\xa0", " ")).strip()


def unescape(text: str) -> str:
    """HTML entities in JSON strings (some MAL JSON carries ``&#039;``) decoded, ends stripped."""
    return clean_title(html.unescape(text) if "&" in text else text)


def status_code(text: str | None) -> int | None:
    """The list status code (1, 2, 3, 4, 6) for the word MAL shows, or None when it is not one."""
    return STATUS_CODES.get(clean(text).lower())
