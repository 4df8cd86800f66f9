"""Spider middleware acknowledging a frontier request once everything its response produced is done.

A request popped from the shared queue stays recorded as in flight (:mod:`crawler.frontier.queue`)
until this middleware sees that its callback finished *and* every item the callback yielded went
through the item pipelines (``item_scraped`` / ``item_dropped`` / ``item_error``), so that a worker
killed at any moment loses nothing: whatever was not acknowledged is fetched again by another worker.
The item pipeline must therefore write items through (``MONGO_BATCH_SIZE = 1``) when it runs behind a
shared frontier; :func:`crawler.frontier.settings.redis_settings` sets that.

Requests whose download failed for good are not acknowledged here; the scheduler forgets them when the
worker finishes normally (see :class:`crawler.frontier.scheduler.FrontierScheduler`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy_redis.connection import get_redis_from_settings

from crawler.frontier.queue import META_KEY, ack

logger = logging.getLogger(__name__)


class FrontierAckMiddleware:
    def __init__(self, server: Any, stats: Any = None) -> None:
        self.server = server
        self.stats = stats
        # id(response) -> [items still in the pipelines, callback finished?, meta, response]
        self._pending: dict[int, list[Any]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierAckMiddleware:
        if not crawler.settings.get("REDIS_URL"):
            raise NotConfigured("no REDIS_URL: no shared frontier to acknowledge")
        mw = cls(get_redis_from_settings(crawler.settings), crawler.stats)
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(mw.item_done, signal=signal)
        return mw

    def _ack(self, meta: dict[str, Any]) -> None:
        try:
            if ack(self.server, meta) and self.stats is not None:
                self.stats.inc_value("frontier/acked")
        except Exception:  # the request is then fetched again after this worker ends: safe, only slower
            logger.warning("could not acknowledge a frontier request", exc_info=True)

    def _maybe_ack(self, key: int) -> None:
        state = self._pending.get(key)
        if state is not None and state[1] and state[0] <= 0:
            del self._pending[key]
            self._ack(state[2])

    def _track(self, response: Response) -> list[Any] | None:
        """The pending state of a frontier request's response (``[items in flight, output done, meta,
        response]``), or ``None`` when the request did not come from the shared frontier."""
        meta = response.meta if response is not None and response.request is not None else {}
        if not meta.get(META_KEY):
            return None
        # The response is kept in the state so that its id cannot be reused before the acknowledgement.
        return self._pending.setdefault(id(response), [0, False, meta, response])

    def _output_done(self, response: Response) -> None:
        self._pending[id(response)][1] = True
        self._maybe_ack(id(response))

    async def process_spider_output_async(self, response: Response, result: AsyncIterator[Any],
                                          spider: Any = None) -> AsyncIterator[Any]:
        state = self._track(response)
        try:
            async for element in result:
                if state is not None and not _is_request(element):
                    state[0] += 1
                yield element
        finally:
            if state is not None:
                self._output_done(response)

    def process_spider_output(self, response: Response, result: Any, spider: Any = None) -> Any:
        # Synchronous spider middlewares before this one: same bookkeeping, without awaiting.
        state = self._track(response)
        try:
            for element in result:
                if state is not None and not _is_request(element):
                    state[0] += 1
                yield element
        finally:
            if state is not None:
                self._output_done(response)

    def process_spider_exception(self, response: Response, exception: Exception, spider: Any = None) -> None:
        # The callback failed (logged and counted by Scrapy); fetching the page again would fail again.
        key = id(response)
        state = self._pending.get(key)
        if state is not None:
            state[1] = True
            self._maybe_ack(key)
        elif response is not None and response.meta.get(META_KEY):
            self._ack(response.meta)
        return None

    def item_done(self, item: Any = None, response: Any = None, spider: Any = None, **kwargs: Any) -> None:
        if response is None:
            return
        key = id(response)
        state = self._pending.get(key)
        if state is not None:
            state[0] -= 1
            self._maybe_ack(key)


def _is_request(element: Any) -> bool:
    from scrapy import Request

    return isinstance(element, Request)
