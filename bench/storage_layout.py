"""Benchmark: how to store user lists for the recommender's reader (issue 2's schema choice).

Writes the same synthetic lists in two layouts to the local wire-compatible server and reads them back
the way the recommender does: one document per user (an ``entries`` array) against one document per
list entry. Prints seconds and the ratio (per-entry / per-user) measured in this one process.

    .venv/bin/python bench/storage_layout.py [--users 2000] [--per-user 150]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from pymongo import InsertOne

from pipeline.embedded import LocalMongo
from pipeline.readers import read_ratings
from pipeline.store import ANIMELISTS, connect, upsert_many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--per-user", type=int, default=150)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    lists = {f"u{u:06d}": [{"anime_id": int(a), "title": str(a), "score": int(rng.integers(0, 11)),
                            "status": int(rng.choice([1, 2, 3, 4, 6])), "episodes_watched": int(rng.integers(0, 30))}
                           for a in rng.choice(15000, args.per_user, replace=False) + 1]
             for u in range(args.users)}
    n_entries = args.users * args.per_user
    with tempfile.TemporaryDirectory() as tmp, LocalMongo(f"{tmp}/db") as server:
        db = connect(server.uri)
        t = time.perf_counter()
        docs = [{"_id": u, "username": u, "entries": e, "entries_count": len(e)} for u, e in lists.items()]
        for i in range(0, len(docs), 200):
            upsert_many(db, ANIMELISTS, docs[i:i + 200])
        write_user = time.perf_counter() - t
        t = time.perf_counter()
        ops = [InsertOne({"_id": f"{u}:{e['anime_id']}", "user": u, **e}) for u, es in lists.items() for e in es]
        for i in range(0, len(ops), 5000):
            db["entries"].bulk_write(ops[i:i + 5000], ordered=False)
        write_entry = time.perf_counter() - t
        t = time.perf_counter()
        ratings = read_ratings(db)
        read_user = time.perf_counter() - t
        assert ratings.scores.nnz == n_entries
        t = time.perf_counter()
        rows = list(db["entries"].find({}, {"user": 1, "anime_id": 1, "score": 1, "status": 1}, batch_size=5000))
        read_entry = time.perf_counter() - t
        assert len(rows) == n_entries
        db.client.close()
    print(f"{args.users} users x {args.per_user} entries = {n_entries} entries, SecantusDB (Python server) on loopback")
    print(f"{'layout':<22}{'write s':>10}{'read s':>10}{'read entries/s':>16}")
    print(f"{'document per user':<22}{write_user:>10.2f}{read_user:>10.2f}{n_entries / read_user:>16,.0f}")
    print(f"{'document per entry':<22}{write_entry:>10.2f}{read_entry:>10.2f}{n_entries / read_entry:>16,.0f}")
    print(f"ratio per-entry/per-user: write {write_entry / write_user:.1f}x, read {read_entry / read_user:.1f}x "
          "(read per-user includes building the CSR matrix)")


if __name__ == "__main__":
    main()
