"""The items the spiders yield. Field names are the parsers' public names; the pipeline validates them.

Each item class names the kind of record it is (``KIND``), which selects the validator and the
MongoDB collection in :mod:`pipeline.pipelines`.
"""

from __future__ import annotations

import scrapy


class AnimeItem(scrapy.Item):
    KIND = "anime"
    anime_id = scrapy.Field()
    title = scrapy.Field()
    synopsis = scrapy.Field()
    genres = scrapy.Field()
    themes = scrapy.Field()
    demographics = scrapy.Field()
    type = scrapy.Field()
    episodes = scrapy.Field()
    aired = scrapy.Field()
    studios = scrapy.Field()
    score = scrapy.Field()
    members = scrapy.Field()
    image_url = scrapy.Field()


class AnimeListItem(scrapy.Item):
    """A user's complete list: every entry of every status, gathered over all load.json pages."""

    KIND = "animelist"
    username = scrapy.Field()
    entries = scrapy.Field()


class UserItem(scrapy.Item):
    """A discovered user; ``list_status`` is public, private or missing once the list was tried."""

    KIND = "user"
    username = scrapy.Field()
    list_status = scrapy.Field()
    profile = scrapy.Field()
