"""The trained recommender as one artefact: what the batch job publishes from and fold-in queries use.

A :class:`TrainedRecommender` wraps a fitted *scorer* (the hybrid model) with the column order
(MAL anime ids), the titles and image URLs to publish, the default adventurousness and N. Both the
batch job (every training user) and a fold-in query (one new list) go through the same
:meth:`TrainedRecommender.recommend_rows`, so a user whose list did not change gets the same list
either way.

A scorer is anything with::

    top_components(scores, statuses, n, adventurousness, userid=None)
        -> {"items", "score", "cf", "content"}     # each rows x n; items: column indices, -1 pads
    explain(scores: csr_matrix, items: ndarray[rows, n]) -> ndarray[rows, n, k]    # column indices, -1 = none

(``userid``: the rows' indices in the training matrix, so learned user factors are used; None folds
the rows in) where ``cf`` and ``content`` are on comparable scales and the hybrid's score is
``adventurousness * cf + (1 - adventurousness) * content`` (:func:`recommender.query.blend`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import joblib
import numpy as np
import scipy.sparse as sp

MODEL_FILE = "model.joblib"


class Scorer(Protocol):
    def top_components(self, scores: sp.csr_matrix, statuses: sp.csr_matrix, n: int, adventurousness: float,
                       userid: np.ndarray | None = None) -> dict[str, np.ndarray]:
        ...

    def explain(self, scores: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        ...


def top_n(blended: np.ndarray, listed: sp.csr_matrix, n: int) -> np.ndarray:
    """Column indices of each row's ``n`` best scores, best first, never a listed item (``-1`` pads)."""
    from recommender.kernels import row_top_n

    return row_top_n(blended, listed, n)[0]


@dataclass
class TrainedRecommender:
    scorer: Any
    anime_ids: np.ndarray  # int64, ascending: the column order of every matrix
    titles: np.ndarray  # object, per column
    image_urls: np.ndarray  # object, per column ('' when unknown)
    adventurousness: float
    n_stored: int = 50
    run_id: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ lists -> rows
    def known(self, entries: list[dict[str, int]]) -> list[dict[str, int]]:
        """The entries whose anime the model was trained on (others cannot be folded in)."""
        pos = np.searchsorted(self.anime_ids, [e["anime_id"] for e in entries])
        return [e for e, p in zip(entries, pos, strict=True)
                if p < len(self.anime_ids) and self.anime_ids[p] == e["anime_id"]]

    def rows_from_entries(self, entries: list[dict[str, int]]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """One user's list as 1 x anime score and status rows (unscored = explicit 0, as the reader does)."""
        entries = sorted(self.known(entries), key=lambda e: e["anime_id"])
        cols = np.searchsorted(self.anime_ids, [e["anime_id"] for e in entries]).astype(np.int32)
        indptr = np.array([0, len(cols)], np.int64)
        shape = (1, len(self.anime_ids))
        scores = sp.csr_matrix((np.array([e["score"] for e in entries], np.float32), cols, indptr), shape=shape)
        statuses = sp.csr_matrix((np.array([e["status"] for e in entries], np.int8), cols.copy(), indptr.copy()),
                                 shape=shape)
        return scores, statuses

    # ------------------------------------------------------------------ scoring
    def recommend_rows(self, scores: sp.csr_matrix, statuses: sp.csr_matrix, n: int | None = None,
                       adventurousness: float | None = None,
                       userid: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Top-``n`` for each row: ``items`` (column indices), ``score``, ``cf``, ``content``, ``why``."""
        n = n or self.n_stored
        a = self.adventurousness if adventurousness is None else adventurousness
        top = self.scorer.top_components(scores, statuses, n, a, userid)
        items = top["items"]
        top["why"] = self.scorer.explain(scores, np.maximum(items, 0))
        top["items"] = np.maximum(items, 0)  # a padded slot keeps score -inf, which ends the published list
        return top

    def documents(self, usernames: np.ndarray, top: dict[str, np.ndarray], created_at: Any) -> Iterator[dict]:
        """The published documents (layout in recommender.publish) for a block of rows.

        Everything that can be is done per block in numpy (~2x faster than per item in Python: at
        full size this loop builds 16M item documents)."""
        ids = self.anime_ids
        items_at = top["items"]
        item_ids = ids[items_at].tolist()
        item_titles = self.titles[items_at].tolist()
        item_images = self.image_urls[items_at].tolist()
        scores = np.round(top["score"].astype(np.float64), 5).tolist()
        cfs = np.round(top["cf"].astype(np.float64), 5).tolist()
        contents = np.round(top["content"].astype(np.float64), 5).tolist()
        why = top["why"]
        listed = np.isfinite(top["score"])  # -inf: fewer unlisted anime than n, the list ends there
        has_why = (why >= 0) & listed[:, :, None]
        why_ids = ids[np.maximum(why, 0)]
        # an item's reasons are the leading non-negative slots (the kernel fills from the front)
        reasons = [[ids_j[:count] for ids_j, count in zip(row_ids, row_counts, strict=True)]
                   for row_ids, row_counts in zip(why_ids.tolist(), has_why.sum(axis=2).tolist(), strict=True)]
        # why_titles of the whole block in one go, then cut per user (row-major: in each user's order)
        columns = why[has_why]
        keys = self._id_strings()[columns].tolist()
        names = self.titles[columns].tolist()
        ends = np.cumsum(has_why.sum(axis=(1, 2))).tolist()
        lengths = listed.sum(axis=1).tolist()
        begin = 0
        for u, username in enumerate(usernames.tolist()):
            n = lengths[u]
            items = [{"anime_id": a, "title": t, "image_url": i, "score": s, "cf": c, "content": x, "why": w}
                     for a, t, i, s, c, x, w in zip(item_ids[u][:n], item_titles[u][:n], item_images[u][:n],
                                                    scores[u][:n], cfs[u][:n], contents[u][:n], reasons[u][:n],
                                                    strict=True)]
            why_titles = dict(zip(keys[begin:ends[u]], names[begin:ends[u]], strict=True))
            begin = ends[u]
            yield {"_id": username, "run_id": self.run_id, "created_at": created_at, "items": items,
                   "why_titles": why_titles}

    def _id_strings(self) -> np.ndarray:
        """``str(anime_id)`` per column: the keys of ``why_titles`` (built once per model)."""
        keys = self.__dict__.get("_id_keys")
        if keys is None or len(keys) != len(self.anime_ids):
            keys = np.array([str(a) for a in self.anime_ids.tolist()], dtype=object)
            self.__dict__["_id_keys"] = keys
        return keys

    def title_of(self, anime_id: int) -> str:
        pos = int(np.searchsorted(self.anime_ids, anime_id))
        return str(self.titles[pos]) if pos < len(self.anime_ids) and self.anime_ids[pos] == anime_id else str(anime_id)

    def recommend_entries(self, entries: list[dict[str, int]], n: int) -> dict[str, Any]:
        """Fold one list in: the same document a published user gets (``_id`` = ``None``)."""
        scores, statuses = self.rows_from_entries(entries)
        top = self.recommend_rows(scores, statuses, n)
        return next(self.documents(np.array([None], dtype=object), top, None))

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MODEL_FILE
        joblib.dump(self, path, compress=0)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> TrainedRecommender:
        path = Path(directory)
        path = path / MODEL_FILE if path.is_dir() else path
        if not path.is_file():
            raise FileNotFoundError(f"no trained model at {path}: run `animerec train` (or pass --artifacts)")
        model = joblib.load(path)
        if not isinstance(model, cls):
            raise TypeError(f"{path} does not hold a TrainedRecommender")
        return model
