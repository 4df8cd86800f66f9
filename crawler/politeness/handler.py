"""Download handler that spends the politeness budget right before a request goes on the wire.

Downloader middlewares run *before* Scrapy's per-domain download queue: a request that got its token
there may still wait in that queue behind slow responses and then leave together with the next one, a
burst the site sees although the tokens were spaced. Wrapping the HTTP handler puts the wait after that
queue. Enable it (the politeness middleware notices and stops spending for these schemes)::

    DOWNLOAD_HANDLERS = {"http": "crawler.politeness.handler.BudgetDownloadHandler",
                         "https": "crawler.politeness.handler.BudgetDownloadHandler"}

``BUDGET_INNER_HANDLER`` ["scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"] does the download.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.misc import build_from_crawler, load_object

from crawler.politeness.bucket import RedisBudget
from crawler.politeness.middleware import budget_for, site_of, spend

INNER_DEFAULT = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"


class BudgetDownloadHandler(BaseDownloadHandler):
    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        self.inner: Any = build_from_crawler(load_object(settings.get("BUDGET_INNER_HANDLER") or INNER_DEFAULT),
                                             crawler)
        self.enabled = settings.getbool("BUDGET_ENABLED", True)
        self.budget = budget_for(crawler) if self.enabled else None
        self.late_tolerance = settings.getfloat("BUDGET_LATE_TOLERANCE", 0.25)

    async def download_request(self, request: Request) -> Response:
        if self.enabled and not request.meta.get("budget_exempt") and urlsplit(request.url).scheme in ("http", "https"):
            await spend(self.budget, site_of(request.url), self.crawler.stats,
                        isinstance(self.budget, RedisBudget), self.late_tolerance)
        return await self.inner.download_request(request)

    async def close(self) -> None:
        await self.inner.close()
