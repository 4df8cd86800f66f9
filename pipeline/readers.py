"""Fast readers that hand the recommender its inputs.

Lists are stored one document per user (``animelists``), which we measured to read ~6x faster than one
document per entry through the local server (docs/BENCHMARKS.md). The matrix reader streams the packed
copy of the lists (``animelists_packed``, pipeline/packed.py) and turns it into CSR arrays with numpy.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pymongo.database import Database

from pipeline.packed import DTYPE, FIELD, pack_entries, packed_document, unpack_entries
from pipeline.store import ANIME, ANIMELISTS, PACKED_LISTS, USERS, upsert_many

logger = logging.getLogger(__name__)

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
    every anime listed."""
    return ratings_from_packed(((username, pack_entries(entries)) for username, entries in lists), anime_ids)


def ratings_from_packed(lists: Iterable[tuple[str, bytes]], anime_ids: Iterable[int] | None = None) -> Ratings:
    """:func:`ratings_from_lists` for ``(username, packed entries)`` pairs (pipeline/packed.py).

    The entries are gathered as packed bytes (6 per entry) and decoded by numpy in one go: MAL's 57M
    entries take ~350 MB on the way in, and no Python object is made per entry.
    """
    users: list[str] = []
    lengths = array("q")
    blob = bytearray()
    for username, packed in lists:
        blob += packed
        users.append(username)
        lengths.append(len(packed) // DTYPE.itemsize)
    records = unpack_entries(bytes(blob)) if blob else np.zeros(0, DTYPE)
    del blob
    id_arr = records["anime_id"].astype(np.int64)
    columns = np.unique(id_arr) if anime_ids is None else np.unique(np.fromiter(anime_ids, np.int64))
    col = np.searchsorted(columns, id_arr)
    keep = (col < len(columns)) & (columns[np.minimum(col, len(columns) - 1)] == id_arr) \
        if len(columns) else np.zeros(len(id_arr), bool)
    del id_arr
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
    del row
    shape = (len(users), len(columns))
    score_m = sp.csr_matrix((records["score"].astype(np.float32)[keep][order], col[order], indptr), shape=shape)
    status_m = sp.csr_matrix((records["status"][keep][order], score_m.indices, indptr), shape=shape)
    return Ratings(user_arr[by_name], columns, score_m, status_m)


def packed_copy_is_complete(db: Database) -> bool:
    """Whether ``animelists_packed`` has one document per list (cheap: collection metadata only)."""
    return db[PACKED_LISTS].estimated_document_count() == db[ANIMELISTS].estimated_document_count()


def rebuild_packed_lists(db: Database, batch_size: int = BATCH_SIZE) -> int:
    """Rewrite ``animelists_packed`` from ``animelists`` (slow: reads every entry); returns the lists packed.

    The local server decodes the whole of ``animelists`` for this one read (fine up to a few million
    entries, not for MAL's 57M); a real MongoDB streams it.
    """
    db[PACKED_LISTS].drop()
    written = 0

    def insert(batch: list[dict[str, Any]]) -> int:
        # Upserts, so a retry after a dropped connection cannot fail on what the first try wrote.
        return upsert_many(db, PACKED_LISTS, batch, stamp=None).upserted

    batch: list[dict[str, Any]] = []
    for doc in db[ANIMELISTS].find({}, {"entries": 1}, batch_size=batch_size):
        batch.append(packed_document(doc))
        if len(batch) >= batch_size:
            written += insert(batch)
            batch = []
    return written + (insert(batch) if batch else 0)


def iter_packed_lists(db: Database, min_entries: int = 1, rebuild: bool = True) -> Iterator[tuple[str, bytes]]:
    """``(username, packed entries)`` of every stored list, streamed from one cursor on ``animelists_packed``.

    When the packed copy is incomplete (lists stored by an older version, or a crash between a list's
    two writes) it is rebuilt first (``rebuild``, logged), else the entries are read directly.
    One cursor, no sort: paging by ``_id`` range makes the local server decode the whole collection
    per page (measured ~1.4 s a page at 10k users), and rows are sorted on the client anyway.
    """
    source, projection, field = PACKED_LISTS, {FIELD: 1}, FIELD
    if not packed_copy_is_complete(db):
        if rebuild:
            logger.warning("the packed copy of the anime lists is incomplete: rebuilding it from %s (slow, once)",
                           ANIMELISTS)
            logger.info("packed %d lists", rebuild_packed_lists(db))
        else:
            source, projection, field = ANIMELISTS, {"entries": 1}, "entries"
    for doc in db[source].find({}, projection, batch_size=BATCH_SIZE):
        data = doc.get(field) or b""
        packed = data if isinstance(data, bytes) else pack_entries(data)
        if len(packed) >= min_entries * DTYPE.itemsize:
            yield doc["_id"], packed


def read_ratings(db: Database, *, anime_ids: Iterable[int] | None = None, min_entries: int = 1,
                 rebuild: bool = True) -> Ratings:
    """Every stored list with at least ``min_entries`` entries as a users × anime matrix (users ordered
    by username), from the packed copy of the lists (see :func:`iter_packed_lists`)."""
    return ratings_from_packed(iter_packed_lists(db, min_entries, rebuild), anime_ids)


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
    packed = [data for _, data in iter_packed_lists(db, rebuild=False)]
    listed = set(np.unique(unpack_entries(b"".join(packed))["anime_id"]).tolist()) if packed else set()
    if not refetch:
        listed -= {int(a) for a in db[ANIME].distinct("_id")}
    return sorted(listed)
