"""Fast readers that hand the recommender its inputs.

Lists are stored one document per user (``animelists``), which we measured to read ~6x faster than one
document per entry through the local server (docs/BENCHMARKS.md). The reader streams those documents
with a projection and turns them into CSR arrays directly (no per-user DataFrames).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pymongo.database import Database

from pipeline.store import ANIME, ANIMELISTS, USERS

BATCH_SIZE = 2_000
ANIME_FIELDS = ("anime_id", "title", "synopsis", "genres", "themes", "demographics", "type", "episodes", "aired",
                "studios", "score", "members", "image_url")


@dataclass
class Ratings:
    """Users × anime. ``scores`` holds every listed entry; a listed but unscored entry is an explicit 0,
    so ``scores`` and ``statuses`` share one sparsity structure (the "listed" mask)."""

    user_ids: np.ndarray  # usernames, row order
    anime_ids: np.ndarray  # MAL anime ids (int64, ascending), column order
    scores: sp.csr_matrix  # float32 0..10
    statuses: sp.csr_matrix  # int8 MAL status codes

    @property
    def shape(self) -> tuple[int, int]:
        return self.scores.shape

    def listed(self) -> sp.csr_matrix:
        """Binary matrix of everything a user listed, whatever the status or score."""
        return sp.csr_matrix((np.ones(self.scores.nnz, np.float32), self.scores.indices.copy(),
                              self.scores.indptr.copy()), shape=self.shape)

    def scored(self) -> sp.csr_matrix:
        """Only the entries with a score (1..10)."""
        out = self.scores.copy()
        out.eliminate_zeros()
        return out

    def user_index(self) -> dict[str, int]:
        return {u: i for i, u in enumerate(self.user_ids.tolist())}

    def anime_index(self) -> dict[int, int]:
        return {a: i for i, a in enumerate(self.anime_ids.tolist())}


def ratings_from_lists(lists: Iterable[tuple[str, Iterable[dict[str, Any]]]],
                       anime_ids: Iterable[int] | None = None) -> Ratings:
    """Build :class:`Ratings` from ``(username, entries)`` pairs in any order (rows come out sorted by
    username); columns are ``anime_ids`` when given (entries of other anime are then left out), else
    every anime listed.

    Entries are gathered into typed arrays (6 bytes an entry), not Python lists of ints (~100 bytes), so
    MAL's 57M entries fit in memory.
    """
    users: list[str] = []
    lengths = array("q")
    ids, scores, statuses = array("q"), array("b"), array("b")
    for username, entries in lists:
        before = len(ids)
        for e in entries:
            ids.append(e["anime_id"])
            scores.append(e["score"])
            statuses.append(e["status"])
        users.append(username)
        lengths.append(len(ids) - before)
    id_arr = np.frombuffer(ids, dtype=np.int64) if ids else np.zeros(0, np.int64)
    columns = np.unique(id_arr) if anime_ids is None else np.unique(np.fromiter(anime_ids, np.int64))
    col = np.searchsorted(columns, id_arr)
    keep = (col < len(columns)) & (columns[np.minimum(col, len(columns) - 1)] == id_arr) \
        if len(columns) else np.zeros(len(id_arr), bool)
    user_arr = np.asarray(users, dtype=object)
    by_name = np.argsort(user_arr, kind="stable") if users else np.zeros(0, np.int64)
    rank = np.empty(len(users), np.int64)
    rank[by_name] = np.arange(len(users))
    row = np.repeat(rank, np.frombuffer(lengths, np.int64) if lengths else np.zeros(0, np.int64))[keep]
    col = col[keep].astype(np.int32)
    # Build CSR by hand: scipy's coo->csr conversion may drop the explicit zeros we need.
    order = np.lexsort((col, row))
    indptr = np.zeros(len(users) + 1, np.int64)
    np.cumsum(np.bincount(row, minlength=len(users)), out=indptr[1:])
    shape = (len(users), len(columns))
    score_arr = np.frombuffer(scores, np.int8).astype(np.float32)[keep] if scores else np.zeros(0, np.float32)
    status_arr = np.frombuffer(statuses, np.int8)[keep] if statuses else np.zeros(0, np.int8)
    score_m = sp.csr_matrix((score_arr[order], col[order], indptr), shape=shape)
    status_m = sp.csr_matrix((status_arr[order], col[order], indptr), shape=shape)
    return Ratings(user_arr[by_name], columns, score_m, status_m)


def iter_lists(db: Database, min_entries: int = 1) -> Iterator[tuple[str, list]]:
    """``(username, entries)`` of every stored list, streamed from one cursor.

    One cursor, no sort: paging by ``_id`` range costs a collection scan and a sort per page on the
    local server (measured 3.4x slower at 20k users), and rows are sorted on the client anyway. A real
    MongoDB streams the cursor in batches; the local server holds the result set in memory (fine for
    the demo and tests, not for MAL's 57M entries: see docs/BENCHMARKS.md).
    """
    for doc in db[ANIMELISTS].find({}, batch_size=BATCH_SIZE):
        entries = doc.get("entries") or []
        if len(entries) >= min_entries:
            yield doc["_id"], entries


def read_ratings(db: Database, *, anime_ids: Iterable[int] | None = None, min_entries: int = 1) -> Ratings:
    """Every stored list with at least ``min_entries`` entries as a users × anime matrix (users ordered
    by username). No server-side projection: on the local server it costs more than it saves
    (bench/storage_layout.py), and list documents hold little besides the entries."""
    return ratings_from_lists(iter_lists(db, min_entries), anime_ids)


def read_anime(db: Database) -> pd.DataFrame:
    """Anime text and metadata, indexed by ``anime_id``."""
    projection = dict.fromkeys(ANIME_FIELDS, 1)
    rows = list(db[ANIME].find({}, projection, batch_size=BATCH_SIZE))
    frame = pd.DataFrame(rows, columns=["_id", *ANIME_FIELDS])
    frame["anime_id"] = frame["_id"].astype("int64")
    return frame.drop(columns="_id").set_index("anime_id", drop=False).sort_index()


def usernames_due(db: Database, max_age_hours: float, usernames: Iterable[str] | None = None) -> list[str]:
    """Users whose list was never tried or was tried longer than ``max_age_hours`` ago (0: everyone).

    ``usernames`` restricts the answer to those names; names never seen before are always due.
    """
    query: dict[str, Any] = {}
    if max_age_hours > 0:
        cutoff = datetime.now(UTC) - timedelta(hours=max_age_hours)
        query = {"fetched_at": {"$gte": cutoff}}
    fresh = {doc["_id"] for doc in db[USERS].find(query, {"_id": 1})} if max_age_hours > 0 else set()
    if usernames is None:
        candidates = [doc["_id"] for doc in db[USERS].find({}, {"_id": 1}).sort("_id", 1)]
    else:
        candidates = list(dict.fromkeys(usernames))
    return [u for u in candidates if u not in fresh]


def anime_ids_due(db: Database, refetch: bool = False) -> list[int]:
    """Every anime listed by some user, less those already stored (unless ``refetch``)."""
    # Gathered on the client: SecantusDB's distinct() returns nothing for paths into arrays of documents.
    listed = {int(e["anime_id"]) for doc in db[ANIMELISTS].find({}, batch_size=BATCH_SIZE)
              for e in doc.get("entries") or ()}
    if not refetch:
        listed -= {int(a) for a in db[ANIME].distinct("_id")}
    return sorted(listed)
