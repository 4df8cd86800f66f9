"""The shared frontier's building blocks: in-flight records, recovery, the add-on's settings."""

from __future__ import annotations

import pytest
import scrapy
from scrapy.settings import Settings

from crawler.frontier.addon import FrontierAddon
from crawler.frontier.queue import META_KEY, ReliablePriorityQueue, ack
from pipeline.embedded import LocalRedis as RedisServer


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer().start()
    yield server
    server.stop()


class Spider(scrapy.Spider):
    name = "t"

    def parse(self, response):
        pass


def test_popped_requests_stay_in_flight_until_acknowledged_and_come_back_if_not(redis_server):
    server = redis_server.client()
    server.flushdb()
    spider = Spider()
    queue = ReliablePriorityQueue(server, spider, "q:%(spider)s")
    queue.inflight_key = "q:t:inflight:w1"
    for i, priority in enumerate((0, 5, 1)):
        queue.push(scrapy.Request(f"http://127.0.0.1/{i}", priority=priority, callback=spider.parse))
    first = queue.pop()
    assert first.url.endswith("/1") and first.priority == 5  # highest priority first
    assert first.meta[META_KEY]["inflight"] == "q:t:inflight:w1"
    assert len(queue) == 2 and server.hlen("q:t:inflight:w1") == 2  # request + its score
    assert ack(server, first.meta) and server.hlen("q:t:inflight:w1") == 0
    second = queue.pop()
    assert second.url.endswith("/2")
    # The worker dies here: its in-flight request goes back, with its priority.
    assert queue.requeue("q:t:inflight:w1") == 1
    assert not server.exists("q:t:inflight:w1")
    again = queue.pop()
    assert again.url.endswith("/2") and again.priority == 1 and again.callback == spider.parse
    # A request pushed again (retry, redirect) loses its stale in-flight marker.
    queue.push(again)
    assert META_KEY not in again.meta


def test_addon_switches_to_the_shared_frontier_only_with_a_redis_url():
    settings = Settings({"MONGO_BATCH_SIZE": 100}, priority="project")
    FrontierAddon().update_settings(settings)
    assert settings.get("SCHEDULER") != "crawler.frontier.scheduler.FrontierScheduler"

    settings = Settings({"MONGO_BATCH_SIZE": 100}, priority="project")
    settings.set("REDIS_URL", "redis://10.0.0.5:6379/0", priority="cmdline")
    settings.set("FRONTIER_IDLE_CLOSE", 30, priority="cmdline")
    FrontierAddon().update_settings(settings)
    assert settings.get("SCHEDULER") == "crawler.frontier.scheduler.FrontierScheduler"
    assert settings.getbool("SCHEDULER_PERSIST") is True
    assert settings.get("BUDGET_REDIS_URL") == "redis://10.0.0.5:6379/0"
    assert settings.getint("MONGO_BATCH_SIZE") == 1  # write-through: acknowledged means stored
    assert settings.getfloat("FRONTIER_IDLE_CLOSE") == 30  # the command line still wins
    middlewares = settings.getdict("SPIDER_MIDDLEWARES")
    assert any("FrontierAckMiddleware" in str(k) for k in middlewares)

    with pytest.raises(ValueError, match="not a Redis URL"):
        settings = Settings()
        settings.set("REDIS_URL", "http://nope")
        FrontierAddon().update_settings(settings)
