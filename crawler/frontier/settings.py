"""The Scrapy settings that put a crawl on the shared frontier and the shared politeness budget.

``animerec crawl --redis URL`` (or any script) applies them on top of the project settings::

    from crawler.frontier import apply_redis_settings
    apply_redis_settings(settings, "redis://redis:6379/0")   # a scrapy.settings.Settings

Every worker started with the same URL then shares one request queue, one dupefilter and one
politeness budget, and a worker may be killed or added at any time.
"""

from __future__ import annotations

from typing import Any

SCHEDULER_CLASS = "crawler.frontier.scheduler.FrontierScheduler"
QUEUE_CLASS = "crawler.frontier.queue.ReliablePriorityQueue"
ACK_MIDDLEWARE = "crawler.frontier.middleware.FrontierAckMiddleware"
ACK_MIDDLEWARE_ORDER = 50  # close to the engine: sees the final output of the callback and of other middlewares


def redis_settings(redis_url: str, *, key_prefix: str = "animerec", idle_close: float = 10.0,
                   worker_ttl: float = 15.0, heartbeat: float = 2.0) -> dict[str, Any]:
    """Plain (non-dict) settings for the shared frontier on ``redis_url``; see :func:`apply_redis_settings`.

    Keys are ``<key_prefix>:<spider>:requests`` (queue), ``...:dupefilter``, ``...:requests:workers``,
    ``...:requests:worker:<id>`` (heartbeats), ``...:requests:inflight:<id>``; the budget uses
    ``<key_prefix>:budget:<site>:...``.
    """
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"not a Redis URL: {redis_url!r} (expected redis://host:6379/0)")
    return {
        "REDIS_URL": redis_url,
        "SCHEDULER": SCHEDULER_CLASS,
        "SCHEDULER_QUEUE_CLASS": QUEUE_CLASS,
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        # The shared state outlives every worker; FrontierScheduler refuses to flush it either way.
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_FLUSH_ON_START": False,
        "SCHEDULER_QUEUE_KEY": f"{key_prefix}:%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{key_prefix}:%(spider)s:dupefilter",
        "FRONTIER_IDLE_CLOSE": idle_close,
        "FRONTIER_WORKER_TTL": worker_ttl,
        "FRONTIER_HEARTBEAT": heartbeat,
        "BUDGET_REDIS_URL": redis_url,
        "BUDGET_KEY_PREFIX": f"{key_prefix}:budget",
        # Acknowledged means stored: items are written through, not buffered, so a killed worker
        # loses nothing that the frontier believes done (see crawler.frontier.middleware).
        "MONGO_BATCH_SIZE": 1,
    }


def apply_redis_settings(settings: Any, redis_url: str, priority: str = "cmdline", **kwargs: Any) -> None:
    """Apply :func:`redis_settings` to a ``scrapy.settings.Settings`` and add the acknowledging middleware."""
    for name, value in redis_settings(redis_url, **kwargs).items():
        settings.set(name, value, priority=priority)
    middlewares = dict(settings.getdict("SPIDER_MIDDLEWARES"))
    middlewares.setdefault(ACK_MIDDLEWARE, ACK_MIDDLEWARE_ORDER)
    settings.set("SPIDER_MIDDLEWARES", middlewares, priority=priority)


def reset_frontier(redis_url: str, spider: str, key_prefix: str = "animerec") -> dict[str, int]:
    """Delete a spider's shared queue, dupefilter and worker records (to crawl again from scratch).

    Only for when no worker of that spider runs. Returns how many keys of each kind were deleted.
    """
    import redis

    server = redis.Redis.from_url(redis_url)
    base = f"{key_prefix}:{spider}"
    deleted = {"queue": server.delete(f"{base}:requests"), "dupefilter": server.delete(f"{base}:dupefilter")}
    others = list(server.scan_iter(match=f"{base}:requests:*"))
    deleted["worker_records"] = server.delete(*others) if others else 0
    return deleted


def frontier_status(redis_url: str, spider: str, key_prefix: str = "animerec") -> dict[str, Any]:
    """Queue length, dupefilter size, live workers and in-flight counts of a spider's shared frontier."""
    import json

    import redis

    server = redis.Redis.from_url(redis_url, decode_responses=True)
    base = f"{key_prefix}:{spider}:requests"
    workers = {}
    for worker in sorted(server.smembers(f"{base}:workers")):
        beat = server.get(f"{base}:worker:{worker}")
        workers[worker] = {"alive": beat is not None, "busy": bool(beat and json.loads(beat).get("busy")),
                           "in_flight": server.hlen(f"{base}:inflight:{worker}") // 2}
    return {"queued": server.zcard(base), "seen": server.scard(f"{key_prefix}:{spider}:dupefilter"),
            "workers": workers}
