"""The batch training job: MongoDB -> models -> MongoDB.

Stages (each timed, each with a tqdm bar where it loops): read the ratings and anime with the fast
readers, fit the hybrid (content topics + collaborative factors), write per-anime topic vectors into
``anime.topics``, optionally score a per-user holdout, save the artefact with joblib under
``<artifacts>/<run_id>/``, and publish top-N per user atomically (recommender.publish). The run is
recorded in ``runs`` (``_id`` = run id): params, metrics, per-stage seconds, status
(``running`` -> ``published`` | ``failed``), timestamps and where the artefact is.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pymongo import UpdateOne
from pymongo.database import Database
from tqdm import tqdm

from pipeline.readers import Ratings, read_anime, read_ratings, rebuild_packed_lists
from pipeline.store import ANIME, RUNS, with_retries
from recommender.artifacts import TrainedRecommender
from recommender.publish import DEFAULT_BATCH_SIZE, Publisher, new_run_id

logger = logging.getLogger(__name__)

DEFAULT_N = 50
DEFAULT_ARTIFACTS = Path(os.environ.get("ANIMEREC_ARTIFACTS", "artifacts"))
SCORE_CHUNK = 2_048  # users scored per block: bounds the dense rows x anime score block (~140 MB at MAL size)
TOPIC_BATCH = 1_000


@dataclass
class TrainResult:
    run_id: str
    users: int
    anime: int
    ratings: int
    published: int
    stage_seconds: dict[str, float]
    metrics: dict[str, Any]
    params: dict[str, Any]
    artifact: Path | None
    collection: str
    peak_rss_mb: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"run {self.run_id}: {self.users:,} users x {self.anime:,} anime, {self.ratings:,} ratings; "
                 f"published {self.published:,} lists to {self.collection}"]
        total = sum(self.stage_seconds.values())
        lines.append("  time per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.stage_seconds.items())
                     + f" (total {total:.1f} s)")
        wait = self.extra.get("publish_store_wait_s")
        if wait:
            lines.append(f"  of publish: {wait:.1f} s waiting for MongoDB to take the inserts")
        if self.metrics:
            models = {name: m for name, m in self.metrics.items() if name != "dataset"}
            seed = self.params.get("seed", 0)
            lines.append(f"  holdout (per-user 80/20, seed {seed}): " + "; ".join(
                f"{name} " + " ".join(f"{k}={v:.4f}" for k, v in m.items() if isinstance(v, float))
                for name, m in models.items()))
        if self.artifact:
            lines.append(f"  model: {self.artifact}")
        if self.peak_rss_mb:
            lines.append(f"  peak RSS: {self.peak_rss_mb:,.0f} MB")
        return "\n".join(lines)


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_peak_rss() -> bool:
    """Reset this process's peak-RSS mark (Linux ``clear_refs`` 5), so each stage reports its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _vm_hwm_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return peak_rss_mb()


class _Stages:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        _reset_peak_rss()
        logger.info("stage %s ...", name)
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)
            self.peak_mb[name] = round(_vm_hwm_mb(), 1)
            logger.info("stage %s: %.1f s, peak RSS %.0f MB", name, self.seconds[name], self.peak_mb[name])

    @property
    def overall_peak_mb(self) -> float:
        return max(self.peak_mb.values(), default=0.0)


# ----------------------------------------------------------------------------- the model


def fit_scorer(ratings: Ratings, anime: pd.DataFrame, params: dict[str, Any]) -> tuple[Any, float]:
    """Fit the hybrid the job publishes from; returns it and its adventurousness."""
    from recommender.scoring import HybridScorer

    scorer = HybridScorer(adventurousness=params.get("adventurousness"), **params.get("model", {}))
    scorer.fit(ratings.scores, ratings.anime_ids, anime)
    return scorer, scorer.default_adventurousness


def anime_metadata(anime_ids: np.ndarray, anime: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Titles and image URLs in column order ('' / the id as title when the anime was never fetched)."""
    frame = anime.reindex(anime_ids)
    titles = frame["title"].astype(object).where(frame["title"].notna(), None)
    titles = np.array([t if isinstance(t, str) and t else str(a) for t, a in zip(titles, anime_ids, strict=True)],
                      dtype=object)
    images = frame["image_url"] if "image_url" in frame else pd.Series([""] * len(frame))
    images = np.array([u if isinstance(u, str) else "" for u in images], dtype=object)
    return titles, images


# ----------------------------------------------------------------------------- stages


def write_topics(db: Database, anime_ids: np.ndarray, topics: np.ndarray, batch_size: int = TOPIC_BATCH,
                 progress: bool = True) -> int:
    """Bulk ``$set`` of each anime's topic vector (rounded: 4 decimals is plenty for a similarity)."""
    written = 0
    rounded = np.round(topics.astype(np.float64), 4)
    for start in tqdm(range(0, len(anime_ids), batch_size), desc="topics", unit="batch", leave=False,
                      disable=not progress):
        ops = [UpdateOne({"_id": int(a)}, {"$set": {"topics": v}})
               for a, v in zip(anime_ids[start:start + batch_size].tolist(),
                               rounded[start:start + batch_size].tolist(), strict=True)]
        result = with_retries(lambda ops=ops: db[ANIME].bulk_write(ops, ordered=False), what="topic vectors")
        written += result.matched_count
    return written


def iter_documents(model: TrainedRecommender, ratings: Ratings, created_at: datetime,
                   chunk: int = SCORE_CHUNK, progress: bool = True) -> Iterator[dict[str, Any]]:
    """Every user's published document, scored ``chunk`` users at a time."""
    n_users = ratings.shape[0]
    bar = tqdm(total=n_users, desc="publish", unit="user", disable=not progress, leave=False)
    for start in range(0, n_users, chunk):
        stop = min(start + chunk, n_users)
        top = model.recommend_rows(ratings.scores[start:stop], ratings.statuses[start:stop],
                                   userid=np.arange(start, stop))
        yield from model.documents(ratings.user_ids[start:stop], top, created_at)
        bar.update(stop - start)
    bar.close()


def holdout_metrics(ratings: Ratings, anime: pd.DataFrame, params: dict[str, Any],
                    seed: int = 0) -> dict[str, Any]:
    """The evaluation protocol of recommender.evaluation on the stored ratings: fit on 80 % per user,
    NDCG/P/R@10 on the rest, for the published model and the popularity baseline."""
    from recommender import evaluation as ev

    coo = ratings.scored().tocoo()
    frame = pd.DataFrame({"user_id": ratings.user_ids[coo.row], "anime_id": ratings.anime_ids[coo.col],
                          "score": coo.data})
    frame = ev.filter_ratings(frame)
    if frame.empty:
        return {}
    split = ev.build_split(frame, seed)
    train = Ratings(split.user_ids, split.item_ids, split.train.astype(np.float32),
                    sp.csr_matrix((np.full(split.train.nnz, 2, np.int8), split.train.indices, split.train.indptr),
                                  shape=split.train.shape))
    scorer, a = fit_scorer(train, anime, params)

    def hybrid(rows: np.ndarray) -> np.ndarray:
        cf, content = scorer.score_components(train.scores[rows], train.statuses[rows], rows)
        return a * cf + (1 - a) * content

    popularity = np.asarray((split.train > 0).sum(axis=0), dtype=np.float64).ravel()
    out = {"published_model": ev.evaluate_scorer(hybrid, split),
           "popularity": ev.evaluate_scorer(lambda rows: np.tile(popularity, (len(rows), 1)), split)}
    out["dataset"] = split.info
    return out


# ----------------------------------------------------------------------------- the job


def train(db: Database, *, n: int = DEFAULT_N, adventurousness: float | None = None,
          artifacts_dir: str | Path = DEFAULT_ARTIFACTS, holdout: bool = False, seed: int = 0,
          ratings: Ratings | None = None, anime: pd.DataFrame | None = None,
          batch_size: int = DEFAULT_BATCH_SIZE, run_id: str | None = None, progress: bool = True,
          write_anime_topics: bool = True, model_params: dict[str, Any] | None = None, rebuild_packed: bool = False,
          fit: Callable[[Ratings, pd.DataFrame, dict[str, Any]], tuple[Any, float]] | None = None) -> TrainResult:
    """Run the whole batch and publish; returns the summary.

    ``rebuild_packed`` rewrites ``animelists_packed`` from ``animelists`` before reading (pipeline/packed.py).
    ``model_params`` go to the hybrid (e.g. ``{"nmf_weight": 0.3, "content": {"n_topics": 20}}``);
    ``ratings``/``anime`` skip the read stage (benchmarks hand synthetic data straight in); ``fit``
    replaces the model fitting (tests reuse one fitted model to exercise publishing quickly).
    """
    if not 1 <= n <= 500:
        raise ValueError(f"n must be between 1 and 500, got {n}")
    if adventurousness is not None and not 0.0 <= adventurousness <= 1.0:
        raise ValueError(f"adventurousness must be in [0, 1], got {adventurousness}")
    fit = fit or fit_scorer
    run_id = run_id or new_run_id()
    params: dict[str, Any] = {"n": n, "adventurousness": adventurousness, "seed": seed,
                              "model": model_params or {}}
    started = datetime.now(UTC)
    runs = db[RUNS]
    runs.insert_one({"_id": run_id, "kind": "run", "status": "running", "params": params, "started_at": started})
    stage = _Stages()
    publisher: Publisher | None = None
    try:
        with stage("read"):
            if ratings is None:
                if rebuild_packed:
                    logger.info("rebuilt the packed copies of %d lists", rebuild_packed_lists(db))
                ratings = read_ratings(db)
            if anime is None:
                anime = read_anime(db)
        if ratings.shape[0] == 0 or ratings.scores.nnz == 0:
            raise RuntimeError("no anime lists in MongoDB: crawl some first (`animerec crawl`)")
        logger.info("%d users x %d anime, %d list entries", ratings.shape[0], ratings.shape[1], ratings.scores.nnz)
        metrics: dict[str, Any] = {}
        if holdout:
            with stage("holdout"):
                metrics = holdout_metrics(ratings, anime, params, seed)
        with stage("fit"):
            scorer, default_a = fit(ratings, anime, params)
        titles, images = anime_metadata(ratings.anime_ids, anime)
        model = TrainedRecommender(scorer, ratings.anime_ids, titles, images, default_a, n, run_id,
                                   {**params, "adventurousness": default_a, **getattr(scorer, "params_", {})})
        params = model.params
        if write_anime_topics and hasattr(scorer, "anime_topics"):
            with stage("topics"):
                topic_ids, topics = scorer.anime_topics()
                if topics is not None:
                    write_topics(db, topic_ids, topics, progress=progress)
        artifact = None
        if artifacts_dir:
            with stage("save"):
                artifact = model.save(Path(artifacts_dir).resolve() / run_id)
        with stage("publish"):
            publisher = Publisher(db, run_id, batch_size=batch_size)
            publisher.write(iter_documents(model, ratings, started, progress=progress))
            # The run document is complete before the pointer moves, so a reader of runs.live finds it.
            runs.update_one({"_id": run_id}, {"$set": {
                "params": params, "metrics": _jsonable(metrics), "artifact": str(artifact) if artifact else None,
                "collection": publisher.collection, "users": int(ratings.shape[0]), "anime": int(ratings.shape[1]),
                "ratings": int(ratings.scores.nnz)}})
            result = publisher.commit()
        if artifacts_dir:
            _prune_artifacts(Path(artifacts_dir).resolve(), result.dropped)
        finished = datetime.now(UTC)
        runs.update_one({"_id": run_id}, {"$set": {"status": "published", "finished_at": finished,
                                                   "stage_seconds": stage.seconds, "documents": result.documents,
                                                   "stage_peak_rss_mb": stage.peak_mb,
                                                   "publish_store_wait_s": result.store_wait_seconds,
                                                   "previous_run_id": result.previous_run_id}})
        return TrainResult(run_id, int(ratings.shape[0]), int(ratings.shape[1]), int(ratings.scores.nnz),
                           result.documents, stage.seconds, metrics, params, artifact, result.collection,
                           max(stage.overall_peak_mb, 0.0), {"stage_peak_rss_mb": stage.peak_mb,
                                                             "publish_store_wait_s": result.store_wait_seconds})
    except BaseException as exc:
        if publisher is not None:
            publisher.abort()
        runs.update_one({"_id": run_id}, {"$set": {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                                                   "finished_at": datetime.now(UTC),
                                                   "stage_seconds": stage.seconds}})
        raise


def _prune_artifacts(artifacts_dir: Path, dropped_collections: list[str]) -> None:
    """Remove the saved models of runs whose published set was just dropped (live and previous stay)."""
    import shutil

    from recommender.publish import PREFIX

    for name in dropped_collections:
        folder = artifacts_dir / name[len(PREFIX):]
        if folder.is_dir() and folder.parent == artifacts_dir:
            shutil.rmtree(folder, ignore_errors=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def live_model(db: Database, artifacts: str | Path | None = None) -> TrainedRecommender:
    """The model behind the live published set (or the one in ``artifacts``, a run folder or model file)."""
    if artifacts:
        return TrainedRecommender.load(artifacts)
    from recommender.publish import live_pointer

    pointer = live_pointer(db)
    if pointer is None:
        raise LookupError("no recommendations have been published yet: run `animerec train` first")
    run = db[RUNS].find_one({"_id": pointer["run_id"]}, {"artifact": 1})
    if not run or not run.get("artifact"):
        raise LookupError(f"the live run {pointer['run_id']} saved no model artefact; pass --artifacts DIR")
    return TrainedRecommender.load(run["artifact"])
