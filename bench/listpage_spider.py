"""Benchmark spider: the first 300 entries of each user's list, by the JSON path or the Selenium path.

    scrapy runspider bench/listpage_spider.py -a usernames=a,b -a path=json|browser

``json``: load.json?offset=0 over plain HTTP. ``browser``: the /animelist/{user} page rendered by
headless Chromium (rows drawn by JavaScript), parsed with the same list parser. Items are dropped by
the benchmark (no MongoDB); the numbers are in the stats (``bench/entries``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy

from crawler.browser import browser_request
from crawler.parsers import parse_animelist, parse_listpage
from crawler.urls import listpage_url, loadjson_url


class ListPageBench(scrapy.Spider):
    name = "bench_listpage"

    def __init__(self, usernames: str = "", path: str = "json", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if path not in ("json", "browser"):
            raise ValueError(f"path must be json or browser, not {path!r}")
        self.usernames = [u for u in usernames.split(",") if u]
        self.path = path

    async def start(self) -> AsyncIterator[scrapy.Request]:
        base = self.settings.get("MAL_BASE_URL").rstrip("/")
        for username in self.usernames:
            if self.path == "json":
                yield scrapy.Request(loadjson_url(base, username, 0), callback=self.parse_json)
            else:
                yield browser_request(listpage_url(base, username), callback=self.parse_rendered,
                                      wait_for="table.list-table[data-drawn]")

    def parse_json(self, response: scrapy.http.Response) -> Iterator[Any]:
        self.crawler.stats.inc_value("bench/entries", len(parse_animelist(response.body)))
        self.crawler.stats.inc_value("bench/pages")
        return iter(())

    def parse_rendered(self, response: scrapy.http.Response) -> Iterator[Any]:
        rows = len(response.css("tr.list-table-data"))
        entries = parse_listpage(response.body)
        if rows != len(entries):
            self.logger.error("%s: %d rows drawn but %d entries in data-items", response.url, rows, len(entries))
        self.crawler.stats.inc_value("bench/entries", len(entries))
        self.crawler.stats.inc_value("bench/pages")
        return iter(())
