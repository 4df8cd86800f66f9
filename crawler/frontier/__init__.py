"""A frontier shared by every crawler worker: scrapy-redis queue and dupefilter on Redis, made safe
for workers that die or finish at different times. See :mod:`.scheduler` and :mod:`.settings`."""

from crawler.frontier.settings import apply_redis_settings, frontier_status, redis_settings, reset_frontier

__all__ = ["apply_redis_settings", "frontier_status", "redis_settings", "reset_frontier"]
