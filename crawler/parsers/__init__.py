"""Parsers: pure functions from a response body (str or bytes) to plain dicts, one module per page kind.

Every parser has the signature ``parse_KIND(body, url=None)`` and either returns data or raises a
:class:`~crawler.parsers.errors.ParseError` subclass whose ``reason`` token says why:

- ``NotThisPage`` (``wrong_kind``): a real page of another kind; ``NotFoundPage`` (``not_found``): MAL's 404;
- ``BlockedPage`` (``blocked``): captcha / ban / rate-limit page, and its subclass ``ServerErrorPage``
  (``server_error``): a 5xx error page -- both transient, retry after a back-off;
- ``TruncatedPage`` (``truncated``): cut-off body, retry; ``TemplatePage`` (``template``): unrendered
  ``${ ... }`` text; ``ListUnavailable`` (``list_unavailable``): load.json's private/missing-list body;
- ``ParseError`` itself (``invalid``): the page is of the right kind but holds malformed data.

They need no Scrapy objects, so the spiders, the CLI (``animerec parse``) and the tests share them.

========== ===================================== =========================================
kind       page                                  returns
========== ===================================== =========================================
anime      /anime/{id}/{slug}                    dict (the ``anime`` record)
stats      /anime/{id}/{slug}/stats?m=all        list of {username, score, status, ...}
users      /users.php                            list of {username, last_online}
profile    /profile/{user}                       dict {username, watching, ..., total_entries}
animelist  /animelist/{user}/load.json?offset=N  list of list entries
listpage   /animelist/{user} (data-items)        list of list entries
top        /topanime.php?limit=N                 list of ranking rows
========== ===================================== =========================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .anime import anime_id_from_url, parse_anime
from .animelist import parse_animelist, parse_entry, parse_listpage
from .errors import (
    BlockedPage,
    ListUnavailable,
    NotFoundPage,
    NotThisPage,
    ParseError,
    ServerErrorPage,
    TemplatePage,
    TruncatedPage,
)
from .profile import parse_profile
from .stats import parse_stats
from .top import parse_top
from .users import parse_users, username_from_href

Parser = Callable[..., Any]

PARSERS: dict[str, Parser] = {
    "anime": parse_anime,
    "stats": parse_stats,
    "users": parse_users,
    "profile": parse_profile,
    "animelist": parse_animelist,
    "listpage": parse_listpage,
    "top": parse_top,
}

__all__ = [
    "PARSERS",
    "BlockedPage",
    "ListUnavailable",
    "NotFoundPage",
    "NotThisPage",
    "ParseError",
    "ServerErrorPage",
    "TemplatePage",
    "TruncatedPage",
    "anime_id_from_url",
    "parse_anime",
    "parse_animelist",
    "parse_entry",
    "parse_listpage",
    "parse_profile",
    "parse_stats",
    "parse_top",
    "parse_users",
    "username_from_href",
]
