"""What every recommender here shares: implicit's tiny ``recommend`` / ``similar_items`` interface.

Conventions (those of ``implicit``):

* items are the columns ``0..n_items-1`` of the user x item matrix given to ``fit``;
* ``user_items`` is a CSR matrix of scores (MAL 1-10). Every *stored* entry counts as listed, so
  an anime that is listed but unscored (plan to watch, score 0) is stored as an explicit 0, or
  passed in ``listed``; listed anime are never recommended, but only scores > 0 carry taste;
* ``recommend(userid, user_items)``: row ``i`` of ``user_items`` belongs to ``userid[i]``; pass
  ``userid=None`` (or ``recalculate_user=True``) for users not seen in ``fit``: their rows are
  folded in.

A subclass implements ``_fit`` and ``_score(user_items, userid)`` (dense scores, one row per user).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted


def as_user_items(user_items: object, n_items: int | None = None) -> sp.csr_matrix:
    """``user_items`` as CSR float32 with sorted indices (explicit zeros are kept: they mark listed)."""
    if not sp.issparse(user_items):
        raise TypeError(f"user_items must be a scipy.sparse matrix (users x items), got {type(user_items)}")
    matrix = sp.csr_matrix(user_items, dtype=np.float32)
    if n_items is not None and matrix.shape[1] != n_items:
        raise ValueError(f"user_items has {matrix.shape[1]} item columns, the model was fit on {n_items}")
    if matrix.nnz and (matrix.data.min() < 0 or not np.isfinite(matrix.data).all()):
        raise ValueError("user_items holds negative or non-finite scores; MAL scores are 0-10")
    matrix.sort_indices()
    return matrix


def rated_only(user_items: sp.csr_matrix) -> sp.csr_matrix:
    """A copy without the explicit zeros (listed but unscored), i.e. only the entries that carry taste."""
    matrix = user_items.copy()
    matrix.eliminate_zeros()
    return matrix


def taste_weights(user_items: sp.csr_matrix, beta: float, floor: float = 0.05) -> sp.csr_matrix:
    """Score-aware implicit feedback: ``max(floor, 1 + beta * (score - user's mean score))``.

    Relevance in MAL terms is "scored at or above my usual"; centring on each user's own mean removes
    the harsh/generous-scorer bias, and the floor keeps a disliked anime as a (weak) sign of
    interest. Computed from the row alone, so a new user's row is transformed the same way.
    ``beta = 0`` gives the binary matrix.
    """
    matrix = rated_only(user_items)
    counts = np.diff(matrix.indptr)
    sums = np.add.reduceat(matrix.data, matrix.indptr[:-1]) if matrix.nnz else np.zeros(0)
    means = np.zeros(matrix.shape[0], dtype=np.float64)
    nonempty = counts > 0
    if matrix.nnz:
        means[nonempty] = sums[nonempty] / counts[nonempty]
    centred = matrix.data - np.repeat(means, counts)
    weighted = matrix.copy()
    weighted.data = np.maximum(floor, 1.0 + beta * centred).astype(np.float32)
    return weighted


def top_n(scores: np.ndarray, exclude: sp.csr_matrix | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``n`` columns of each row of ``scores`` (ids, scores), never an excluded column; ``-1`` pads
    when fewer than ``n`` columns are left."""
    from recommender.kernels import row_top_n

    ids, best = row_top_n(scores, exclude, n)
    return ids, best.astype(np.float32, copy=False)


class RecommenderBase(BaseEstimator):
    """``fit`` / ``recommend`` / ``recommend_all`` / ``similar_items`` around ``_fit`` and ``_score``."""

    def fit(self, user_items: sp.spmatrix, **item_data: object) -> RecommenderBase:
        """Learn from ``user_items`` (users x items, scores; explicit 0 = listed, unscored)."""
        matrix = as_user_items(user_items)
        self.n_users_, self.n_items_ = matrix.shape
        self._fit(matrix, **item_data)
        return self

    # --- to implement ------------------------------------------------------------------------
    def _fit(self, user_items: sp.csr_matrix, **item_data: object) -> None:
        raise NotImplementedError

    def _score(self, user_items: sp.csr_matrix, userid: np.ndarray | None) -> np.ndarray:
        """Dense scores (len(rows) x n_items); ``userid`` None means fold the rows in."""
        raise NotImplementedError

    def _item_vectors(self) -> np.ndarray:
        """Item representations for ``similar_items`` (cosine similarity between rows)."""
        raise NotImplementedError

    # --- shared interface ----------------------------------------------------------------------
    def score(self, userid: int | np.ndarray | None, user_items: sp.spmatrix,
              recalculate_user: bool = False) -> np.ndarray:
        """Dense model scores for the given users (one row each), before any filtering."""
        check_is_fitted(self, "n_items_")
        ids, rows, _ = self._resolve(userid, user_items, recalculate_user)
        return self._score(rows, ids)

    def recommend(self, userid: int | np.ndarray | None, user_items: sp.spmatrix, N: int = 10,
                  filter_already_liked_items: bool = True, filter_items: np.ndarray | None = None,
                  recalculate_user: bool = False, listed: sp.spmatrix | None = None,
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``N`` (item ids, scores) for one user (1-D arrays) or many (2-D, one row per user).

        ``user_items`` holds the rows of the requested users (or the whole training matrix, which
        is then indexed by ``userid``). Every stored entry of it, and of ``listed``, is excluded
        when ``filter_already_liked_items``: on MAL a listed anime (any status) is never news.
        """
        check_is_fitted(self, "n_items_")
        ids, rows, scalar = self._resolve(userid, user_items, recalculate_user)
        exclude = None
        if filter_already_liked_items:
            exclude = rows
            if listed is not None:
                listed_rows = as_user_items(listed, self.n_items_)
                if listed_rows.shape[0] != rows.shape[0] and ids is not None:
                    listed_rows = listed_rows[ids]
                mask = rows.copy()
                mask.data[:] = 1
                listed_rows = listed_rows.copy()
                listed_rows.data[:] = 1
                exclude = (mask + listed_rows).tocsr()
        scores = self._score(rows, ids)
        if filter_items is not None:
            scores[:, np.asarray(filter_items, dtype=np.int64)] = -np.inf
        item_ids, item_scores = top_n(scores, exclude, N)
        if scalar:
            return item_ids[0], item_scores[0]
        return item_ids, item_scores

    def recommend_all(self, user_items: sp.spmatrix, N: int = 10, batch_size: int = 4096,
                      ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield ``(userids, item_ids, scores)`` in chunks for every row of the fit matrix.

        Chunked so the dense score block stays ``batch_size x n_items``, whatever the user count.
        """
        check_is_fitted(self, "n_items_")
        matrix = as_user_items(user_items, self.n_items_)
        for start in range(0, matrix.shape[0], batch_size):
            users = np.arange(start, min(start + batch_size, matrix.shape[0]))
            item_ids, scores = self.recommend(users, matrix[users], N=N)
            yield users, item_ids, scores

    def similar_items(self, itemid: int | np.ndarray, N: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``N`` items most similar to ``itemid`` (itself included, first, as in implicit)."""
        check_is_fitted(self, "n_items_")
        scalar = np.isscalar(itemid)
        items = np.atleast_1d(np.asarray(itemid, dtype=np.int64))
        vectors = self._item_vectors()
        if sp.issparse(vectors):  # TF-IDF rows: never densify a catalogue x vocabulary matrix
            unit = normalize(sp.csr_matrix(vectors, dtype=np.float32))
            scores = (unit[items] @ unit.T).toarray()
        else:
            vectors = np.asarray(vectors, dtype=np.float32)
            norms = np.linalg.norm(vectors, axis=1)
            norms[norms == 0] = 1.0
            scores = (vectors[items] / norms[items, None]) @ (vectors / norms[:, None]).T
        ids, best = top_n(scores, None, N)
        if scalar:
            return ids[0], best[0]
        return ids, best

    def _resolve(self, userid: int | np.ndarray | None, user_items: sp.spmatrix,
                 recalculate_user: bool) -> tuple[np.ndarray | None, sp.csr_matrix, bool]:
        matrix = as_user_items(user_items, self.n_items_)
        if userid is None:
            return None, matrix, False
        scalar = np.isscalar(userid)
        ids = np.atleast_1d(np.asarray(userid, dtype=np.int64))
        if matrix.shape[0] != len(ids):
            if ids.size and ids.max() >= matrix.shape[0]:
                raise ValueError(f"user_items has {matrix.shape[0]} rows: pass one row per userid "
                                 "or the full training matrix")
            matrix = matrix[ids]
        if recalculate_user:
            ids = None
        elif ids.size and ids.max() >= self.n_users_:
            raise ValueError(f"userid {int(ids.max())} was not seen in fit ({self.n_users_} users); "
                             "pass userid=None or recalculate_user=True to fold the row in")
        return ids, matrix, scalar
