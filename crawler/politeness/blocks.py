"""Recognising block pages from their content: captcha, ban and rate-limit pages.

The browser cannot see HTTP status codes reliably, and sites (MAL among them) serve captcha pages with
HTTP 200, so both the browser middleware and the politeness budget classify bodies as well as statuses.
Only the ``<title>``, the first ``<h1>`` and MAL's captcha form are looked at, and a heading must match
as a whole, so that an anime called "Forbidden ..." is not mistaken for a ban.
"""

from __future__ import annotations

import html
import re

CAPTCHA = "captcha"
BAN = "ban"
RATE_LIMIT = "rate_limit"

_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1\s*>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_SITE_SUFFIX = re.compile(r"\s*-\s*MyAnimeList(?:\.net)?\s*$", re.IGNORECASE)
# MAL's captcha page is a form in div.display-submit; other sites use (re|h)captcha widgets.
_CAPTCHA_MARKUP = re.compile(
    r"""class\s*=\s*["'][^"']*\b(?:display-submit|g-recaptcha|h-captcha|cf-turnstile)\b""", re.IGNORECASE
)
_HEADINGS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (CAPTCHA, re.compile(r"(?:please )?verify you are (?:a )?human.*|.*\bcaptcha\b.*|are you a robot\??",
                         re.IGNORECASE)),
    (RATE_LIMIT, re.compile(r"(?:error\s*)?429\b.*|too many requests.*|rate limit(?:ed| exceeded)?.*",
                            re.IGNORECASE)),
    (BAN, re.compile(r"(?:error\s*)?403\b.*|access denied.*|forbidden|you (?:have been|are) (?:banned|blocked).*",
                     re.IGNORECASE)),
)
# Block pages are small; a real content page is not scanned past this many characters.
_SCAN_CHARS = 200_000


def _clean(fragment: str) -> str:
    return " ".join(html.unescape(_TAGS.sub(" ", fragment)).replace("\xa0", " ").split())


def classify_block(body: str | bytes) -> str | None:
    """``"captcha"``, ``"rate_limit"`` or ``"ban"`` when the body is such a page, else ``None``."""
    if isinstance(body, bytes | bytearray):
        body = bytes(body[:_SCAN_CHARS]).decode("utf-8", errors="replace")
    text = body[:_SCAN_CHARS]
    if _CAPTCHA_MARKUP.search(text):
        return CAPTCHA
    headings = []
    if m := _TITLE.search(text):
        headings.append(_SITE_SUFFIX.sub("", _clean(m.group(1))))
    if m := _H1.search(text):
        headings.append(_clean(m.group(1)))
    for heading in headings:
        if not heading:
            continue
        for reason, pattern in _HEADINGS:
            if pattern.fullmatch(heading):
                return reason
    return None


# The HTTP status a block page stands for, when it arrived as 200 (browser path, captcha pages).
STATUS_OF_BLOCK = {CAPTCHA: 403, BAN: 403, RATE_LIMIT: 429}
