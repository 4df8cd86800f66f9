"""The hybrid: collaborative (score-aware EASE + our NMF) blended with content, with an adventurousness knob.

    score = a * [(1 - nmf_weight) * z(EASE_w) + nmf_weight * z(NMF)] + (1 - a) * z(content)

``z`` standardises each model's scores per user (mean 0, sd 1 over the catalogue) so the weights
mean the same thing for every user. ``a = adventurousness``: 1 = collaborative only (what people
with your taste liked: more surprising), 0 = content only (more like what you watched).
``EASE_w`` is EASE on score-aware input (``taste_weights``): it measured best of all single models,
and its item-item weights make every recommendation explainable by the anime the user rated.

Defaults are the values with the best mean NDCG@10 over the inner splits of seeds 0, 1 and 2 of the
MAL 2023 ratings (EASE beta = 0.2, l2 = 400; EASE weights and content similarities pruned to each anime's
256 strongest neighbours: mean inner NDCG@10 0.2534, against 0.2506 at 512 and 0.2508 with all kept, and
it makes scoring cost 256 per rating instead of the catalogue; a = 0.5, nmf_weight = 0.3). With the pruned
parts the inner splits would pick a = 0.7; the default stays 0.5, where a folded-in list (NMF's fresh
least-squares step) and the stored one (NMF's learned factors) agree best. ``animerec evaluate``
re-tunes them on each run's inner split and plots test NDCG@10 against adventurousness: on the test
splits the curve is flat between 0.5 and 0.9 and peaks at 0.6-0.8 (the inner split has 20 % fewer
ratings, which favours content a little).
Without synopses or genres the content part is absent and the knob has no effect.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from recommender.base import RecommenderBase, taste_weights
from recommender.baselines import EASERecommender
from recommender.collaborative import NMFRecommender
from recommender.content import ContentRecommender
from recommender.kernels import standardise_rows

logger = logging.getLogger(__name__)

DEFAULT_ADVENTUROUSNESS = 0.5
DEFAULT_NMF_WEIGHT = 0.3
#: EASE weights and content similarities kept per anime (its strongest neighbours): scoring costs
#: this many operations per rating instead of the whole catalogue (docs/BENCHMARKS.md: the NDCG it costs)
DEFAULT_NEIGHBOURS = 256
#: what a part is built with when the hybrid is not given one (or, in the training job, a dict of overrides)
PART_DEFAULTS: dict[str, dict[str, object]] = {
    "ease": {"l2": 400.0, "beta": 0.2, "neighbours": DEFAULT_NEIGHBOURS},
    "nmf": {},
    "content": {"neighbours": DEFAULT_NEIGHBOURS},
}


def standardise(scores: np.ndarray) -> np.ndarray:
    """Per-row z-scores; a constant row (no signal) becomes zeros, never NaN. Works in place on a
    float32 block (the model's raw scores, not needed afterwards)."""
    return standardise_rows(scores)[0]


class HybridRecommender(RecommenderBase):
    """Blend of score-aware EASE, confidence-weighted NMF and content, see the module docstring."""

    def __init__(self, adventurousness: float = DEFAULT_ADVENTUROUSNESS,
                 nmf_weight: float = DEFAULT_NMF_WEIGHT, ease: EASERecommender | None = None,
                 nmf: NMFRecommender | None = None, content: ContentRecommender | None = None) -> None:
        self.adventurousness = adventurousness
        self.nmf_weight = nmf_weight
        self.ease = ease
        self.nmf = nmf
        self.content = content

    def _fit(self, user_items: sp.csr_matrix, synopses: Sequence[str] | None = None,
             genres: Sequence[object] | None = None, **_: object) -> None:
        if not 0.0 <= self.adventurousness <= 1.0:
            raise ValueError(f"adventurousness must be in [0, 1], got {self.adventurousness}")
        self.ease_ = clone(self.ease) if self.ease is not None else EASERecommender(**PART_DEFAULTS["ease"])
        self.fit_seconds_: dict[str, float] = {}
        with self._timed("ease"):
            self.ease_.fit(user_items)
        self.nmf_ = None
        if self.nmf_weight > 0:
            self.nmf_ = clone(self.nmf) if self.nmf is not None else NMFRecommender(**PART_DEFAULTS["nmf"])
            with self._timed("nmf"):
                self.nmf_.fit(user_items)
        self.content_ = None
        if synopses is not None or genres is not None:
            self.content_ = (clone(self.content) if self.content is not None
                             else ContentRecommender(**PART_DEFAULTS["content"]))
            with self._timed("content"):
                self.content_.fit(user_items, synopses=synopses, genres=genres)

    @contextmanager
    def _timed(self, part: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.fit_seconds_[part] = round(time.perf_counter() - start, 3)
        logger.info("hybrid: fitted %s in %.1f s", part, self.fit_seconds_[part])

    # --- scores --------------------------------------------------------------------------------
    def component_scores(self, user_items: sp.csr_matrix, userid: np.ndarray | None) -> dict[str, np.ndarray]:
        """Standardised scores of each fitted component (``ease``, ``nmf``, ``content``)."""
        parts = {"ease": standardise(self.ease_._score(user_items, userid))}
        if self.nmf_ is not None:
            parts["nmf"] = standardise(self.nmf_._score(user_items, userid))
        if self.content_ is not None:
            parts["content"] = standardise(self.content_._score(user_items, userid))
        return parts

    def blend(self, parts: dict[str, np.ndarray], adventurousness: float | None = None,
              nmf_weight: float | None = None) -> np.ndarray:
        """Combine ``component_scores`` output; the evaluator calls this to tune the weights cheaply."""
        a = self.adventurousness if adventurousness is None else adventurousness
        m = self.nmf_weight if nmf_weight is None else nmf_weight
        collaborative = parts["ease"] if "nmf" not in parts or m == 0 else (1 - m) * parts["ease"] + m * parts["nmf"]
        if "content" not in parts:
            return collaborative
        if a >= 1.0:
            return collaborative
        if a <= 0.0:
            return parts["content"]
        return a * collaborative + (1 - a) * parts["content"]

    def _score(self, user_items: sp.csr_matrix, userid: np.ndarray | None) -> np.ndarray:
        return self.blend(self.component_scores(user_items, userid))

    def _item_vectors(self) -> np.ndarray:
        return self.ease_.item_weights_.T

    # --- explanations --------------------------------------------------------------------------
    def explain(self, user_row: sp.spmatrix, itemid: int, n: int = 3) -> list[tuple[int, float]]:
        """The ``n`` rated items that most explain ``itemid``'s score for this user, with their shares.

        A rated item's share is its term in the item-item part (EASE weight times the user's
        taste weight) plus its term in the content part (similarity times taste weight), each
        scaled like the blend. The NMF term is a dot product of latent factors that no single
        rated anime owns, so it is left out of explanations.
        """
        from recommender.base import as_user_items

        row = as_user_items(user_row, self.n_items_)[:1]
        parts_std = self._part_scales(row)
        a, m = self.adventurousness, self.nmf_weight
        collab_share = a if self.content_ is not None else 1.0
        collab_share *= (1 - m) if self.nmf_ is not None else 1.0
        items, ease_terms = self.ease_.contributions(row, itemid)
        total = collab_share * ease_terms / parts_std["ease"]
        if self.content_ is not None and a < 1.0:
            weights = taste_weights(row, self.content_.beta)
            profile_norm = float(np.linalg.norm((weights @ self.content_.item_vectors_).toarray())) or 1.0
            sims = self.content_.item_similarity(weights.indices, itemid)
            total = total + (1 - a) * weights.data * sims / profile_norm / parts_std["content"]
        order = np.argsort(-total)[:n]
        return [(int(items[i]), float(total[i])) for i in order if total[i] > 0]

    def _part_scales(self, row: sp.csr_matrix) -> dict[str, float]:
        scales = {"ease": float(np.std(self.ease_._score(row, None))) or 1.0}
        if self.content_ is not None:
            scales["content"] = float(np.std(self.content_._score(row, None))) or 1.0
        return scales
