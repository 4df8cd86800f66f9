"""Common ground of the MAL spiders: the site's base URL, and one way to treat pages that do not parse.

A page that does not parse is never turned into an item. Pages that are transient by nature (a captcha
or ban page served with HTTP 200, a truncated body) are retried through Scrapy's retry machinery, and
counted under ``crawler/page_errors/<kind>/<reason>``; other failures (a template page, a page of the
wrong kind) are logged and counted only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import scrapy
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.http import Response

from crawler.parsers.errors import BlockedPage, ParseError, TruncatedPage

RETRYABLE = (BlockedPage, TruncatedPage)


def reason_of(exc: ParseError) -> str:
    """``TruncatedPage`` -> ``truncated_page``: a stable token for stats keys."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


class MalSpider(scrapy.Spider):
    @property
    def base_url(self) -> str:
        return self.settings.get("MAL_BASE_URL").rstrip("/")

    def count(self, key: str, n: int = 1) -> None:
        self.crawler.stats.inc_value(key, n)

    def parse_page(self, response: Response, parser: Callable[..., Any], kind: str,
                   reraise: tuple[type[ParseError], ...] = (), **kwargs: Any) -> tuple[Any, scrapy.Request | None]:
        """``(parsed, None)`` on success, ``(None, retry_request_or_None)`` when the page does not parse.

        Errors in ``reraise`` are the caller's to handle (they are answers, such as "this list is closed").
        """
        try:
            return parser(response.text, **kwargs), None
        except reraise:
            raise
        except ParseError as exc:
            reason = reason_of(exc)
            self.count(f"crawler/page_errors/{kind}/{reason}")
            retry = None
            if isinstance(exc, RETRYABLE):
                retry = get_retry_request(response.request, spider=self, reason=f"{kind}_{reason}")
            if retry is None:
                self.count(f"crawler/pages_failed/{kind}")
                self.logger.warning("giving up on %s page %s: %s", kind, response.url, exc)
            else:
                self.logger.info("%s page %s did not parse (%s); retrying", kind, response.url, exc)
            return None, retry
