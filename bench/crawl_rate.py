"""Benchmark: crawler throughput and politeness (issue 4).

1. Achieved/allowed request rate of 1, 2 and 4 workers (separate processes sharing one Redis frontier
   and budget) against the replica's per-client limiter (all workers come from 127.0.0.1, like several
   containers behind one NAT address): the budget should keep them at or under the limit, with no 429
   and no ban, whatever the number of workers.
2. Pages per second of one worker for the JSON path (load.json over HTTP) and the Selenium path (the
   list page rendered by headless Chromium), with no rate limit: the cost of rendering.

    .venv/bin/python bench/crawl_rate.py [--limit 10] [--pages 80] [--workers 1 2 4] [--users 40]

Prints a table (and --json FILE writes the figures). Uses the replica, Debian's redis-server and
Chromium, and the embedded MongoDB; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _workers import SHARED_CRAWL, Worker, run_workers  # noqa: E402


class RequestClock:
    """Samples the replica's request counter to time the crawl from its first to its last request."""

    def __init__(self, site, interval: float = 0.05) -> None:
        self.site, self.interval = site, interval
        self.first = self.last = None
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            n = self.site.stats()["requests"]
            now = time.monotonic()
            if n and self.first is None:
                self.first = now
            if n != self.count:
                self.count, self.last = n, now
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def rate(self) -> float:
        if not self.first or not self.last or self.last <= self.first or self.count < 2:
            return 0.0
        # n requests span (n - 1) intervals between the first and the last.
        return (self.count - 1) / (self.last - self.first)


def bench_rate(args, data, redis_url: str, mongo_uri: str, workdir: Path) -> list[dict]:
    from crawler.replica.server import ReplicaServer

    rows = []
    for n in args.workers:
        ids = sorted(data.anime)[: args.pages]
        budget = args.limit * args.budget_fraction
        with ReplicaServer(rate_limit=args.limit, burst=1, ban_after=3, ban_seconds=30) as site:
            with RequestClock(site) as clock:
                started = time.monotonic()
                workers = run_workers("anime", n, {"REDIS_URL": redis_url, "MONGO_URI": mongo_uri,
                                                   "MAL_BASE_URL": site.base_url, "BUDGET_RATE": budget,
                                                   "FRONTIER_KEY_PREFIX": f"bench{n}{time.monotonic_ns()}"},
                                      {"ids": ",".join(map(str, ids)), "refetch": "true"}, workdir, timeout=600)
                wall = time.monotonic() - started
            served = site.stats()
        client = next(iter(served["clients"].values()), {})
        stats = [w.stats() for w in workers]
        rows.append({"workers": n, "allowed": args.limit, "budget": budget, "achieved": clock.rate(),
                     "requests": served["requests"], "429": served["rate_limited"], "bans": served["bans"],
                     "max_per_s": client.get("max_per_second", 0), "wall_s": wall,
                     "pages": sum(s.get("crawler/anime_pages", 0) for s in stats)})
    return rows


def bench_paths(args, data, workdir: Path) -> list[dict]:
    from crawler.replica.server import ReplicaServer

    users = [u.username for u in sorted(data.users.values(), key=lambda u: u.username)
             if not u.private and u.entry_count >= 50][: args.users]
    rows = []
    for path in ("json", "browser"):
        with ReplicaServer() as site:
            settings = {k: v for k, v in SHARED_CRAWL.items() if k != "ADDONS"}
            settings.update({"MAL_BASE_URL": site.base_url, "BUDGET_RATE": 10_000, "ITEM_PIPELINES": "{}",
                             "ROBOTSTXT_OBEY": False, "CONCURRENT_REQUESTS": 8, "CONCURRENT_REQUESTS_PER_DOMAIN": 8})
            with RequestClock(site) as clock:
                started = time.monotonic()
                worker = Worker("bench_listpage", settings, {"usernames": ",".join(users), "path": path},
                                workdir, f"paths-{path}", runspider=ROOT / "bench" / "listpage_spider.py")
                worker.wait(600)
                wall = time.monotonic() - started
        stats = worker.stats()
        pages = stats.get("bench/pages", 0)
        if pages != len(users):
            raise RuntimeError(f"{path}: {pages} of {len(users)} pages; log:\n{worker.log_tail()}")
        rows.append({"path": path, "pages": pages, "entries": stats.get("bench/entries", 0),
                     "pages_per_s": clock.rate(), "wall_s": wall,
                     "browser_starts": stats.get("browser/starts", 0)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=float, default=10.0, help="replica rate limit R, requests/s (10)")
    parser.add_argument("--budget-fraction", type=float, default=0.85,
                        help="BUDGET_RATE as a fraction of R: the margin for timing jitter (0.85)")
    parser.add_argument("--pages", type=int, default=80, help="anime pages per rate run (80)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="worker counts (1 2 4)")
    parser.add_argument("--users", type=int, default=40, help="list pages per path run (40)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    from crawler.replica import data as replica_data
    from pipeline.embedded import LocalMongo, LocalRedis

    data = replica_data.load()
    with tempfile.TemporaryDirectory(prefix="animerec-bench-") as tmp:
        workdir = Path(tmp)
        mongo = LocalMongo(workdir / "mongo").start()
        try:
            with LocalRedis() as redis_server:
                rate_rows = bench_rate(args, data, redis_server.url,
                                       f"mongodb://127.0.0.1:{mongo.port}/bench", workdir)
            path_rows = bench_paths(args, data, workdir)
        finally:
            mongo.stop()

    print(f"\nShared budget vs the replica's limiter (R = {args.limit:g} req/s per client, burst 1, "
          f"ban after 3 x 429; BUDGET_RATE = {args.budget_fraction:g} R; {args.pages} anime pages)")
    print(f"{'workers':>7} {'achieved/s':>10} {'achieved/R':>10} {'max in 1 s':>10} {'429s':>5} {'bans':>5} "
          f"{'requests':>8} {'wall s':>7}")
    for r in rate_rows:
        print(f"{r['workers']:>7} {r['achieved']:>10.2f} {r['achieved'] / r['allowed']:>10.2f} "
              f"{r['max_per_s']:>10} {r['429']:>5} {r['bans']:>5} {r['requests']:>8} {r['wall_s']:>7.1f}")
    print(f"\nOne worker, no rate limit: list pages of {args.users} users (first 300 entries each)")
    print(f"{'path':>8} {'pages/s':>8} {'entries':>8} {'wall s':>7} {'browsers':>8}")
    for r in path_rows:
        print(f"{r['path']:>8} {r['pages_per_s']:>8.2f} {r['entries']:>8} {r['wall_s']:>7.1f} "
              f"{r['browser_starts']:>8}")
    json_rate, browser_rate = (r["pages_per_s"] for r in path_rows)
    if browser_rate:
        print(f"JSON path / Selenium path: {json_rate / browser_rate:.1f}x")
    if args.json:
        args.json.write_text(json.dumps({"rate": rate_rows, "paths": path_rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
