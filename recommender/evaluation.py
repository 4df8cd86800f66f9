"""The fixed offline evaluation protocol (issue 5) and the run that compares every model.

Protocol, fixed so numbers compare across runs and tools:

1. ratings with score 0 (listed but unscored) are dropped; keep anime with >= 5 ratings, then users
   with >= 10 ratings (one pass, in that order);
2. per user a seeded random 20 % of their ratings go to test; test anime unseen in train are dropped;
3. relevant = held-out rating >= that user's mean rating over all their (kept) ratings;
4. candidates = every train anime the user has not rated in train;
5. P@10, R@10 and NDCG@10 (binary gain, IDCG over min(|relevant|, 10)) averaged over users with at
   least one relevant test item; coverage@10 = share of train anime that appear in some top-10.

Hyper-parameters are tuned on an inner 80/20 split of train only (same splitting rule, seed + 1000);
the test split never tunes anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

logger = logging.getLogger(__name__)

MIN_ITEM_RATINGS = 5
MIN_USER_RATINGS = 10
TEST_FRACTION = 0.2
K = 10
INNER_SEED_OFFSET = 1000
MODEL_ORDER = ("popularity", "ease", "als", "nmf_seed", "nmf", "content", "hybrid")

_USER_COLUMNS = ("user_id", "userId", "user", "username")
_ITEM_COLUMNS = ("anime_id", "item_id", "movieId", "itemId", "movie_id", "item")
_SCORE_COLUMNS = ("score", "rating")


# ----------------------------------------------------------------------------- data


def load_ratings(path: str | Path) -> pd.DataFrame:
    """Read a ratings CSV into ``user_id, anime_id, score`` with unscored (0) rows dropped.

    Accepts MAL exports (``user_id, anime_id, score``) and MovieLens-style files (``userId, movieId,
    rating``), so the same protocol can be run on other real rating data.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ratings CSV not found: {path}")
    header = pd.read_csv(path, nrows=0).columns
    user_col = next((c for c in _USER_COLUMNS if c in header), None)
    item_col = next((c for c in _ITEM_COLUMNS if c in header), None)
    score_col = next((c for c in _SCORE_COLUMNS if c in header), None)
    if user_col is None or item_col is None or score_col is None:
        raise ValueError(
            f"{path}: need a user column ({'/'.join(_USER_COLUMNS)}), an item column "
            f"({'/'.join(_ITEM_COLUMNS)}) and a 'score' or 'rating' column; found {list(header)}"
        )
    frame = pd.read_csv(path, usecols=[user_col, item_col, score_col])
    frame.columns = ["user_id", "anime_id", "score"]
    frame["score"] = pd.to_numeric(frame["score"], errors="coerce")
    frame = frame.dropna()
    frame = frame[frame["score"] > 0]
    # The last occurrence wins for a duplicated (user, anime) pair, as in a re-scraped list.
    frame = frame.drop_duplicates(["user_id", "anime_id"], keep="last")
    frame["anime_id"] = frame["anime_id"].astype(np.int64)
    frame["score"] = frame["score"].astype(np.float32)
    return frame.reset_index(drop=True)


def load_anime(path: str | Path) -> pd.DataFrame:
    """Read anime metadata (``anime_with_synopsis.csv`` layout) into ``anime_id, title, genres, synopsis``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"anime CSV not found: {path}")
    frame = pd.read_csv(path)
    renames = {"MAL_ID": "anime_id", "Name": "title", "Genders": "genres", "Genres": "genres",
               "sypnopsis": "synopsis", "Synopsis": "synopsis"}
    frame = frame.rename(columns={k: v for k, v in renames.items() if k in frame.columns})
    if "anime_id" not in frame.columns or "synopsis" not in frame.columns:
        raise ValueError(f"{path}: need MAL_ID/anime_id and sypnopsis/synopsis columns; "
                         f"found {list(frame.columns)}")
    for column in ("title", "genres", "synopsis"):
        if column not in frame.columns:
            frame[column] = ""
        frame[column] = frame[column].fillna("").astype(str)
    frame["anime_id"] = pd.to_numeric(frame["anime_id"], errors="coerce")
    frame = frame.dropna(subset=["anime_id"]).drop_duplicates("anime_id", keep="last")
    frame["anime_id"] = frame["anime_id"].astype(np.int64)
    return frame[["anime_id", "title", "genres", "synopsis"]].reset_index(drop=True)


def filter_ratings(ratings: pd.DataFrame, min_item: int = MIN_ITEM_RATINGS,
                   min_user: int = MIN_USER_RATINGS) -> pd.DataFrame:
    """Keep anime with >= ``min_item`` ratings, then users with >= ``min_user`` (one pass)."""
    item_counts = ratings["anime_id"].map(ratings["anime_id"].value_counts())
    kept = ratings[item_counts >= min_item]
    user_counts = kept["user_id"].map(kept["user_id"].value_counts())
    return kept[user_counts >= min_user].reset_index(drop=True)


def split_per_user(ratings: pd.DataFrame, seed: int,
                   test_fraction: float = TEST_FRACTION) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded per-user holdout: round(test_fraction * n) random ratings of each user go to test.

    Rows are sorted by (user, anime) first so the split depends only on the data and the seed, never
    on the file's row order. Test anime unseen in train are dropped.
    """
    frame = ratings.sort_values(["user_id", "anime_id"], kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    keys = rng.random(len(frame))
    user_codes = pd.factorize(frame["user_id"])[0]
    # Rank rows within their user by the random key: a per-user random permutation, vectorised.
    order = np.lexsort((keys, user_codes))
    sizes = np.bincount(user_codes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(len(frame), dtype=np.int64)
    rank[order] = np.arange(len(frame)) - np.repeat(starts, sizes)
    n_test = np.floor(sizes * test_fraction + 0.5).astype(np.int64)
    is_test = rank < n_test[user_codes]
    train, test = frame[~is_test], frame[is_test]
    test = test[test["anime_id"].isin(train["anime_id"].unique())]
    return train.reset_index(drop=True), test.reset_index(drop=True)


@dataclass
class Split:
    """A train/test split as matrices over the train users and train anime.

    ``train`` holds scores (users x anime, CSR); ``relevant`` marks held-out anime rated at or
    above the user's mean; ``heldout`` marks every held-out anime (relevant or not).
    """

    train: sp.csr_matrix
    relevant: sp.csr_matrix
    heldout: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def eval_users(self) -> np.ndarray:
        """Rows of users with at least one relevant held-out item: the users metrics average over."""
        return np.flatnonzero(np.diff(self.relevant.indptr) > 0)


def build_split(ratings: pd.DataFrame, seed: int, user_means: pd.Series | None = None) -> Split:
    """Split ``ratings`` per user and index both halves by the train users and anime.

    ``user_means`` defaults to each user's mean over all of ``ratings`` (train + test), which is
    the relevance threshold of the protocol.
    """
    if user_means is None:
        user_means = ratings.groupby("user_id")["score"].mean()
    train, test = split_per_user(ratings, seed)
    user_ids = np.sort(train["user_id"].unique())
    item_ids = np.sort(train["anime_id"].unique())
    rows = np.searchsorted(user_ids, train["user_id"].to_numpy())
    cols = np.searchsorted(item_ids, train["anime_id"].to_numpy())
    shape = (len(user_ids), len(item_ids))
    train_m = sp.csr_matrix((train["score"].to_numpy(np.float32), (rows, cols)), shape=shape)
    test = test[test["user_id"].isin(user_ids)]
    t_rows = np.searchsorted(user_ids, test["user_id"].to_numpy())
    t_cols = np.searchsorted(item_ids, test["anime_id"].to_numpy())
    is_relevant = test["score"].to_numpy() >= test["user_id"].map(user_means).to_numpy()
    heldout = sp.csr_matrix((np.ones(len(test), np.float32), (t_rows, t_cols)), shape=shape)
    relevant = sp.csr_matrix((np.ones(int(is_relevant.sum()), np.float32),
                              (t_rows[is_relevant], t_cols[is_relevant])), shape=shape)
    info = {"users": shape[0], "items": shape[1], "train_ratings": int(train_m.nnz),
            "test_ratings": int(len(test)), "relevant_test": int(is_relevant.sum())}
    return Split(train_m, relevant, heldout, user_ids, item_ids, info)


def inner_split(split: Split, seed: int) -> Split:
    """The 80/20 split of ``split.train`` used for tuning (ids stay MAL user and anime ids).

    Relevance inside uses each user's mean over their train ratings only: test data never leaks in.
    """
    coo = split.train.tocoo()
    frame = pd.DataFrame({"user_id": split.user_ids[coo.row], "anime_id": split.item_ids[coo.col],
                          "score": coo.data})
    return build_split(frame, seed + INNER_SEED_OFFSET)


# ----------------------------------------------------------------------------- metrics


def top_n_from_scores(scores: np.ndarray, exclude: sp.csr_matrix, n: int = K) -> np.ndarray:
    """Top-``n`` column indices per row of a dense score block, never an excluded (listed) item (``-1`` pads)."""
    from recommender.kernels import row_top_n

    return row_top_n(scores, exclude, n)[0]


def ranking_metrics(top: np.ndarray, relevant: sp.csr_matrix, n_items: int, k: int = K) -> dict[str, float]:
    """P@k, R@k, NDCG@k (binary gain) over the rows of ``top``, and coverage@k.

    ``top`` holds each user's ranked item indices (row i for row i of ``relevant``); rows with no
    relevant item are skipped for P/R/NDCG but still count for coverage. Recall is hits / |relevant|
    (all of the user's relevant held-out anime); the IDCG uses min(|relevant|, k) ideal hits.
    """
    top = np.asarray(top)[:, :k]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    precision, recall, ndcg = [], [], []
    for row in range(top.shape[0]):
        rel = relevant.indices[relevant.indptr[row]:relevant.indptr[row + 1]]
        if rel.size == 0:
            continue
        hits = np.isin(top[row], rel)
        n_hits = float(hits.sum())
        ideal = discounts[: min(rel.size, k)].sum()
        precision.append(n_hits / k)
        recall.append(n_hits / rel.size)
        ndcg.append(float(discounts[: hits.size][hits].sum()) / ideal)
    coverage = np.unique(top[top >= 0]).size / n_items if n_items else 0.0

    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else 0.0

    return {"ndcg@10": mean(ndcg), "p@10": mean(precision), "r@10": mean(recall),
            "coverage@10": float(coverage), "users": len(ndcg)}


def evaluate_scorer(score_users: Callable[[np.ndarray], np.ndarray], split: Split,
                    users: np.ndarray | None = None, k: int = K, chunk: int = 2048) -> dict[str, float]:
    """Metrics of a model given as ``score_users(rows) -> dense scores`` on ``split``.

    Listed (train) items are excluded here, in the evaluator, so a model cannot cheat by
    recommending what the user already rated.
    """
    users = split.eval_users if users is None else users
    tops = []
    for start in range(0, len(users), chunk):
        rows = users[start:start + chunk]
        tops.append(top_n_from_scores(score_users(rows), split.train[rows], k))
    top = np.vstack(tops) if tops else np.zeros((0, k), dtype=np.int64)
    return ranking_metrics(top, split.relevant[users], split.train.shape[1], k)


# ----------------------------------------------------------------------------- the comparison run

# Grids searched on the inner split (kept small: the whole run must stay within minutes).
EASE_L2_GRID = (50.0, 100.0, 200.0, 400.0, 800.0)
EASE_W_GRID = {"beta": (0.1, 0.2, 0.3), "l2": (100.0, 200.0, 400.0)}
ALS_GRID = {"factors": (32, 64, 128), "regularization": (1.0, 10.0, 30.0), "alpha": (1.0, 4.0)}
NMF_GRID = {"factors": (128, 256), "l2": (30.0, 45.0), "alpha": (2.0, 4.0)}
# Our NMF's settings outside the grid, also chosen on the inner splits (seeds 0-2): 20 sweeps (10 stop
# short of convergence at k >= 256) and popularity-weighted missing data (w0 = 0.5 x popularity^0.25
# over its mean, instead of a uniform w0 = 1).
NMF_FIXED = {"iterations": 20, "missing_exponent": 0.25, "missing_weight": 0.5}
ADVENTUROUSNESS_GRID = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
NMF_WEIGHT_GRID = (0.0, 0.1, 0.2, 0.3)


def _grid(space: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    combos: list[dict[str, Any]] = [{}]
    for name, values in space.items():
        combos = [{**combo, name: value} for combo in combos for value in values]
    return combos


def _scorer(model: Any, split: Split) -> Callable[[np.ndarray], np.ndarray]:
    return lambda rows: model.score(rows, split.train[rows])


def _item_data(split: Split, anime: pd.DataFrame | None) -> dict[str, Any]:
    if anime is None:
        return {}
    meta = anime.set_index("anime_id").reindex(split.item_ids)
    return {"synopses": meta["synopsis"].fillna("").tolist(), "genres": meta["genres"].fillna("").tolist()}


def _tune(name: str, make: Callable[[dict[str, Any]], Any], grid: list[dict[str, Any]], inner: Split,
          item_data: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Fit every grid point on inner train, keep the best inner NDCG@10."""
    trials = []
    for params in grid:
        model = make(params).fit(inner.train, **(item_data or {}))
        metrics = evaluate_scorer(_scorer(model, inner), inner)
        trials.append({**params, "ndcg@10": metrics["ndcg@10"]})
        logger.debug("tune %s %s -> %.4f", name, params, metrics["ndcg@10"])
    best = max(trials, key=lambda trial: trial["ndcg@10"])
    params = {k: v for k, v in best.items() if k != "ndcg@10"}
    logger.info("tuned %s on the inner split: %s (inner NDCG@10 %.4f)", name, params, best["ndcg@10"])
    return params, trials


def _tune_ease(inner: Split, betas: Sequence[float], l2s: Sequence[float]) -> tuple[dict[str, Any], list]:
    """EASE grid sharing one Gram matrix per input transform (the inversion is the only cost per l2)."""
    from recommender.base import taste_weights
    from recommender.baselines import EASERecommender, ease_weights
    from recommender.kernels import gram_upper

    trials = []
    for beta in betas:
        gram = gram_upper(taste_weights(inner.train, beta))
        for l2 in l2s:
            model = EASERecommender(l2=l2, beta=beta)
            model.n_users_, model.n_items_ = inner.train.shape
            model.item_weights_ = ease_weights(gram, l2)
            metrics = evaluate_scorer(_scorer(model, inner), inner)
            trials.append({"beta": beta, "l2": l2, "ndcg@10": metrics["ndcg@10"]})
    best = max(trials, key=lambda trial: trial["ndcg@10"])
    logger.info("tuned EASE(beta=%s) on the inner split: l2=%s (inner NDCG@10 %.4f)",
                best["beta"], best["l2"], best["ndcg@10"])
    return {"beta": best["beta"], "l2": best["l2"]}, trials


def _tune_blend(hybrid: Any, split: Split) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Grid over (adventurousness, nmf_weight) on precomputed component scores of ``split``."""
    users = split.eval_users
    parts = hybrid.component_scores(split.train[users], users)
    grid = []
    for nmf_weight in NMF_WEIGHT_GRID:
        for a in ADVENTUROUSNESS_GRID if "content" in parts else (1.0,):
            top = top_n_from_scores(hybrid.blend(parts, a, nmf_weight), split.train[users], K)
            metrics = ranking_metrics(top, split.relevant[users], split.train.shape[1], K)
            grid.append({"adventurousness": a, "nmf_weight": nmf_weight, "ndcg@10": metrics["ndcg@10"]})
    best = max(grid, key=lambda trial: trial["ndcg@10"])
    return {"adventurousness": best["adventurousness"], "nmf_weight": best["nmf_weight"]}, grid


def run_evaluation(ratings_path: str | Path, anime_path: str | Path | None = None, seed: int = 0,
                   models: Sequence[str] = MODEL_ORDER, ratings: pd.DataFrame | None = None,
                   anime: pd.DataFrame | None = None, tune: bool = True,
                   neighbours: int | None = -1) -> dict[str, Any]:
    """The whole protocol: tune on the inner split, fit on train, score on test, for every model.

    ``neighbours``: how many neighbours per anime the hybrid's EASE and content parts keep (-1: the
    hybrid's default, None: all, the exact dense model). The EASE baseline always keeps all.

    Returns ``{"models": {name: metrics}, "dataset": {...}, "tuning": {...}, "curve": [...],
    "hybrid_neighbours": K or None}``;
    ``curve`` is test NDCG@10 against adventurousness (reported, never used to choose).
    """
    from recommender.baselines import (
        ALSRecommender,
        EASERecommender,
        PopularityRecommender,
        SeedNMFRecommender,
    )
    from recommender.collaborative import NMFRecommender
    from recommender.content import ContentRecommender
    from recommender.hybrid import DEFAULT_ADVENTUROUSNESS, DEFAULT_NEIGHBOURS, DEFAULT_NMF_WEIGHT, HybridRecommender

    if neighbours == -1:
        neighbours = DEFAULT_NEIGHBOURS

    started = time.perf_counter()
    if ratings is None:
        ratings = load_ratings(ratings_path)
    if anime is None and anime_path is not None:
        anime = load_anime(anime_path)
    kept = filter_ratings(ratings)
    if kept.empty:
        raise ValueError("no ratings left after keeping anime with >= 5 ratings and users with >= 10")
    split = build_split(kept, seed)
    inner = inner_split(split, seed)
    item_data, inner_item_data = _item_data(split, anime), _item_data(inner, anime)
    wanted = [name for name in MODEL_ORDER if name in models]
    if anime is None:
        wanted = [name for name in wanted if name != "content"]
    tuning: dict[str, Any] = {}

    def tuned(name: str, default: dict[str, Any], run: Callable[[], tuple[dict[str, Any], list]]) -> dict:
        if not tune:
            tuning[name] = {"params": default, "trials": []}
            return default
        params, trials = run()
        tuning[name] = {"params": params, "trials": trials}
        return params

    factories: dict[str, Callable[[], Any]] = {}
    if "popularity" in wanted:
        factories["popularity"] = PopularityRecommender
    if "ease" in wanted:
        p = tuned("ease", {"beta": 0.0, "l2": 200.0}, lambda: _tune_ease(inner, (0.0,), EASE_L2_GRID))
        factories["ease"] = lambda p=p: EASERecommender(**p)
    if "als" in wanted:
        p = tuned("als", {"factors": 32, "regularization": 1.0, "alpha": 1.0},
                  lambda: _tune("als", lambda q: ALSRecommender(**q), _grid(ALS_GRID), inner))
        factories["als"] = lambda p=p: ALSRecommender(**p)
    if "nmf_seed" in wanted:
        factories["nmf_seed"] = SeedNMFRecommender
    nmf_params = {"factors": 64, "l2": 30.0, "alpha": 2.0}
    if "nmf" in wanted or "hybrid" in wanted:
        nmf_params = {**NMF_FIXED, **tuned(
            "nmf", nmf_params,
            lambda: _tune("nmf", lambda q: NMFRecommender(**NMF_FIXED, **q), _grid(NMF_GRID), inner))}
        tuning["nmf"]["params"] = nmf_params
    if "nmf" in wanted:
        factories["nmf"] = lambda: NMFRecommender(**nmf_params)
    if "content" in wanted:
        factories["content"] = ContentRecommender
    if "hybrid" in wanted:
        ease_w = tuned("hybrid_ease", {"beta": 0.2, "l2": 400.0},
                       lambda: _tune_ease(inner, EASE_W_GRID["beta"], EASE_W_GRID["l2"]))
        components = {"ease": EASERecommender(**ease_w, neighbours=neighbours), "nmf": NMFRecommender(**nmf_params),
                      "content": ContentRecommender(neighbours=neighbours)}
        blend = {"adventurousness": DEFAULT_ADVENTUROUSNESS, "nmf_weight": DEFAULT_NMF_WEIGHT}
        if tune:
            probe = HybridRecommender(**components, nmf_weight=1.0).fit(inner.train, **inner_item_data)
            blend, grid = _tune_blend(probe, inner)
            tuning["hybrid"] = {"params": blend, "trials": grid}
            logger.info("tuned hybrid blend on the inner split: %s", blend)
        factories["hybrid"] = lambda: HybridRecommender(**components, **blend)

    results: dict[str, dict[str, float]] = {}
    curve: list[dict[str, float]] = []
    for name in wanted:
        model = factories[name]()
        fit_started = time.perf_counter()
        model.fit(split.train, **(item_data if name in ("content", "hybrid") else {}))
        fit_s = time.perf_counter() - fit_started
        metrics = evaluate_scorer(_scorer(model, split), split)
        metrics["fit_s"] = round(fit_s, 2)
        results[name] = metrics
        logger.info("%-10s NDCG@10 %.4f  P@10 %.4f  R@10 %.4f  coverage@10 %.3f  fit %.1fs", name,
                    metrics["ndcg@10"], metrics["p@10"], metrics["r@10"], metrics["coverage@10"], fit_s)
        if name == "hybrid" and model.content_ is not None:
            users = split.eval_users
            parts = model.component_scores(split.train[users], users)
            for a in ADVENTUROUSNESS_GRID:
                top = top_n_from_scores(model.blend(parts, a), split.train[users], K)
                curve.append({"adventurousness": a,
                              **ranking_metrics(top, split.relevant[users], split.train.shape[1], K)})
    dataset = {"ratings_file": str(ratings_path), "anime_file": str(anime_path) if anime_path else None,
               "seed": seed, "ratings_kept": int(len(kept)), **split.info,
               "eval_users": int(len(split.eval_users)), "seconds": round(time.perf_counter() - started, 1)}
    return {"models": results, "dataset": dataset, "tuning": tuning, "curve": curve,
            "hybrid_neighbours": neighbours}


# ----------------------------------------------------------------------------- output


def format_table(result: dict[str, Any]) -> str:
    """The results as a Markdown table (what docs/BENCHMARKS.md records)."""
    lines = ["| model | NDCG@10 | P@10 | R@10 | coverage@10 | fit s |", "|---|---|---|---|---|---|"]
    for name, m in result["models"].items():
        lines.append(f"| {name} | {m['ndcg@10']:.4f} | {m['p@10']:.4f} | {m['r@10']:.4f} | "
                     f"{m['coverage@10']:.3f} | {m['fit_s']:.1f} |")
    models = result["models"]
    notes = []
    if "hybrid" in models and "ease" in models and models["ease"]["ndcg@10"] > 0:
        notes.append(f"hybrid / ease NDCG@10 = {models['hybrid']['ndcg@10'] / models['ease']['ndcg@10']:.3f}")
    if "nmf" in models and "als" in models and models["als"]["ndcg@10"] > 0:
        notes.append(f"nmf / als NDCG@10 = {models['nmf']['ndcg@10'] / models['als']['ndcg@10']:.3f}")
    d = result["dataset"]
    notes.append(f"{d['users']} users, {d['items']} anime, {d['train_ratings']} train / {d['test_ratings']} "
                 f"test ratings, {d['eval_users']} users evaluated, seed {d['seed']}, {d['seconds']} s")
    tuned = {name: entry["params"] for name, entry in result.get("tuning", {}).items()}
    if tuned:
        notes.append("tuned on the inner split: " + "; ".join(f"{k} {v}" for k, v in tuned.items()))
    return "\n".join(lines + [""] + notes)


def write_report(result: dict[str, Any], directory: str | Path) -> Path:
    """Markdown report with two PNG plots: metric bars per model, NDCG@10 against adventurousness."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = list(result["models"])
    metrics = ("ndcg@10", "p@10", "r@10", "coverage@10")
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(metrics)
    for i, metric in enumerate(metrics):
        values = [result["models"][name][metric] for name in names]
        ax.bar(np.arange(len(names)) + i * width, values, width, label=metric)
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names)
    ax.set_ylabel("value")
    ax.set_title(f"Recommender quality (seed {result['dataset']['seed']})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(directory / "metrics.png", dpi=120)
    plt.close(fig)
    images = ["![metrics per model](metrics.png)"]
    if result.get("curve"):
        fig, ax = plt.subplots(figsize=(6, 4))
        xs = [point["adventurousness"] for point in result["curve"]]
        ax.plot(xs, [point["ndcg@10"] for point in result["curve"]], marker="o", label="hybrid")
        for name, style in (("ease", "--"), ("content", ":")):
            if name in result["models"]:
                ax.axhline(result["models"][name]["ndcg@10"], linestyle=style, color="grey", label=name)
        default = result.get("tuning", {}).get("hybrid", {}).get("params", {}).get("adventurousness")
        if default is not None:
            ax.axvline(default, color="red", alpha=0.4, label=f"inner-split choice {default}")
        ax.set_xlabel("adventurousness (0 = content only, 1 = collaborative only)")
        ax.set_ylabel("NDCG@10 (test)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(directory / "adventurousness.png", dpi=120)
        plt.close(fig)
        images.append("![NDCG@10 against adventurousness](adventurousness.png)")
    text = ["# Recommender evaluation", "", format_table(result), "", *images, "",
            "## Tuning (inner split of train)", "", "```json",
            json.dumps({k: v["params"] for k, v in result.get("tuning", {}).items()}, indent=2, default=float),
            "```", ""]
    path = directory / "report.md"
    path.write_text("\n".join(text))
    (directory / "result.json").write_text(json.dumps(result, indent=2, default=float))
    return path
