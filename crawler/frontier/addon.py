"""Scrapy add-on switching a crawl onto the shared frontier when ``REDIS_URL`` is set.

Add-ons run after every settings source (project, ``-s`` on the command line, environment), so
``scrapy crawl users -s REDIS_URL=redis://host:6379/0`` is all a worker needs. In ``settings.py``::

    ADDONS = {"crawler.frontier.addon.FrontierAddon": 0}

Without ``REDIS_URL`` the add-on does nothing: Scrapy's own scheduler, in-process politeness budget.
``FRONTIER_KEY_PREFIX`` ["animerec"] names the Redis keys (one prefix per independent crawl).
"""

from __future__ import annotations

from typing import Any

from scrapy.utils.misc import load_object

from crawler.frontier.settings import ACK_MIDDLEWARE, ACK_MIDDLEWARE_ORDER, redis_settings

# Settings the shared frontier cannot work without: they win over project settings (not over -s).
_ENFORCED = {"SCHEDULER", "SCHEDULER_QUEUE_CLASS", "SCHEDULER_PERSIST", "SCHEDULER_FLUSH_ON_START",
             "DUPEFILTER_CLASS", "MONGO_BATCH_SIZE"}


class FrontierAddon:
    def update_settings(self, settings: Any) -> None:
        url = settings.get("REDIS_URL")
        if not url:
            return
        values = redis_settings(url, key_prefix=settings.get("FRONTIER_KEY_PREFIX") or "animerec",
                                idle_close=settings.getfloat("FRONTIER_IDLE_CLOSE", 10.0),
                                worker_ttl=settings.getfloat("FRONTIER_WORKER_TTL", 15.0),
                                heartbeat=settings.getfloat("FRONTIER_HEARTBEAT", 2.0))
        for name, value in values.items():
            settings.set(name, value, priority="spider" if name in _ENFORCED else "addon")
        settings.setdefault_in_component_priority_dict("SPIDER_MIDDLEWARES", load_object(ACK_MIDDLEWARE),
                                                        ACK_MIDDLEWARE_ORDER)
