"""Train the recommender on what is in MongoDB and publish top-N per user, atomically.

Reads every stored anime list and the anime texts, fits the content (synopsis topics) and
collaborative models and their hybrid, writes each anime's topic vector into `anime.topics`, saves
the model under ARTIFACTS/<run_id>/ and publishes the new lists as `recommendations_<run_id>`; one
atomic switch of `runs {_id: "live"}` then makes them the ones `animerec recommend` (and the
`recommendations` view) serves. A crash before that switch leaves the previous lists live.
MONGO_URI selects the store; unset, the embedded local store in --data is used.

examples:
  animerec train                          # top 50 per user with the best-scoring blend
  animerec train --n 100 --holdout        # also report NDCG@10 on a per-user 80/20 holdout
  animerec train --adventurousness 0.8    # publish lists leaning on the collaborative model
  animerec train --rebuild-packed         # after the crawler logged a failed write of animelists_packed
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

NAME = "train"
HELP = "fit the models on MongoDB's lists and publish recommendations (atomically)"


def _unit_interval(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError(f"must be between 1 and 500, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=_positive, default=50, help="recommendations stored per user (default 50)")
    parser.add_argument("--adventurousness", type=_unit_interval, default=None, metavar="A",
                        help="blend: 1 = collaborative only (surprising), 0 = content only (similar to what "
                             "you watched); default: the value that scored best")
    parser.add_argument("--artifacts", type=Path, default=Path(os.environ.get("ANIMEREC_ARTIFACTS", "artifacts")),
                        metavar="DIR", help="where models are saved, one folder per run (default ./artifacts)")
    parser.add_argument("--holdout", action="store_true",
                        help="also fit on 80%% of each user's ratings and report NDCG/P/R@10 on the rest")
    parser.add_argument("--topics", type=int, default=None, metavar="K",
                        help="synopsis topics of the content model (default: the model's, 40)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (models and holdout split)")
    parser.add_argument("--batch-size", type=int, default=1000, help="documents per bulk insert (default 1000)")
    parser.add_argument("--rebuild-packed", action="store_true",
                        help="rewrite animelists_packed (the compact copy of the lists training reads) from "
                             "animelists first; it is rebuilt automatically when the counts differ")
    parser.add_argument("--data", default="data", type=Path, help="folder of the embedded store")


def run(args: argparse.Namespace) -> int:
    from pipeline.embedded import mongo_uri
    from pipeline.store import connect, ensure_indexes
    from recommender.train import train

    with mongo_uri(args.data / "mongo") as uri:
        db = connect(uri)
        ensure_indexes(db)
        try:
            result = train(db, n=args.n, adventurousness=args.adventurousness, artifacts_dir=args.artifacts,
                           holdout=args.holdout, seed=args.seed, batch_size=args.batch_size,
                           rebuild_packed=args.rebuild_packed,
                           model_params={"content": {"n_topics": args.topics}} if args.topics else None)
        except RuntimeError as exc:
            print(f"train: {exc}")
            return 1
        finally:
            db.client.close()
    print(result.summary())
    return 0
