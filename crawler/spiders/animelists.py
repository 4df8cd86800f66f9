"""Fetches every due user's complete anime list: load.json pages of 300 entries, all statuses, to the end.

Users come from ``-a usernames=a,b,c`` or, by default, from the ``users`` collection; either way users
whose list was fetched less than ``ANIMELIST_MAX_AGE_HOURS`` ago are skipped. MAL answers HTTP 400 both
for a private list and for a user who does not exist, so a 400 is followed by the profile page: 404
means missing, a profile means private. The list is yielded once, complete, after its last page.

``-a via=browser`` reads the first 300 entries from the list page rendered by headless Chromium (its rows
are drawn by JavaScript) instead of load.json, then pages on through load.json as usual.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawler.browser.request import browser_request
from crawler.items import AnimeListItem, UserItem
from crawler.parsers import ListUnavailable, parse_animelist, parse_listpage, parse_profile
from crawler.spiders.base import MalSpider
from crawler.urls import LOADJSON_PAGE_SIZE, listpage_url, loadjson_url, profile_url
from pipeline.readers import usernames_due
from pipeline.store import connect

# The rendered list page is ready when its script has drawn the rows (or says the list is closed).
LISTPAGE_READY = "table.list-table[data-drawn], div.badresult"


class AnimelistsSpider(MalSpider):
    name = "animelists"

    def __init__(self, usernames: str | None = None, max_age_hours: float | str | None = None,
                 via: str = "json", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if via not in ("json", "browser"):
            raise ValueError(f"via must be 'json' or 'browser', got {via!r}")
        self.via = via
        self.usernames = [u.strip() for u in usernames.split(",") if u.strip()] if usernames else None
        self.max_age_hours = max_age_hours

    def due_usernames(self) -> list[str]:
        max_age = float(self.max_age_hours if self.max_age_hours is not None
                        else self.settings.getfloat("ANIMELIST_MAX_AGE_HOURS"))
        db = connect(self.settings.get("MONGO_URI"))
        try:
            due = usernames_due(db, max_age, self.usernames)
        finally:
            db.client.close()
        self.logger.info("%d users due for a list fetch (max age %.0f h)", len(due), max_age)
        self.crawler.stats.set_value("crawler/users_due", len(due))
        return due

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for username in self.due_usernames():
            if self.via == "browser":
                yield browser_request(listpage_url(self.base_url, username), wait_for=LISTPAGE_READY,
                                      callback=self.parse_rendered_list, cb_kwargs={"username": username},
                                      meta={"handle_httpstatus_list": [404]})
            else:
                yield self.list_page(username, offset=0, entries={})

    def list_page(self, username: str, offset: int, entries: dict[int, dict[str, Any]]) -> scrapy.Request:
        return scrapy.Request(
            loadjson_url(self.base_url, username, offset), callback=self.parse_list,
            cb_kwargs={"username": username, "offset": offset, "entries": entries},
            meta={"handle_httpstatus_list": [400, 404]},
        )

    def closed_list(self, username: str) -> scrapy.Request:
        return scrapy.Request(profile_url(self.base_url, username), callback=self.parse_closed_list,
                              cb_kwargs={"username": username}, meta={"handle_httpstatus_list": [404]})

    def parse_rendered_list(self, response: Response, username: str) -> Iterator[Any]:
        yield from self.parse_list(response, username, 0, {}, parser=parse_listpage)

    def parse_list(self, response: Response, username: str, offset: int, entries: dict[int, dict[str, Any]],
                   parser: Any = parse_animelist) -> Iterator[Any]:
        # A closed list is HTTP 400 on load.json, a "restricted" notice or a 404 on the list page.
        if response.status in (400, 404):
            yield self.closed_list(username)
            return
        try:
            page, retry = self.parse_page(response, parser, "animelist", reraise=(ListUnavailable,))
        except ListUnavailable:
            yield self.closed_list(username)
            return
        if page is None:
            if retry is not None:
                yield retry
            return
        # Keyed by anime id: a list edited between two page fetches must not yield an entry twice.
        entries = {**entries, **{e["anime_id"]: e for e in page}}
        if len(page) >= LOADJSON_PAGE_SIZE:
            yield self.list_page(username, offset + len(page), entries)
            return
        self.count("crawler/lists_complete")
        self.count("crawler/list_entries", len(entries))
        yield AnimeListItem(username=username, entries=list(entries.values()))
        yield UserItem(username=username, list_status="public")

    def parse_closed_list(self, response: Response, username: str) -> Iterator[Any]:
        if response.status == 404:
            self.count("crawler/lists_missing")
            yield UserItem(username=username, list_status="missing")
            return
        profile, retry = self.parse_page(response, parse_profile, "profile")
        if profile is None:
            if retry is not None:
                yield retry
            return
        self.count("crawler/lists_private")
        yield UserItem(username=username, list_status="private", profile=profile)
