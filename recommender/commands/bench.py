"""Benchmarks of the training job and queries at MAL scale (bench/bench_training.py).

  animerec bench batch --scale 0.01     read -> fit -> publish on a synthetic 1/100 MAL, stored-query
                                        p50/p95 and fold-in time of a new 300-entry list
  animerec bench cf --scale 0.1         our NMF fit vs implicit ALS, same rank, same matrix
  animerec bench all --scales 0.01,0.1  both per scale, one process each, and how times grow

Figures go to stdout (--json for one JSON line; --out FILE appends them); results and the exact
commands are recorded in docs/BENCHMARKS.md. MONGO_URI selects a real MongoDB; unset, a local
SecantusDB server is started for the run. Benchmarks are never part of the test suite.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "bench"
HELP = "benchmark training, publishing and queries on synthetic MAL-scale data"
SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "bench_training.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, metavar="ARGS",
                        help="batch|cf|all and their options (see `animerec bench -- --help`)")


def run(args: argparse.Namespace) -> int:
    import importlib.util

    if not SCRIPT.is_file():
        print(f"bench: {SCRIPT} not found: benchmarks run from a source checkout")
        return 2
    spec = importlib.util.spec_from_file_location("bench_training", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rest = [a for a in args.bench_args if a != "--"]
    return int(module.main(rest))
