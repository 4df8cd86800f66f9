"""Several crawler workers (separate ``scrapy crawl`` processes) sharing one Redis frontier and budget,
crawling the local MAL replica: complete, no URL fetched twice, nothing lost to ``kill -9``, polite."""

from __future__ import annotations

import time
from pathlib import Path

import pymongo
import pytest
from _workers import Worker, run_workers

from crawler.frontier import frontier_status, reset_frontier
from pipeline.embedded import LocalRedis as RedisServer

ROBOTS = "/robots.txt"  # fetched by each worker's RobotsTxtMiddleware itself, outside the frontier


@pytest.fixture
def redis_server(tmp_path: Path):
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replica_data():
    from crawler.replica import data

    return data.load()


def replica(**faults):
    from crawler.replica.server import ReplicaServer

    return ReplicaServer(**faults)


def settings_for(site, redis_server, mongo_uri, **extra):
    return {"REDIS_URL": redis_server.url, "MONGO_URI": mongo_uri, "MAL_BASE_URL": site.base_url, **extra}


def anime_ids(data, n):
    return sorted(data.anime)[:n]


def test_two_workers_split_the_crawl_without_fetching_anything_twice(tmp_path, redis_server, mongo_uri,
                                                                       replica_data):
    ids = anime_ids(replica_data, 80)
    with replica() as site:
        workers = run_workers("anime", 2, settings_for(site, redis_server, mongo_uri, BUDGET_RATE=200),
                              {"ids": ",".join(map(str, ids))}, tmp_path, timeout=120)
        served = site.stats()
    stats = [w.stats() for w in workers]
    assert all(s.get("finish_reason") == "finished" for s in stats), [w.log_tail() for w in workers]
    # Both workers did part of the work...
    pages = [s.get("crawler/anime_pages", 0) for s in stats]
    assert sum(pages) == len(ids) and min(pages) > 0, pages
    # ...every URL was served exactly once...
    urls = {u: n for u, n in served["urls"].items() if u != ROBOTS}
    assert len(urls) == len(ids) and set(urls.values()) == {1}, served["duplicate_urls"]
    assert {u for u in served["duplicate_urls"] if u != ROBOTS} == set()
    # ...and the union in MongoDB is complete.
    with pymongo.MongoClient(mongo_uri) as client:
        stored = sorted(d["_id"] for d in client.get_default_database()["anime"].find({}, {"_id": 1}))
    assert stored == ids
    # A clean finish leaves the shared state consistent: nothing queued or in flight, no worker
    # registered, every URL remembered (a re-run skips them until `animerec frontier reset`).
    status = frontier_status(redis_server.url, "anime")
    assert status == {"queued": 0, "seen": len(ids), "workers": {}}
    assert not list(redis_server.client().scan_iter("animerec:anime:requests:inflight:*"))
    reset_frontier(redis_server.url, "anime")
    assert frontier_status(redis_server.url, "anime")["seen"] == 0


def pick_users(data, n_small: int = 24):
    users = sorted(data.users.values(), key=lambda u: u.username)
    big = [u for u in users if not u.private and u.entry_count > 300][:2]
    private = [u for u in users if u.private][:1]
    small = [u for u in users if not u.private and 0 < u.entry_count <= 300][:n_small]
    assert len(big) == 2 and private, "the replica data lacks users with > 300 entries or private users"
    return big + private + small


def test_kill_9_a_worker_mid_crawl_loses_nothing_and_duplicates_nothing(tmp_path, redis_server, mongo_uri,
                                                                         replica_data):
    users = pick_users(replica_data)
    args = {"usernames": ",".join(u.username for u in users)}
    # Slow pages, so that the killed worker surely has requests in flight.
    with replica(slow=0.15) as site:
        settings = settings_for(site, redis_server, mongo_uri, BUDGET_RATE=200, CONCURRENT_REQUESTS=4)
        victim = Worker("animelists", settings, args, tmp_path, "victim")
        survivor = Worker("animelists", settings, args, tmp_path, "survivor")
        deadline = time.monotonic() + 60
        while site.stats()["by_kind"].get("loadjson", 0) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        victim.kill9()
        assert survivor.proc.poll() is None, "the crawl ended before the kill: make it longer"
        restarted = Worker("animelists", settings, args, tmp_path, "restarted")
        restarted.wait(120)
        survivor.wait(120)
        served = site.stats()
    finished = [survivor.stats(), restarted.stats()]
    assert all(s.get("finish_reason") == "finished" for s in finished), survivor.log_tail() + restarted.log_tail()
    # The killed worker's in-flight requests were put back and fetched by someone.
    assert sum(s.get("frontier/recovered", 0) for s in finished) > 0
    with pymongo.MongoClient(mongo_uri) as client:
        db = client.get_default_database()
        lists = {d["_id"]: d for d in db["animelists"].find()}
        statuses = {d["_id"]: d.get("list_status") for d in db["users"].find()}
    public = [u for u in users if not u.private]
    # Nothing lost: every public list complete, entry for entry; the private user recorded as such.
    assert sorted(lists) == sorted(u.username for u in public)
    key = ("anime_id", "title", "score", "status", "episodes_watched")
    for user in public:
        expected = sorted(tuple(e[k] for k in key) for e in replica_data.entries(user.username))
        got = sorted(tuple(e[k] for k in key) for e in lists[user.username]["entries"])
        assert got == expected, user.username
    assert {u.username: statuses.get(u.username) for u in users if u.private} == \
        {u.username: "private" for u in users if u.private}
    # No duplicate documents (one per user) and, killed worker aside, no page fetched twice.
    assert len(lists) == len(public)
    duplicates = {u: n for u, n in served["duplicate_urls"].items() if u != ROBOTS}
    assert sum(n - 1 for n in duplicates.values()) <= 8, duplicates


def test_two_workers_together_stay_under_the_site_rate_limit(tmp_path, redis_server, mongo_uri, replica_data):
    rate_limit = 10.0
    ids = anime_ids(replica_data, 70)
    # The replica bans a client after 3 429s in a minute: being polite is the only way through.
    with replica(rate_limit=rate_limit, burst=1, ban_after=3, ban_seconds=30) as site:
        started = time.monotonic()
        workers = run_workers("anime", 2, settings_for(site, redis_server, mongo_uri, BUDGET_RATE=0.5 * rate_limit),
                              {"ids": ",".join(map(str, ids))}, tmp_path, timeout=120)
        elapsed = time.monotonic() - started
        served = site.stats()
    stats = [w.stats() for w in workers]
    assert sum(s.get("crawler/anime_pages", 0) for s in stats) == len(ids), [w.log_tail() for w in workers]
    # 0.5 R leaves 100 ms per request for timing jitter (0.7 R's 43 ms was not enough on a loaded CI
    # machine): a worker's reactor can be busy (a parse, a MongoDB write) between taking its slot and
    # writing the request. The replica counts a request 1 ms
    # early as a 429 (burst 1); one such 429 is honoured by every worker and can never lead to a ban.
    logs = "\n".join(w.log_tail(1500) for w in workers)
    assert served["bans"] == 0 and served["forbidden"] == 0, logs
    assert served["rate_limited"] <= 1, logs
    assert sum(s.get("budget/pauses/retry_after", 0) for s in stats) == served["rate_limited"]
    (client,) = served["clients"].values()  # both workers come from 127.0.0.1: one client to the site
    assert client["max_per_second"] <= rate_limit
    # Both workers waited for the shared budget: neither ran at its own pace.
    assert all(s.get("budget/wait_seconds/rate", 0) > 0 for s in stats)
    assert served["requests"] / elapsed <= rate_limit
