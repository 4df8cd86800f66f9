"""Crawl MAL (or the local replica) into MongoDB: discover users, fetch their lists, fetch the anime.

Stages run in order (users -> animelists -> anime), each as one or more `scrapy crawl` worker processes.
With --workers N > 1 the workers share a Redis frontier and politeness budget (--redis, or REDIS_URL).
MONGO_URI selects the store; unset, the embedded local store in --data is used.

examples:
  animerec crawl --base-url http://127.0.0.1:8800                 # all stages against a local replica
  animerec crawl animelists -a usernames=Xinil,Kaxkk              # two users' lists from the real site
  animerec crawl --workers 4 --redis redis://10.0.0.5:6379/0      # four workers on one shared frontier
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

NAME = "crawl"
HELP = "crawl users, anime lists and anime pages into MongoDB"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spiders", nargs="*", metavar="SPIDER",
                        help="stages to run, in order (default: users animelists anime)")
    parser.add_argument("--base-url", default=os.environ.get("MAL_BASE_URL"),
                        help="site to crawl (default: $MAL_BASE_URL, else https://myanimelist.net)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes per stage (default 1)")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL"),
                        help="Redis URL of the shared frontier and budget (default: $REDIS_URL)")
    parser.add_argument("--fresh", action="store_true",
                        help="with --redis: forget the shared frontier of these stages first (queue and seen "
                             "URLs), so a finished crawl can run again; only when no worker is running")
    parser.add_argument("-s", "--set", action="append", metavar="NAME=VALUE", help="a Scrapy setting")
    parser.add_argument("-a", "--arg", action="append", metavar="NAME=VALUE",
                        help="a spider argument, given to each stage that takes it")
    parser.add_argument("--data", default="data", type=Path, help="folder of the embedded store and logs")


def run(args: argparse.Namespace) -> int:
    from crawler.run import STAGES, parse_assignments, run_crawl
    from pipeline.embedded import mongo_uri

    unknown = sorted(set(args.spiders) - set(STAGES))
    if unknown:
        raise SystemExit(f"unknown spider(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    if args.workers < 1:
        raise SystemExit("--workers must be at least 1")
    if args.workers > 1 and not args.redis:
        raise SystemExit("--workers > 1 needs a shared frontier: pass --redis URL or set REDIS_URL")
    try:
        settings = parse_assignments(args.set, "-s")
        spider_args = parse_assignments(args.arg, "-a")
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    stages = args.spiders or STAGES
    if args.fresh:
        if not args.redis:
            raise SystemExit("--fresh resets the shared Redis frontier: it needs --redis URL or REDIS_URL")
        from crawler.frontier import reset_frontier

        for spider in stages:
            print(f"crawl: reset the frontier of {spider}: {reset_frontier(args.redis, spider)}")
    log_dir = args.data / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with mongo_uri(args.data / "mongo") as uri:
        try:
            run_crawl(stages, mongo_uri=uri, base_url=args.base_url, workers=args.workers,
                      redis_url=args.redis, settings=settings, args=spider_args, log_dir=log_dir)
        except RuntimeError as exc:
            print(f"crawl failed: {exc}", file=sys.stderr)
            return 1
    return 0
