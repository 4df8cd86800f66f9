"""Inspect or reset the shared crawl frontier in Redis (queue, dupefilter, workers, in-flight requests).

The frontier persists between runs, so that workers can die and join at any time; a crawl that is
finished therefore skips every URL it already fetched. `reset` forgets a spider's frontier so the next
run crawls again from its start requests (run it only when no worker of that spider is running).

examples:
  animerec frontier status --redis redis://10.0.0.5:6379/0
  animerec frontier reset animelists --redis redis://10.0.0.5:6379/0
"""

from __future__ import annotations

import argparse
import json
import os

NAME = "frontier"
HELP = "show or reset the shared Redis frontier of the crawler workers"
SPIDERS = ("users", "animelists", "anime")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("status", "reset"), help="status: print counts; reset: forget it")
    parser.add_argument("spiders", nargs="*", metavar="SPIDER", help=f"default: all ({' '.join(SPIDERS)})")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL"),
                        help="Redis URL of the frontier (default: $REDIS_URL)")
    parser.add_argument("--key-prefix", default="animerec", help="FRONTIER_KEY_PREFIX of the crawl (animerec)")


def run(args: argparse.Namespace) -> int:
    import redis

    from crawler.frontier import frontier_status, reset_frontier

    if not args.redis:
        raise SystemExit("no Redis URL: pass --redis redis://HOST:6379/0 or set REDIS_URL")
    spiders = args.spiders or list(SPIDERS)
    try:
        if args.action == "status":
            report = {s: frontier_status(args.redis, s, args.key_prefix) for s in spiders}
            print(json.dumps(report, indent=1))
            return 0
        for spider in spiders:
            status = frontier_status(args.redis, spider, args.key_prefix)
            alive = [w for w, state in status["workers"].items() if state["alive"]]
            if alive:
                raise SystemExit(f"{spider}: workers {', '.join(alive)} are still running; stop them first")
            deleted = reset_frontier(args.redis, spider, args.key_prefix)
            print(f"{spider}: forgot {status['queued']} queued requests and {status['seen']} seen fingerprints "
                  f"({deleted['worker_records']} worker records)")
    except redis.RedisError as exc:
        raise SystemExit(f"cannot reach Redis at {args.redis}: {exc}") from None
    return 0
