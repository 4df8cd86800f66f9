"""The main job, end to end on this machine: start the local MAL replica (built from ../shared), the
embedded store (unless MONGO_URI is set) and a local Redis; crawl users, lists and anime pages with two
workers sharing the Redis frontier and politeness budget; train the models; publish recommendations to
MongoDB; and print one user's recommendations read back from MongoDB.

Data stays in --data between runs, so a second run only fetches what is not stored yet.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

NAME = "demo"
HELP = "crawl the local MAL replica, train, publish, and print a user's recommendations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=Path("data") / "demo",
                        help="folder for the embedded store, logs and model artefacts (default data/demo)")
    parser.add_argument("--shared", type=Path, default=None,
                        help="folder with the MAL CSVs (default: $ANIMEREC_SHARED/data/mal or ../shared/data/mal)")
    parser.add_argument("--users-pages", type=int, default=2,
                        help="users.php pages to discover users from, 20 users each (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="crawler worker processes (default 2)")
    parser.add_argument("--user", default=None, help="whose recommendations to print (default: the first "
                        "discovered user with a public list)")
    parser.add_argument("--n", type=int, default=10, help="how many recommendations to print (default 10)")


def run(args: argparse.Namespace) -> int:
    from crawler.replica.server import ReplicaServer
    from crawler.run import REPLICA_SETTINGS, run_crawl
    from pipeline.embedded import LocalRedis, mongo_uri
    from pipeline.store import USERS, connect
    from recommender.commands.recommend import format_table
    from recommender.query import recommend_stored
    from recommender.train import train

    args.data.mkdir(parents=True, exist_ok=True)
    log_dir = args.data / "logs"
    log_dir.mkdir(exist_ok=True)
    store = "MONGO_URI" if os.environ.get("MONGO_URI") else f"the embedded store in {args.data / 'mongo'}"
    print(f"demo: starting the local MAL replica, a local Redis and {store} ...", flush=True)
    with ReplicaServer(port=0, data_dir=args.shared) as site, LocalRedis() as redis, \
            mongo_uri(args.data / "mongo") as uri:
        print(f"demo: replica at {site.base_url}, Redis at {redis.url}, crawler logs in {log_dir}", flush=True)
        run_crawl(mongo_uri=uri, base_url=site.base_url, workers=args.workers, redis_url=redis.url,
                  settings=REPLICA_SETTINGS, args={"users_pages": args.users_pages, "top_pages": 0},
                  log_dir=log_dir)
        db = connect(uri)
        try:
            print("demo: training and publishing ...", flush=True)
            result = train(db, artifacts_dir=args.data / "artifacts")
            print(result.summary(), flush=True)
            user = args.user or next(
                (d["_id"] for d in db[USERS].find({"list_status": "public"}, {"_id": 1}).sort("_id", 1)), None)
            if user is None:
                print("demo: no public list was crawled, so there is nobody to recommend for")
                return 1
            rows = recommend_stored(db, user, n=args.n)
            print(f"\nTop {len(rows)} recommendations for {user}, read from MongoDB "
                  f"(try: animerec recommend {user} --adventurousness 0.9):")
            print(format_table(rows))
        finally:
            db.client.close()
    return 0
