"""The shared-frontier scheduler: scrapy-redis's scheduler made safe for many workers that come and go.

What it adds to ``scrapy_redis.scheduler.Scheduler`` (scrapy-redis 0.9.1, Scrapy 2.19):

- **Never deletes shared state.** ``close()`` never flushes the queue or the dupefilter, whatever
  ``SCHEDULER_PERSIST`` says: with scrapy-redis's default (``False``) the first worker to finish deletes
  the queue and dupefilter that the others are still using, and they fetch everything again.
- **In-flight records and recovery** (:mod:`crawler.frontier.queue`): each worker has an id and a
  heartbeat key with a TTL; requests it popped stay recorded until acknowledged. When a worker's
  heartbeat expires (``kill -9``, a lost VM), any other worker moves its in-flight requests back into the
  queue. A worker that closes for any reason other than ``finished`` (Ctrl-C, SIGTERM) leaves its records
  for the others and drops its heartbeat at once, so they are recovered without waiting for the TTL.
- **A sane idle close.** Scrapy closes a spider as soon as *its own* work is done, although another
  worker may be about to push new requests; scrapy-redis's ``MAX_IDLE_TIME_BEFORE_CLOSE`` (of
  ``RedisSpider``) measures idleness from a class attribute set at import time, so it fires early. Here a
  worker stays open while the shared queue has requests, while another live worker reports itself busy,
  or while a dead worker's requests wait to be recovered, and closes after ``FRONTIER_IDLE_CLOSE`` seconds
  of all of these being false. The spiders stay plain ``scrapy.Spider`` with ``async def start()``
  (``RedisSpider`` only defines ``start_requests()``, which Scrapy 2.13 deprecated and later versions
  dropped: scrapy/scrapy#7490; async ``start()`` support in scrapy-redis is still an open PR,
  rmax/scrapy-redis#316); every worker yields the same start requests and the shared dupefilter lets
  only the first of each through.

Settings: ``FRONTIER_WORKER_ID`` [host:pid:random], ``FRONTIER_HEARTBEAT`` [2 s],
``FRONTIER_WORKER_TTL`` [15 s], ``FRONTIER_IDLE_CLOSE`` [10 s], plus scrapy-redis's ``REDIS_URL``,
``SCHEDULER_QUEUE_KEY``, ``SCHEDULER_DUPEFILTER_KEY``. Stats: ``frontier/recovered`` (requests put back
from dead workers), ``frontier/acked``, ``frontier/idle_waits``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.utils.misc import load_object
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler.frontier.queue import META_KEY, ReliablePriorityQueue, ack

logger = logging.getLogger(__name__)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class FrontierScheduler(Scheduler):
    def __init__(self, server: Any, *, worker_id: str | None = None, heartbeat: float = 2.0,
                 worker_ttl: float = 15.0, idle_close: float = 10.0, **kwargs: Any) -> None:
        kwargs["persist"] = True
        kwargs["flush_on_start"] = False
        kwargs.setdefault("queue_cls", "crawler.frontier.queue.ReliablePriorityQueue")
        super().__init__(server, **kwargs)
        if worker_ttl <= 2 * heartbeat:
            raise ValueError(f"FRONTIER_WORKER_TTL ({worker_ttl}) must exceed twice FRONTIER_HEARTBEAT ({heartbeat})")
        if idle_close < 2 * heartbeat:
            raise ValueError(f"FRONTIER_IDLE_CLOSE ({idle_close}) must be at least twice FRONTIER_HEARTBEAT")
        self.worker_id = worker_id or default_worker_id()
        self.heartbeat_interval = heartbeat
        self.worker_ttl = worker_ttl
        self.idle_close = idle_close
        self.crawler: Any = None
        self._heartbeat: task.LoopingCall | None = None
        self._idle_since: float | None = None
        self._enqueued = 0
        self._filtered = 0
        self._dequeued = 0
        self._wake_call: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> FrontierScheduler:
        settings = crawler.settings
        base = Scheduler.from_settings(settings)  # the parsing of scrapy-redis's own settings
        kwargs = {name: getattr(base, attr) for name, attr in (
            ("queue_key", "queue_key"), ("queue_cls", "queue_cls"), ("dupefilter", "df"),
            ("dupefilter_key", "dupefilter_key"), ("dupefilter_cls", "dupefilter_cls"),
            ("idle_before_close", "idle_before_close"), ("serializer", "serializer"))}
        if not issubclass(load_object(kwargs["queue_cls"]), ReliablePriorityQueue):
            raise ValueError(f"FrontierScheduler needs SCHEDULER_QUEUE_CLASS = "
                             f"'crawler.frontier.queue.ReliablePriorityQueue', not {kwargs['queue_cls']!r}")
        scheduler = cls(base.server, worker_id=settings.get("FRONTIER_WORKER_ID") or None,
                        heartbeat=settings.getfloat("FRONTIER_HEARTBEAT", 2.0),
                        worker_ttl=settings.getfloat("FRONTIER_WORKER_TTL", 15.0),
                        idle_close=settings.getfloat("FRONTIER_IDLE_CLOSE", 10.0), **kwargs)
        scheduler.stats = crawler.stats
        scheduler.crawler = crawler
        crawler.signals.connect(scheduler.spider_idle, signal=signals.spider_idle)
        return scheduler

    # -- keys ---------------------------------------------------------------------------------------
    def _prefix(self) -> str:
        return self.queue.key

    def workers_key(self) -> str:
        return f"{self._prefix()}:workers"

    def heartbeat_key(self, worker_id: str) -> str:
        return f"{self._prefix()}:worker:{worker_id}"

    def inflight_key(self, worker_id: str) -> str:
        return f"{self._prefix()}:inflight:{worker_id}"

    # -- life cycle ---------------------------------------------------------------------------------
    def open(self, spider: Any) -> None:
        self.spider = spider
        super().open(spider)
        self.queue.inflight_key = self.inflight_key(self.worker_id)
        self.server.sadd(self.workers_key(), self.worker_id)
        self.beat()
        self._heartbeat = task.LoopingCall(self.beat)
        self._heartbeat.start(self.heartbeat_interval, now=False)
        recovered = self.recover()
        logger.info("frontier worker %s: %d requests queued in %s%s", self.worker_id, len(self.queue),
                    self.queue.key, f", {recovered} recovered from dead workers" if recovered else "")

    def close(self, reason: str) -> None:
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        # Never flush: the queue and dupefilter are shared with workers still running.
        pipe = self.server.pipeline()
        pipe.delete(self.heartbeat_key(self.worker_id))
        if reason == "finished":
            # Everything popped was processed; what is left are requests whose download failed for good
            # (already reported by Scrapy), or originals of retries/redirects queued again.
            pipe.delete(self.inflight_key(self.worker_id))
            pipe.srem(self.workers_key(), self.worker_id)
        pipe.execute()
        if reason != "finished":
            left = self.server.hlen(self.inflight_key(self.worker_id)) // 2
            logger.info("frontier worker %s closed (%s); its %d in-flight requests go back to the queue",
                        self.worker_id, reason, left)
            # Put them back now rather than after the TTL: nobody else holds this worker's id.
            self.queue.requeue(self.inflight_key(self.worker_id))
            self.server.srem(self.workers_key(), self.worker_id)
        if self._wake_call is not None and self._wake_call.active():
            self._wake_call.cancel()
        if self._enqueued == 0 and self._dequeued == 0 and self._filtered > 0:
            logger.warning(
                "all %d requests of this run were already in the shared dupefilter %s: this crawl was "
                "done before. To crawl again from scratch run: animerec frontier reset --redis URL --spider %s",
                self._filtered, self.dupefilter_key % {"spider": self.spider.name}, self.spider.name)

    def _busy(self) -> bool:
        """Whether this worker is downloading or processing anything (or its start requests are not done)."""
        engine = getattr(self.crawler, "engine", None)
        try:
            return not engine.spider_is_idle()
        except (AttributeError, RuntimeError):  # engine not running yet, or already gone
            return engine is None or getattr(engine, "running", False)

    def beat(self) -> None:
        """Refresh this worker's heartbeat (with whether it is busy) so others know it is alive."""
        state = {"busy": self._busy(), "t": time.time()}
        try:
            pipe = self.server.pipeline()
            pipe.set(self.heartbeat_key(self.worker_id), json.dumps(state), px=int(self.worker_ttl * 1000))
            # Re-register too: a worker whose reactor stalled past the TTL was taken for dead and removed;
            # once it beats again it must be known, or its next in-flight requests could never be recovered.
            pipe.sadd(self.workers_key(), self.worker_id)
            pipe.execute()
        except Exception:
            logger.warning("frontier heartbeat failed (Redis unreachable?)", exc_info=True)

    # -- recovery -----------------------------------------------------------------------------------
    def recover(self) -> int:
        """Requeue the in-flight requests of every worker whose heartbeat expired; how many."""
        moved = 0
        for raw in self.server.smembers(self.workers_key()):
            other = raw.decode() if isinstance(raw, bytes) else raw
            if other == self.worker_id or self.server.exists(self.heartbeat_key(other)):
                continue
            # RENAME is atomic: of several survivors recovering at once, exactly one gets the records.
            claimed = f"{self.inflight_key(other)}:recovering:{self.worker_id}"
            try:
                self.server.rename(self.inflight_key(other), claimed)
            except Exception:  # no such key: already recovered, or the worker had nothing in flight
                claimed = None
            if claimed:
                n = self.queue.requeue(claimed)
                moved += n
                if n:
                    logger.warning("worker %s is gone; put its %d in-flight requests back in the queue", other, n)
            self.server.srem(self.workers_key(), other)
        if moved and self.stats is not None:
            self.stats.inc_value("frontier/recovered", moved)
        return moved

    def others_busy(self) -> list[str]:
        busy = []
        for raw in self.server.smembers(self.workers_key()):
            other = raw.decode() if isinstance(raw, bytes) else raw
            if other == self.worker_id:
                continue
            state = self.server.get(self.heartbeat_key(other))
            if state is None:
                continue
            try:
                if json.loads(state).get("busy", True):
                    busy.append(other)
            except ValueError:
                busy.append(other)
        return busy

    def spider_idle(self, spider: Any = None) -> None:
        """Keep this worker open while the shared crawl can still produce work for it."""
        recovered = self.recover()
        queued = len(self.queue)
        busy = self.others_busy()
        dead_pending = self._dead_with_inflight()
        if recovered or queued or busy or dead_pending:
            self._idle_since = None
            if self.stats is not None:
                self.stats.inc_value("frontier/idle_waits")
            logger.debug("idle but staying open: %d queued, busy workers %s, dead workers pending %s",
                         queued, busy, dead_pending)
            self._wake_engine_in(0.05 if queued else self.heartbeat_interval)
            raise DontCloseSpider
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        if now - self._idle_since < self.idle_close:
            # Scrapy looks at an idle spider again only every 5 s; ask for a look when the time is up.
            self._wake_engine_in(self.idle_close - (now - self._idle_since) + 0.05)
            raise DontCloseSpider
        logger.info("shared frontier empty and no worker busy for %.0fs: closing", self.idle_close)

    def _wake_engine_in(self, seconds: float) -> None:
        from twisted.internet import reactor

        def wake() -> None:
            slot = getattr(getattr(self.crawler, "engine", None), "_slot", None)
            if slot is not None and getattr(slot, "nextcall", None) is not None:
                slot.nextcall.schedule()

        if self._wake_call is None or not self._wake_call.active():
            self._wake_call = reactor.callLater(seconds, wake)

    def _dead_with_inflight(self) -> list[str]:
        """Workers whose heartbeat still runs (not yet expired) but that never said they were idle is
        handled by ``others_busy``; this lists registered workers with records but no heartbeat."""
        pending = []
        for raw in self.server.smembers(self.workers_key()):
            other = raw.decode() if isinstance(raw, bytes) else raw
            if other != self.worker_id and not self.server.exists(self.heartbeat_key(other)) and \
                    self.server.exists(self.inflight_key(other)):
                pending.append(other)
        return pending

    # -- requests -----------------------------------------------------------------------------------
    def next_request(self) -> Any:
        request = super().next_request()
        if request is not None:
            self._dequeued += 1
        return request

    def enqueue_request(self, request: Any) -> bool:
        # A request carrying an in-flight marker is a retry or redirect of a request this worker popped:
        # queue the new one first, then forget the old record (a crash in between means a refetch, not a loss).
        marker = request.meta.get(META_KEY)
        added = super().enqueue_request(request)
        if added:
            self._enqueued += 1
        else:
            self._filtered += 1
        if marker:
            if ack(self.server, {META_KEY: marker}) and self.stats is not None:
                self.stats.inc_value("frontier/acked")
        return added
