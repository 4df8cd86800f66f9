"""Discovers usernames: MAL's recently-online page and the member lists of popular anime's stats pages.

Each username is yielded once per crawl (and upserted by ``_id``, so several workers or crawls never
duplicate a user). Spider arguments override the settings: ``-a users_pages=N -a users_first_page=N
-a top_pages=N -a stats_pages=N``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawler.items import UserItem
from crawler.parsers import parse_stats, parse_top, parse_users
from crawler.spiders.base import MalSpider
from crawler.urls import STATS_PAGE_SIZE, stats_url, top_url, users_url


class UsersSpider(MalSpider):
    name = "users"

    def __init__(self, users_pages: int | str | None = None, users_first_page: int | str | None = None,
                 top_pages: int | str | None = None, stats_pages: int | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.args = {"USERS_PHP_PAGES": users_pages, "USERS_PHP_FIRST_PAGE": users_first_page,
                     "USERS_TOP_PAGES": top_pages, "USERS_STATS_PAGES": stats_pages}
        self.seen: set[str] = set()

    def knob(self, name: str) -> int:
        value = self.args.get(name)
        return int(value) if value is not None else self.settings.getint(name)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        first = self.knob("USERS_PHP_FIRST_PAGE")
        for page in range(first, first + self.knob("USERS_PHP_PAGES")):
            yield scrapy.Request(users_url(self.base_url, page), callback=self.parse_users_php)
        for page in range(self.knob("USERS_TOP_PAGES")):
            yield scrapy.Request(top_url(self.base_url, page), callback=self.parse_top)

    def users(self, rows: list[dict[str, Any]]) -> Iterator[UserItem]:
        for row in rows:
            name = row["username"]
            if name not in self.seen:
                self.seen.add(name)
                self.count("crawler/users_discovered")
                yield UserItem(username=name)

    def parse_users_php(self, response: Response) -> Iterator[Any]:
        rows, retry = self.parse_page(response, parse_users, "users")
        if retry is not None:
            yield retry
        yield from self.users(rows or [])

    def parse_top(self, response: Response) -> Iterator[scrapy.Request]:
        rows, retry = self.parse_page(response, parse_top, "top")
        if retry is not None:
            yield retry
        for row in rows or []:
            yield scrapy.Request(stats_url(self.base_url, row["anime_id"]), callback=self.parse_stats,
                                 cb_kwargs={"anime_id": row["anime_id"], "show": 0})

    def parse_stats(self, response: Response, anime_id: int, show: int) -> Iterator[Any]:
        rows, retry = self.parse_page(response, parse_stats, "stats")
        if retry is not None:
            yield retry
        rows = rows or []
        yield from self.users(rows)
        next_show = show + STATS_PAGE_SIZE
        if len(rows) >= STATS_PAGE_SIZE and next_show < self.knob("USERS_STATS_PAGES") * STATS_PAGE_SIZE:
            yield scrapy.Request(stats_url(self.base_url, anime_id, next_show), callback=self.parse_stats,
                                 cb_kwargs={"anime_id": anime_id, "show": next_show})
