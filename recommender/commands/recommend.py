"""Show recommendations: a user's published list, or fresh ones for a list not in the last run.

  animerec recommend USERNAME [--n 10] [--adventurousness A] [--json]
      the list published by the last `animerec train` (re-ranked by A when given)
  animerec recommend --list FILE
      fold a list into the trained model: a MAL load.json-style JSON array, or a CSV with
      anime_id,score[,status] columns (status: 1 watching, 2 completed, 3 on hold, 4 dropped, 6 plan)
  animerec recommend --username NAME --fetch [--base-url URL]
      crawl NAME's list first, then fold it in

MONGO_URI selects the store; unset, the embedded local store in --data is used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

NAME = "recommend"
HELP = "print a user's recommendations (stored, from a list file, or freshly crawled)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("user", nargs="?", metavar="USERNAME", help="a user of the last training run")
    parser.add_argument("--username", help="the user to crawl with --fetch")
    parser.add_argument("--list", type=Path, metavar="FILE", help="a list file to fold in (JSON or CSV)")
    parser.add_argument("--fetch", action="store_true", help="crawl --username's list first, then fold it in")
    parser.add_argument("--base-url", default=os.environ.get("MAL_BASE_URL"),
                        help="site to crawl with --fetch (default: $MAL_BASE_URL, else MAL)")
    parser.add_argument("--n", type=int, default=10, help="how many (1-100, default 10)")
    parser.add_argument("--adventurousness", type=float, default=None, metavar="A",
                        help="0 = like what you watched ... 1 = surprising (default: the trained blend)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--images", action="store_true", help="add each anime's image URL to the table")
    parser.add_argument("--artifacts", type=Path, default=None, metavar="DIR",
                        help="model to fold lists into (default: the live run's)")
    parser.add_argument("--data", default="data", type=Path, help="folder of the embedded store")


def format_table(rows: list[dict[str, Any]], width: int = 110, images: bool = False) -> str:
    """rank, title, score and why as a fixed-width table (``images``: the image URL on a second line)."""
    if not rows:
        return "(no recommendations)"
    title_w = min(48, max(len(str(r["title"])) for r in rows))
    lines = [f"{'#':>3}  {'title':<{title_w}}  {'score':>6}  because you rated"]
    for r in rows:
        title = str(r["title"])
        title = title if len(title) <= title_w else title[: title_w - 1] + "…"
        why = ", ".join(r["why"]) or "-"
        room = max(10, width - title_w - 16)
        why = why if len(why) <= room else why[: room - 1] + "…"
        lines.append(f"{r['rank']:>3}  {title:<{title_w}}  {r['score']:>6.3f}  {why}")
        if images and r.get("image_url"):
            lines.append(f"{'':>3}  {r['image_url']}")
    return "\n".join(lines)


def _emit(rows: list[dict[str, Any]], args: argparse.Namespace, header: str) -> None:
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print(header)
        print(format_table(rows, images=args.images))


def run(args: argparse.Namespace) -> int:
    from pipeline.embedded import mongo_uri
    from pipeline.store import connect
    from recommender import query

    modes = sum(bool(x) for x in (args.user, args.list, args.fetch))
    if modes != 1:
        print("recommend: give exactly one of USERNAME, --list FILE or --username NAME --fetch", file=sys.stderr)
        return 2
    try:
        query.validate_n(args.n)
        query.validate_adventurousness(args.adventurousness)
        if args.user:
            query.validate_username(args.user)
        if args.fetch:
            if not args.username:
                raise query.QueryError("--fetch needs --username NAME")
            query.validate_username(args.username)
        entries = query.load_list(args.list) if args.list else None
    except query.QueryError as exc:
        print(f"recommend: {exc}", file=sys.stderr)
        return 2

    with mongo_uri(args.data / "mongo") as uri:
        db = connect(uri)
        try:
            if args.user:
                rows = query.recommend_stored(db, args.user, args.n, args.adventurousness)
                _emit(rows, args, f"Recommendations for {args.user}:")
                return 0
            if args.fetch:
                entries = _fetch_list(db, uri, args.username, args.base_url)
            from recommender.train import live_model

            model = live_model(db, args.artifacts)
            known = model.known(entries or [])
            rows = query.recommend_for_list(model, entries or [], args.n, args.adventurousness)
            source = args.username if args.fetch else str(args.list)
            _emit(rows, args, f"Recommendations for {source} ({len(known)} of {len(entries or [])} "
                                   f"listed anime known to run {model.run_id}):")
            return 0
        except query.QueryError as exc:
            print(f"recommend: {exc}", file=sys.stderr)
            return 2
        except (LookupError, FileNotFoundError) as exc:
            print(f"recommend: {exc.args[0] if exc.args else exc}", file=sys.stderr)
            return 1
        finally:
            db.client.close()


def _fetch_list(db: Any, uri: str, username: str, base_url: str | None) -> list[dict[str, int]]:
    """Crawl ``username``'s list into MongoDB (always fresh), then read it back."""
    from crawler.run import run_crawl
    from pipeline.store import ANIMELISTS, USERS
    from recommender import query

    print(f"recommend: fetching {username}'s list ...", file=sys.stderr, flush=True)
    run_crawl(["animelists"], mongo_uri=uri, base_url=base_url, args={"usernames": username, "max_age_hours": 0},
              echo=False)
    doc = db[ANIMELISTS].find_one({"_id": username}, {"entries": 1})
    if doc is None:
        user = db[USERS].find_one({"_id": username}, {"list_status": 1}) or {}
        status = user.get("list_status", "missing")
        raise LookupError(f"could not fetch {username}'s list (list status: {status}); a private or missing list "
                          "cannot be recommended for")
    return query.parse_entries(doc["entries"], f"{username}'s list")
