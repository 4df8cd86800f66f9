"""The fitted hybrid (recommender.hybrid) as the training job and the queries see it.

:class:`HybridScorer` splits the hybrid's score into the two stored components,

    cf      = (1 - nmf_weight) * z(EASE) + nmf_weight * z(NMF)     (collaborative)
    content = z(content)                                           (equal to cf without synopses)

so that ``adventurousness * cf + (1 - adventurousness) * content`` is exactly the hybrid's blend
(recommender.query.blend re-ranks stored lists with it), and explains whole blocks of users at once:
:meth:`HybridScorer.explain` computes the same per-rated-anime shares as
``HybridRecommender.explain`` (EASE weight x taste weight, plus content similarity x taste weight,
each scaled like the blend) but vectorised over the block, since calling it once per (user, item)
would cost hours at MAL scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender.base import as_user_items, taste_weights
from recommender.hybrid import HybridRecommender, standardise

WHY_K = 3


def _row_std(scores: np.ndarray) -> np.ndarray:
    std = scores.std(axis=1)
    std[std == 0] = 1.0
    return std


class HybridScorer:
    """Fit, score and explain with :class:`~recommender.hybrid.HybridRecommender`."""

    #: blocks of at least this many users explain from a dense item x item content similarity
    dense_content_from_rows = 64

    def __init__(self, adventurousness: float | None = None, why_k: int = WHY_K, **hybrid_params: Any) -> None:
        self.adventurousness = adventurousness
        self.why_k = why_k
        self.hybrid_params = hybrid_params

    def fit(self, scores: sp.csr_matrix, anime_ids: np.ndarray, anime: pd.DataFrame | None) -> HybridScorer:
        from recommender.baselines import EASERecommender
        from recommender.collaborative import NMFRecommender
        from recommender.content import ContentRecommender

        params = dict(self.hybrid_params)
        # Nested dicts configure the parts: {"content": {"n_topics": 20}, "nmf": {"factors": 32}}.
        for name, cls in (("ease", EASERecommender), ("nmf", NMFRecommender), ("content", ContentRecommender)):
            if isinstance(params.get(name), dict):
                params[name] = cls(**params[name])
        if self.adventurousness is not None:
            params["adventurousness"] = self.adventurousness
        self.model_ = HybridRecommender(**params)
        synopses = genres = None
        if anime is not None and len(anime):
            frame = anime.reindex(anime_ids)
            if "synopsis" in frame and frame["synopsis"].notna().any():
                synopses = [s if isinstance(s, str) else "" for s in frame["synopsis"]]
            if "genres" in frame and frame["genres"].notna().any():
                genres = [g if isinstance(g, list | str) else [] for g in frame["genres"]]
        self.model_.fit(scores, synopses=synopses, genres=genres)
        self.anime_ids_ = np.asarray(anime_ids)
        self.params_ = {"model": "hybrid", "adventurousness": float(self.model_.adventurousness),
                        "nmf_weight": float(self.model_.nmf_weight), "has_content": self.model_.content_ is not None,
                        "ease": self.model_.ease_.get_params(),
                        "nmf": self.model_.nmf_.get_params() if self.model_.nmf_ is not None else None,
                        "content": self.model_.content_.get_params() if self.model_.content_ is not None else None}
        return self

    @property
    def default_adventurousness(self) -> float:
        return float(self.model_.adventurousness)

    def anime_topics(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Per-anime synopsis topic weights (rows follow ``anime_ids_``), None without a content model."""
        content = self.model_.content_
        if content is None or content.item_topics_.shape[1] == 0:
            return self.anime_ids_, None
        return self.anime_ids_, content.item_topics_

    # ------------------------------------------------------------------ scores
    def _raw(self, rows: sp.csr_matrix, userid: np.ndarray | None) -> dict[str, np.ndarray]:
        m = self.model_
        raw = {"ease": m.ease_._score(rows, userid)}
        if m.nmf_ is not None:
            raw["nmf"] = m.nmf_._score(rows, userid)
        if m.content_ is not None:
            raw["content"] = m.content_._score(rows, userid)
        return raw

    def score_components(self, scores: sp.csr_matrix, statuses: sp.csr_matrix | None = None,
                         userid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(cf, content) dense blocks; ``userid`` = training rows (their learned factors), None = fold in."""
        rows = as_user_items(scores, self.model_.n_items_)
        raw = self._raw(rows, userid)
        self._last_std = {k: _row_std(v) for k, v in raw.items()}  # reused by explain() on the same block
        m = self.model_
        cf = standardise(raw["ease"])
        if "nmf" in raw and m.nmf_weight > 0:
            cf = (1 - m.nmf_weight) * cf + m.nmf_weight * standardise(raw["nmf"])
        content = standardise(raw["content"]) if "content" in raw else cf
        return cf, content

    # ------------------------------------------------------------------ explanations
    def __getstate__(self) -> dict[str, Any]:
        # Caches are rebuilt on demand; the saved model stays the fitted state only.
        return {k: v for k, v in self.__dict__.items() if k not in ("_last_std", "_content_sim")}

    def _content_sims(self, rated: np.ndarray, tops: np.ndarray, many: bool) -> np.ndarray:
        """Cosine similarity of content vectors for each pair (rated[r], tops[r, j]) -> (len(rated), n)."""
        vectors = self.model_.content_.item_vectors_
        if many:  # whole batches: one dense item x item matrix, built once, then pure gathers
            sim = getattr(self, "_content_sim", None)
            if sim is None:
                n_items = vectors.shape[0]
                sim = np.empty((n_items, n_items), np.float32)
                for lo in range(0, n_items, 1024):
                    sim[lo:lo + 1024] = (vectors[lo:lo + 1024] @ vectors.T).toarray()
                self._content_sim = sim
            return sim[rated[:, None], tops]
        r_ids, r_pos = np.unique(rated, return_inverse=True)
        t_ids, t_pos = np.unique(tops, return_inverse=True)
        block = (vectors[r_ids] @ vectors[t_ids].T).toarray()
        return block[r_pos.reshape(-1)[:, None], t_pos.reshape(tops.shape)]

    def explain(self, scores: sp.csr_matrix, items: np.ndarray, adventurousness: float | None = None) -> np.ndarray:
        """For each row and recommended column, the ``why_k`` rated columns with the largest positive
        share of its score (``-1`` pads). Call right after :meth:`score_components` on the same rows.

        Vectorised over the block: one (rated entries x n) matrix of shares, then a per-user top-k by
        segmented max (``np.maximum.reduceat``) repeated ``why_k`` times.
        """
        m = self.model_
        rows = as_user_items(scores, m.n_items_)
        a = m.adventurousness if adventurousness is None else adventurousness
        std = getattr(self, "_last_std", None)
        if std is None or len(std["ease"]) != rows.shape[0]:
            std = {k: _row_std(v) for k, v in self._raw(rows, None).items()}
        has_content = m.content_ is not None
        collab_share = (a if has_content else 1.0) * ((1 - m.nmf_weight) if m.nmf_ is not None else 1.0)
        x_ease = taste_weights(rows, m.ease_.beta)
        n_rows, n_top, k = rows.shape[0], items.shape[1], self.why_k
        why = np.full((n_rows, n_top, k), -1, np.int64)
        if x_ease.nnz == 0 or n_top == 0:
            return why
        counts = np.diff(x_ease.indptr)
        owner = np.repeat(np.arange(n_rows), counts)
        rated = x_ease.indices
        tops = items[owner]
        ease_scale = (collab_share / std["ease"])[owner] * x_ease.data
        total = ease_scale[:, None] * m.ease_.item_weights_[rated[:, None], tops]
        if has_content and a < 1.0:
            # Same sparsity as x_ease: both are the rated entries (taste_weights drops unscored ones).
            x_content = taste_weights(rows, m.content_.beta)
            profiles = sp.csr_matrix(x_content @ m.content_.item_vectors_)
            norms = np.sqrt(np.asarray(profiles.multiply(profiles).sum(axis=1)).ravel())
            norms[norms == 0] = 1.0
            scale = (1 - a) / norms / std["content"]
            sims = self._content_sims(rated, tops, many=n_rows >= self.dense_content_from_rows)
            total += (scale[owner] * x_content.data)[:, None] * sims
        nonempty = np.flatnonzero(counts > 0)
        starts = x_ease.indptr[:-1][nonempty]
        seg_counts = counts[nonempty]
        position = np.arange(len(rated))[:, None]
        columns = np.arange(n_top)[None, :]
        for rank in range(k):
            best = np.maximum.reduceat(total, starts, axis=0)  # (users with ratings, n_top)
            hit = total == np.repeat(best, seg_counts, axis=0)
            first = np.minimum.reduceat(np.where(hit, position, len(rated)), starts, axis=0)
            first = np.minimum(first, len(rated) - 1)
            why[nonempty, :, rank] = np.where(best > 0, rated[first], -1)
            total[first, columns] = -np.inf
        return why
