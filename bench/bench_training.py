"""Benchmarks of issue 6: the training batch, CF fit vs implicit ALS, stored queries and fold-in, at MAL scale.

Run through the CLI (``animerec bench --help``) or directly (``python bench/bench_training.py --help``).
Each figure is printed with a baseline measured in the same process (implicit ALS for the CF fit, a
bare ``find_one`` for the stored query), and every run appends one JSON line to ``--out``.

- ``batch --scale S``: synthetic MAL at S x full size (recommender.synthetic) written into MongoDB,
  then the real job: read -> fit -> topics -> save -> publish, time per stage and peak RSS of this
  process (and of the local server's process when it is the embedded one); then stored-query p50/p95
  and fold-in time of new 300-entry lists against what was just published.
- ``cf --scale S``: our NMF (recommender.collaborative) vs implicit's ALS, same rank, same matrix.
- ``all --scales 0.01,0.1``: both, one child process per scale (so peak RSS is per scale), and a
  table of how each time grows from the smallest scale.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _proc_hwm_mb(pid: int) -> float | None:
    """Peak resident memory of another process (the local server), from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples) * 1e3
    return {"p50_ms": round(float(np.percentile(arr, 50)), 3), "p95_ms": round(float(np.percentile(arr, 95)), 3),
            "n": len(samples)}


@contextmanager
def _store(workdir: Path):
    """MONGO_URI when set (a real server), else a fresh embedded SecantusDB in ``workdir``."""
    uri = os.environ.get("MONGO_URI")
    if uri:
        yield uri, None, "MONGO_URI"
        return
    from pipeline.embedded import LocalMongo

    with LocalMongo(workdir / "mongo") as server:
        yield server.uri, server, "SecantusDB (local wire-compatible server)"


def bench_query(db: Any, usernames: list[str], queries: int, seed: int = 0) -> dict[str, Any]:
    """p50/p95 of ``recommend_stored`` (pointer + one find_one + formatting) vs a bare find_one."""
    from recommender.publish import live_collection
    from recommender.query import recommend_stored

    rng = np.random.default_rng(seed)
    picks = rng.choice(len(usernames), size=queries)
    coll = db[live_collection(db)]
    for u in picks[:50]:  # warm the connection pool and the server's cache
        recommend_stored(db, usernames[u], 10)
    api, bare = [], []
    for u in picks.tolist():
        name = usernames[u]
        start = time.perf_counter()
        coll.find_one({"_id": name})
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        rows = recommend_stored(db, name, 10)
        api.append(time.perf_counter() - start)
        assert rows, name
    knob = []
    for u in picks[:200].tolist():
        start = time.perf_counter()
        recommend_stored(db, usernames[u], 10, adventurousness=0.3)
        knob.append(time.perf_counter() - start)
    return {"recommend_stored": _percentiles(api), "recommend_stored_reranked": _percentiles(knob),
            "baseline_find_one": _percentiles(bare)}


def bench_foldin(model: Any, ratings: Any, lists: int = 30, length: int = 300, seed: int = 0) -> dict[str, Any]:
    """Time to fold a new ``length``-entry list in (validation, scoring, top-N, explanations)."""
    from recommender.query import recommend_for_list

    rng = np.random.default_rng(seed)
    counts = np.diff(ratings.scores.indptr)
    long_rows = np.flatnonzero(counts >= length)
    if len(long_rows) == 0:
        return {"skipped": f"no synthetic user has {length} entries"}
    samples = []
    for row in rng.choice(long_rows, size=min(lists, len(long_rows)), replace=False).tolist():
        lo, hi = ratings.scores.indptr[row], ratings.scores.indptr[row + 1]
        take = rng.choice(hi - lo, size=length, replace=False) + lo
        entries = [{"anime_id": int(ratings.anime_ids[c]), "score": int(s), "status": int(st)}
                   for c, s, st in zip(ratings.scores.indices[take], ratings.scores.data[take],
                                       ratings.statuses.data[take], strict=True)]
        start = time.perf_counter()
        rows = recommend_for_list(model, entries, 10)
        samples.append(time.perf_counter() - start)
        assert len(rows) == 10
    return {"fold_in_300": _percentiles(samples)}


def bench_batch(scale: float, *, seed: int = 0, queries: int = 1000, workdir: Path | None = None,
                n: int = 50, progress: bool = True, read: bool = True) -> dict[str, Any]:
    """The whole job on a synthetic MAL; ``read=False`` hands the ratings straight to the job (no list
    documents in MongoDB, no read stage) for sizes the local server cannot serve in one read."""
    from pipeline.store import connect, ensure_indexes
    from recommender.synthetic import generate, write_to_mongo
    from recommender.train import live_model, train

    if workdir is None:  # a throw-away store and models, removed afterwards
        with tempfile.TemporaryDirectory(prefix=f"animerec-bench-{scale}-") as tmp:
            return bench_batch(scale, seed=seed, queries=queries, workdir=Path(tmp), n=n, progress=progress,
                               read=read)
    workdir = Path(workdir)
    out: dict[str, Any] = {"bench": "batch", "scale": scale, "seed": seed, "read_from_mongo": read}
    data = generate(scale, seed=seed)
    out["dataset"] = {"users": data.ratings.shape[0], "anime": data.ratings.shape[1], "entries": data.entries,
                      "generate_s": round(data.seconds, 2)}
    _log(f"batch {scale}: generated {out['dataset']}")
    with _store(workdir) as (uri, server, kind):
        out["store"] = kind
        db = connect(uri)
        ensure_indexes(db)
        start = time.perf_counter()
        if read:
            out["setup_write_s"] = {k: round(v, 2) for k, v in write_to_mongo(db, data, progress=progress).items()}
            _log(f"batch {scale}: wrote lists in {time.perf_counter() - start:.1f} s")
            handed: dict[str, Any] = {}
        else:
            empty = type(data.ratings)(data.ratings.user_ids[:0], data.ratings.anime_ids, data.ratings.scores[:0],
                                       data.ratings.statuses[:0])
            write_to_mongo(db, (empty, data.anime), progress=False)  # anime only: the topics stage updates them
            handed = {"ratings": data.ratings, "anime": data.anime}
        rss_before = _rss_mb()
        user_ids = data.ratings.user_ids
        del data  # with read=True the job reads everything back from MongoDB, like a real run
        result = train(db, n=n, artifacts_dir=workdir / "artifacts", progress=progress, **handed)
        out["stages_s"] = result.stage_seconds
        out["batch_s"] = round(sum(result.stage_seconds.values()), 2)
        # publish = the job's own work + time blocked on the store's inserts (the local server is Python)
        out["publish_store_wait_s"] = result.extra.get("publish_store_wait_s")
        out["fit_s"] = result.params.get("fit_seconds", {})
        out["peak_rss_mb"] = round(result.peak_rss_mb, 1)
        out["stage_peak_rss_mb"] = result.extra.get("stage_peak_rss_mb", {})
        out["rss_before_job_mb"] = round(rss_before, 1)
        if server is not None and server.process is not None:
            out["server_peak_rss_mb"] = _proc_hwm_mb(server.process.pid)
        _log(f"batch {scale}: {result.summary()}")
        # Sampled from the users we generated: a find() over the published collection would make the
        # local server decode all of it (325k x 11 KB at full size) just to list names.
        usernames = np.random.default_rng(seed).choice(user_ids, min(20_000, len(user_ids)), replace=False).tolist()
        out["query"] = bench_query(db, usernames, queries, seed)
        _log(f"batch {scale}: query {out['query']}")
        from pipeline.readers import read_ratings

        model = live_model(db)
        ratings = handed.pop("ratings") if handed else read_ratings(db)
        handed.clear()
        out["foldin"] = bench_foldin(model, ratings, seed=seed)
        _log(f"batch {scale}: fold-in {out['foldin']}")
        db.client.close()
    return out


def bench_cf(scale: float, *, seed: int = 0, factors: int = 64) -> dict[str, Any]:
    """Our NMF (its default iterations) vs implicit ALS (its default 15 iterations) at the same rank."""
    import threadpoolctl

    from recommender.baselines import ALSRecommender
    from recommender.collaborative import NMFRecommender
    from recommender.synthetic import generate

    data = generate(scale, seed=seed)
    matrix = data.ratings.scores
    out: dict[str, Any] = {"bench": "cf", "scale": scale, "factors": factors,
                           "dataset": {"users": matrix.shape[0], "anime": matrix.shape[1], "entries": int(matrix.nnz)},
                           "threads": os.cpu_count()}
    # Load (or, on a cold numba cache, compile) the NMF kernel first and say how long that took: a
    # one-off per install, not part of a fit (implicit's ALS ships compiled).
    start = time.perf_counter()
    NMFRecommender(factors=factors, iterations=1).fit(matrix[:200])
    out["nmf_kernel_load_s"] = round(time.perf_counter() - start, 2)
    timings = {}
    for name, model in (("nmf", NMFRecommender(factors=factors, random_state=seed)),
                        ("implicit_als", ALSRecommender(factors=factors, random_state=seed))):
        start = time.perf_counter()
        with threadpoolctl.threadpool_limits(None):
            model.fit(matrix)
        timings[name] = round(time.perf_counter() - start, 2)
        _log(f"cf {scale}: {name} fit {timings[name]} s")
    out["fit_s"] = timings
    out["nmf_over_als"] = round(timings["nmf"] / timings["implicit_als"], 3)
    out["iterations"] = {"nmf": NMFRecommender().iterations, "implicit_als": ALSRecommender().iterations}
    return out


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _child(args: list[str]) -> dict[str, Any]:
    """Run one benchmark in a fresh process (its own peak RSS) and return its JSON."""
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args, "--json"], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark {args} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def growth_table(results: list[dict[str, Any]]) -> str:
    batches = sorted((r for r in results if r["bench"] == "batch"), key=lambda r: r["scale"])
    cfs = {r["scale"]: r for r in results if r["bench"] == "cf"}
    if not batches:
        return ""
    stages = list(batches[-1]["stages_s"])
    lines = ["| scale | users | anime | entries | " + " | ".join(f"{s} s" for s in stages)
             + " | batch s | peak RSS MB (job / server) | query p50/p95 ms | bare find_one p50 ms"
             " | fold-in 300 p50 ms | NMF fit s | ALS fit s |",
             "|" + "---|" * (11 + len(stages))]
    for r in batches:
        d = r["dataset"]
        q = r["query"]["recommend_stored"]
        f = r["foldin"].get("fold_in_300", {})
        cf = cfs.get(r["scale"], {}).get("fit_s", {})
        lines.append(
            f"| {r['scale']} | {d['users']:,} | {d['anime']:,} | {d['entries']:,} | "
            + " | ".join(str(r["stages_s"].get(s, "-")) for s in stages)
            + f" | {r['batch_s']} | {r['peak_rss_mb']:,.0f} / {r.get('server_peak_rss_mb') or 0:,.0f} | "
            f"{q['p50_ms']} / {q['p95_ms']} | {r['query']['baseline_find_one']['p50_ms']} | "
            f"{f.get('p50_ms', '-')} | {cf.get('nmf', '-')} | {cf.get('implicit_als', '-')} |")
    if len(batches) > 1:
        base = batches[0]
        lines.append("")
        lines.append(f"growth from scale {base['scale']} (x entries: time ratio)")
        for r in batches[1:]:
            x = r["dataset"]["entries"] / base["dataset"]["entries"]
            parts = [f"{s} x{r['stages_s'][s] / max(base['stages_s'].get(s, 0), 1e-3):.1f}" for s in stages]
            lines.append(f"- {r['scale']}: entries x{x:.1f}; batch x{r['batch_s'] / base['batch_s']:.1f} ("
                         + ", ".join(parts) + ")")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="animerec bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("batch", "cf", "all"), nargs="?", default="all")
    parser.add_argument("--scale", type=float, default=0.01, help="batch/cf: fraction of full MAL size")
    parser.add_argument("--scales", default="0.01,0.1", help="all: comma-separated scales (1 = full size)")
    parser.add_argument("--queries", type=int, default=1000, help="stored queries timed (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the embedded store and models go (default: a temporary folder, removed after)")
    parser.add_argument("--no-read", action="store_true",
                        help="batch: hand the synthetic ratings to the job instead of writing and reading them "
                             "through MongoDB (for sizes the local server cannot serve)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    parser.add_argument("--out", type=Path, default=None, help="append each result as a JSON line to this file")
    args = parser.parse_args(argv)
    if args.what == "all":
        results = []
        for scale in [float(s) for s in args.scales.split(",") if s]:
            for what in ("batch", "cf"):
                result = _child([what, "--scale", str(scale), "--queries", str(args.queries),
                                 "--seed", str(args.seed)])
                results.append(result)
                if args.out:
                    with args.out.open("a") as fh:
                        fh.write(json.dumps(result) + "\n")
        print(json.dumps(results) if args.json else growth_table(results))
        return 0
    if args.what == "batch":
        result = bench_batch(args.scale, seed=args.seed, queries=args.queries, workdir=args.workdir,
                             progress=not args.json, read=not args.no_read)
    else:
        result = bench_cf(args.scale, seed=args.seed)
    if args.out:
        with args.out.open("a") as fh:
            fh.write(json.dumps(result) + "\n")
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
