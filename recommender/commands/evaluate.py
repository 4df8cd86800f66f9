"""Compare every recommender on held-out ratings with the fixed protocol of issue 5.

Protocol: unscored rows dropped; anime with >= 5 ratings, then users with >= 10; per user a seeded
random 20 % of ratings held out; relevant = held-out score >= the user's mean score; P@10, R@10,
NDCG@10 over users with a relevant held-out anime, and coverage@10. Every hyper-parameter is tuned
on an inner 80/20 split of the training part; the test part never tunes anything.

Models: popularity, ease (Steck 2019, binary input), als (implicit), nmf_seed (scikit-learn NMF,
zero-filled scores, k=6), nmf (ours), content (synopsis TF-IDF; needs --anime), hybrid.

examples:
  animerec evaluate --ratings ../shared/data/mal/animelists_2023.csv \\
                    --anime ../shared/data/mal/anime_with_synopsis.csv --seed 0
  animerec evaluate --ratings ratings.csv --json > result.json      # MovieLens-style: no content
  animerec evaluate --ratings ... --anime ... --report reports/eval   # Markdown + PNG plots
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "evaluate"
HELP = "compare the recommenders on held-out ratings (NDCG/P/R/coverage@10)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ratings", required=True, type=Path,
                        help="ratings CSV: user_id, anime_id and score or rating (0 = unscored, dropped)")
    parser.add_argument("--anime", type=Path, default=None,
                        help="anime CSV with synopses (anime_with_synopsis.csv layout); without it the "
                             "content model is skipped and the hybrid blends the collaborative models")
    parser.add_argument("--seed", type=int, default=0, help="seed of the per-user split (default 0)")
    parser.add_argument("--models", default=None,
                        help="comma-separated subset of popularity,ease,als,nmf_seed,nmf,content,hybrid")
    parser.add_argument("--no-tune", action="store_true",
                        help="skip the inner-split search and use the built-in defaults (faster)")
    parser.add_argument("--neighbours", type=int, default=None, metavar="K",
                        help="neighbours per anime kept by the hybrid's EASE and content parts "
                             "(default: the hybrid's, 256; 0 = all, the exact dense model)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument("--report", type=Path, default=None, metavar="DIR",
                        help="write a Markdown report with PNG plots into DIR")


def run(args: argparse.Namespace) -> int:
    from recommender.evaluation import MODEL_ORDER, format_table, run_evaluation, write_report

    models = MODEL_ORDER
    if args.models:
        models = tuple(name.strip() for name in args.models.split(",") if name.strip())
        unknown = sorted(set(models) - set(MODEL_ORDER))
        if unknown:
            raise SystemExit(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODEL_ORDER)}")
    for label, path in (("--ratings", args.ratings), ("--anime", args.anime)):
        if path is not None and not path.is_file():
            raise SystemExit(f"{label}: no such file: {path}")
    try:
        neighbours = -1 if args.neighbours is None else (args.neighbours or None)
        result = run_evaluation(args.ratings, args.anime, seed=args.seed, models=models, tune=not args.no_tune,
                                neighbours=neighbours)
    except ValueError as exc:
        raise SystemExit(f"cannot evaluate {args.ratings}: {exc}") from exc
    if args.report is not None:
        path = write_report(result, args.report)
        print(f"report written to {path}", file=sys.stderr)
    if args.json:
        out = {"models": {name: {key: metrics[key] for key in ("ndcg@10", "p@10", "r@10", "coverage@10",
                                                                "fit_s")}
                          for name, metrics in result["models"].items()},
               "dataset": result["dataset"]}
        print(json.dumps(out, indent=2))
    else:
        print(format_table(result))
    return 0
