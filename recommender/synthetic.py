"""A synthetic MyAnimeList at real scale, for benchmarks (never for quality claims).

Full size matches the Kaggle 2020 MAL data set: 325k users, 17.5k anime, 57M list entries;
``scale`` = 0.1 and 0.01 shrink users, anime and entries together. Everything is vectorised numpy:
the full size generates in about a minute and ~3 GB.

What makes it MAL-like (the skew is what stresses sparse code paths):

- anime popularity is a power law (Zipf, exponent ``popularity_exponent``), so a few hundred titles
  hold most entries, as on MAL;
- user activity (list length) is log-normal with a heavy tail, mean = entries / users (~175);
- each anime belongs to one of ``clusters`` latent genres and each user prefers a few (Dirichlet), so
  collaborative and content models have real structure to find;
- statuses follow MAL's mix (completed ~60 %, plan to watch ~20 %, ...), plan-to-watch and ~10 % of
  the rest are unscored (0), and scores are skewed high like MAL's (mode 7-8, mean ~7.6);
- synopses are a few words drawn mostly from the anime's genre vocabulary, for the content model.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pymongo.database import Database
from tqdm import tqdm

from pipeline.packed import DTYPE as PACKED_DTYPE
from pipeline.packed import FIELD as PACKED_FIELD
from pipeline.readers import Ratings
from pipeline.store import ANIME, ANIMELISTS, PACKED_LISTS, with_retries

FULL_USERS = 325_000
FULL_ANIME = 17_500
FULL_ENTRIES = 57_000_000
STATUS_CODES = np.array([2, 6, 1, 3, 4], np.int8)  # completed, plan to watch, watching, on hold, dropped
STATUS_SHARES = np.array([0.60, 0.20, 0.10, 0.05, 0.05])
_SYLLABLES = ("ka", "ri", "mo", "to", "shi", "na", "ra", "yu", "ki", "ha", "se", "no", "mi", "ta", "ku", "ro",
              "sa", "e", "ne", "ko")


@dataclass
class SyntheticMAL:
    ratings: Ratings
    anime: pd.DataFrame  # the layout of pipeline.readers.read_anime
    seconds: float

    @property
    def entries(self) -> int:
        return int(self.ratings.scores.nnz)


def _words(rng: np.random.Generator, count: int, length: int = 3) -> np.ndarray:
    picks = rng.integers(0, len(_SYLLABLES), size=(count, length))
    syl = np.array(_SYLLABLES, dtype=object)
    return np.array(["".join(row) for row in syl[picks]], dtype=object)


def generate(scale: float = 0.01, *, seed: int = 0, clusters: int = 24, popularity_exponent: float = 1.0,
             users: int | None = None, anime: int | None = None, entries: int | None = None) -> SyntheticMAL:
    """A synthetic MAL of ``scale`` x full size (``users``/``anime``/``entries`` override the counts)."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    n_users = users or max(50, round(FULL_USERS * scale))
    n_anime = anime or max(100, round(FULL_ANIME * scale ** 0.5 if scale < 1 else FULL_ANIME))
    n_entries = entries or max(n_users * 10, round(FULL_ENTRIES * scale))
    # Anime shrink slower than users: a 1/100 MAL still has thousands of titles, as any MAL sample does.

    # --- anime: cluster, popularity (Zipf over a random permutation), quality
    cluster_of = rng.integers(0, clusters, size=n_anime)
    popularity = 1.0 / np.arange(1, n_anime + 1) ** popularity_exponent
    popularity = popularity[rng.permutation(n_anime)]
    quality = rng.normal(0.0, 0.6, size=n_anime)

    # --- users: list lengths (log-normal, heavy tail) and genre preferences
    sigma = 1.0
    lengths = rng.lognormal(0.0, sigma, size=n_users)
    lengths = np.clip(np.round(lengths / lengths.mean() * n_entries / n_users), 3, int(0.6 * n_anime)).astype(np.int64)
    prefs = rng.dirichlet(np.full(clusters, 0.3), size=n_users)
    # 70 % of a user's picks follow their genres, 30 % follow global popularity.
    cum_prefs = np.cumsum(prefs, axis=1)
    # items within a cluster by popularity: one CDF per cluster, concatenated
    order = np.lexsort((-popularity, cluster_of))
    sorted_cluster = cluster_of[order]
    sorted_pop = popularity[order]
    starts = np.searchsorted(sorted_cluster, np.arange(clusters))
    ends = np.searchsorted(sorted_cluster, np.arange(clusters), side="right")
    cdf = np.empty(n_anime)
    for c in range(clusters):
        block = sorted_pop[starts[c]:ends[c]]
        cdf[starts[c]:ends[c]] = np.cumsum(block) / block.sum() + c if len(block) else c
    global_cdf = np.cumsum(popularity) / popularity.sum()

    def draw(wanted: np.ndarray) -> np.ndarray:
        """(user * n_anime + anime) keys: ``wanted[u]`` picks for user u, with replacement."""
        user_of = np.repeat(np.arange(n_users), wanted)
        chosen = np.minimum(_cluster_draw(cum_prefs, user_of, rng.random(len(user_of))), clusters - 1)
        in_cluster = order[np.minimum(np.searchsorted(cdf, chosen + rng.random(len(user_of))), n_anime - 1)]
        by_popularity = np.minimum(np.searchsorted(global_cdf, rng.random(len(user_of))), n_anime - 1)
        item_of = np.where(rng.random(len(user_of)) < 0.7, in_cluster, by_popularity)
        return user_of.astype(np.int64) * n_anime + item_of

    # Draws repeat popular anime: top up the users still short, a few rounds, then cut to length.
    key = _sorted_unique(draw(np.ceil(lengths * 1.2).astype(np.int64)))
    for _ in range(6):
        have = np.bincount(key // n_anime, minlength=n_users)
        short = np.maximum(lengths - have, 0)
        if short.sum() < 0.002 * lengths.sum():
            break
        key = _sorted_unique(np.concatenate([key, draw(np.ceil(short * 1.5).astype(np.int64))]))
    rows, cols = key // n_anime, key % n_anime
    first = np.searchsorted(rows, np.arange(n_users))
    # Keep a random subset of each user's distinct picks, up to their length (inside a row the order is
    # by anime id, so cut by a random key instead of position).
    order2 = np.lexsort((rng.random(len(rows)), rows))
    rank_random = np.empty(len(rows), np.int64)
    rank_random[order2] = np.arange(len(rows)) - first[rows[order2]]
    keep = rank_random < lengths[rows]
    rows, cols = rows[keep], cols[keep]

    # --- statuses and MAL-like scores
    status = STATUS_CODES[rng.choice(len(STATUS_CODES), size=len(rows), p=STATUS_SHARES)]
    user_bias = rng.normal(0.0, 0.8, size=n_users)
    affinity = prefs[rows, cluster_of[cols]] * clusters  # >1 for a liked genre
    raw = 7.55 + user_bias[rows] + quality[cols] + 0.35 * np.log(affinity + 0.05) + rng.normal(0, 1.0, len(rows))
    scores = np.clip(np.round(raw), 1, 10).astype(np.float32)
    unscored = (status == 6) | (rng.random(len(rows)) < 0.10)
    scores[unscored] = 0.0

    indptr = np.zeros(n_users + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n_users), out=indptr[1:])
    shape = (n_users, n_anime)
    cols32 = cols.astype(np.int32)
    score_m = sp.csr_matrix((scores, cols32, indptr), shape=shape)
    status_m = sp.csr_matrix((status, cols32.copy(), indptr.copy()), shape=shape)
    anime_ids = np.arange(1, n_anime + 1, dtype=np.int64)
    user_ids = np.array([f"synth_{i:07d}" for i in range(n_users)], dtype=object)

    members = np.bincount(cols, minlength=n_anime)
    frame = _anime_frame(rng, anime_ids, cluster_of, clusters, popularity, quality, members)
    return SyntheticMAL(Ratings(user_ids, anime_ids, score_m, status_m), frame, time.perf_counter() - started)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy's default hash path is ~6x slower on tens of millions of int64)."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if len(values) else values


def _cluster_draw(cum_prefs: np.ndarray, user_of: np.ndarray, u_draw: np.ndarray,
                  block: int = 1_000_000) -> np.ndarray:
    out = np.empty(len(user_of), np.int64)
    for start in range(0, len(user_of), block):
        stop = start + block
        out[start:stop] = (u_draw[start:stop, None] >= cum_prefs[user_of[start:stop]]).sum(axis=1)
    return out


def _anime_frame(rng: np.random.Generator, anime_ids: np.ndarray, cluster_of: np.ndarray, clusters: int,
                 popularity: np.ndarray, quality: np.ndarray, members: np.ndarray) -> pd.DataFrame:
    vocab = _words(rng, clusters * 12).reshape(clusters, 12)
    common = _words(rng, 60, 2)
    genre_names = _words(rng, clusters, 2)
    synopses = []
    n_words = rng.integers(8, 20, size=len(anime_ids))
    for i, c in enumerate(cluster_of.tolist()):
        own = vocab[c][rng.integers(0, 12, size=n_words[i])]
        other = common[rng.integers(0, len(common), size=max(1, n_words[i] // 3))]
        synopses.append(" ".join([*own.tolist(), *other.tolist()]).capitalize() + ".")
    frame = pd.DataFrame({
        "anime_id": anime_ids,
        "title": [f"Synthetic Anime {a}" for a in anime_ids.tolist()],
        "synopsis": synopses,
        "genres": [[str(genre_names[c]).capitalize()] for c in cluster_of.tolist()],
        "themes": [[] for _ in anime_ids],
        "type": "TV",
        "episodes": rng.integers(1, 50, size=len(anime_ids)),
        "aired": "",
        "studios": [[] for _ in anime_ids],
        "score": np.round(np.clip(7.0 + quality, 1, 10), 2),
        "members": members,
        "image_url": [f"https://cdn.myanimelist.net/images/anime/{a % 2000}/{a}.jpg" for a in anime_ids.tolist()],
    })
    return frame.set_index("anime_id", drop=False)


# ----------------------------------------------------------------------------- to MongoDB


def list_documents(ratings: Ratings) -> Iterator[dict[str, Any]]:
    """``animelists`` documents (the schema the pipeline writes) for every row of ``ratings``."""
    for u, username in enumerate(ratings.user_ids.tolist()):
        entries = [{"anime_id": x, "score": y, "status": z, "episodes_watched": 0}
                   for x, y, z in _packed_row(ratings, u).tolist()]
        yield {"_id": username, "username": username, "entries": entries, "entries_count": len(entries)}


def packed_documents(ratings: Ratings) -> Iterator[dict[str, Any]]:
    """``animelists_packed`` documents (pipeline/packed.py) for every row of ``ratings``."""
    for u, username in enumerate(ratings.user_ids.tolist()):
        row = _packed_row(ratings, u)
        yield {"_id": username, PACKED_FIELD: row.tobytes(), "entries_count": len(row)}


def _packed_row(ratings: Ratings, u: int) -> np.ndarray:
    lo, hi = ratings.scores.indptr[u], ratings.scores.indptr[u + 1]
    row = np.empty(hi - lo, PACKED_DTYPE)
    row["anime_id"] = ratings.anime_ids[ratings.scores.indices[lo:hi]]
    row["score"], row["status"] = ratings.scores.data[lo:hi], ratings.statuses.data[lo:hi]
    return row


def anime_documents(frame: pd.DataFrame) -> Iterator[dict[str, Any]]:
    for rec in frame.to_dict("records"):
        rec = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()}
        rec["_id"] = int(rec["anime_id"])
        yield rec


def write_to_mongo(db: Database, data: SyntheticMAL | tuple[Ratings, pd.DataFrame], batch_size: int = 500,
                   progress: bool = True) -> dict[str, float]:
    """Bulk-insert the anime, lists and their packed copies into empty collections; returns seconds per part."""
    ratings, frame = (data.ratings, data.anime) if isinstance(data, SyntheticMAL) else data
    timings = {}
    for name, collection, docs, total in (
        ("anime", ANIME, anime_documents(frame), len(frame)),
        ("animelists", ANIMELISTS, list_documents(ratings), ratings.shape[0]),
        ("animelists_packed", PACKED_LISTS, packed_documents(ratings), ratings.shape[0]),
    ):
        start = time.perf_counter()
        batch: list[dict[str, Any]] = []
        bar = tqdm(total=total, desc=f"write {name}", unit="doc", disable=not progress, leave=False)
        for doc in docs:
            batch.append(doc)
            if len(batch) >= batch_size:
                _insert(db, collection, batch)
                bar.update(len(batch))
                batch = []
        if batch:
            _insert(db, collection, batch)
            bar.update(len(batch))
        bar.close()
        timings[name] = time.perf_counter() - start
    return timings


def _insert(db: Database, collection: str, batch: list[dict[str, Any]]) -> None:
    with_retries(lambda: db[collection].insert_many(batch, ordered=False), what=f"insert into {collection}")
