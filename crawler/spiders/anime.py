"""Fetches the page of every anime seen in the stored lists (and, optionally, the top-anime ranking),
once: anime already stored are skipped unless ``-a refetch=1``. ``-a ids=1,5,...`` fetches given ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawler.items import AnimeItem
from crawler.parsers import parse_anime, parse_top
from crawler.spiders.base import MalSpider
from crawler.urls import anime_url, top_url
from pipeline.readers import anime_ids_due
from pipeline.store import connect


class AnimeSpider(MalSpider):
    name = "anime"

    def __init__(self, ids: str | None = None, refetch: str | bool = False, top_pages: int | str = 0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ids = [int(i) for i in ids.split(",") if i.strip()] if ids else None
        self.refetch = str(refetch).lower() in ("1", "true", "yes")
        self.top_pages = int(top_pages)

    def due_ids(self) -> list[int]:
        if self.ids is not None:
            return self.ids
        db = connect(self.settings.get("MONGO_URI"))
        try:
            due = anime_ids_due(db, refetch=self.refetch)
        finally:
            db.client.close()
        self.logger.info("%d anime due for a page fetch", len(due))
        self.crawler.stats.set_value("crawler/anime_due", len(due))
        return due

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for anime_id in self.due_ids():
            yield self.anime_page(anime_id)
        for page in range(self.top_pages):
            yield scrapy.Request(top_url(self.base_url, page), callback=self.parse_top)

    def anime_page(self, anime_id: int) -> scrapy.Request:
        # The dupefilter keys on this URL, so an id reached from a list and from the top page is fetched once.
        return scrapy.Request(anime_url(self.base_url, anime_id), callback=self.parse_anime,
                              cb_kwargs={"anime_id": anime_id}, meta={"handle_httpstatus_list": [404]})

    def parse_top(self, response: Response) -> Iterator[scrapy.Request]:
        rows, retry = self.parse_page(response, parse_top, "top")
        if retry is not None:
            yield retry
        for row in rows or []:
            yield self.anime_page(row["anime_id"])

    def parse_anime(self, response: Response, anime_id: int) -> Iterator[Any]:
        if response.status == 404:
            self.count("crawler/anime_missing")
            self.logger.warning("anime %d does not exist (404)", anime_id)
            return
        anime, retry = self.parse_page(response, parse_anime, "anime", url=response.url)
        if anime is None:
            if retry is not None:
                yield retry
            return
        if anime.get("anime_id") is None:
            anime["anime_id"] = anime_id
        self.count("crawler/anime_pages")
        yield AnimeItem(**{k: anime.get(k) for k in AnimeItem.fields})
