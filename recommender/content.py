"""Content model: synopsis TF-IDF -> NMF topics per anime, genres as extra features, score-weighted profiles.

``fit(user_items, synopses=..., genres=...)`` takes one synopsis (and optionally a genre list or
"Action, Drama" string) per item column. Learned:

* ``vectorizer_`` (TF-IDF over nltk-stemmed tokens, see ``recommender.text``) and ``topic_model_``
  (scikit-learn NMF); ``topics_``: the top words of each topic; ``item_topics_``: per-anime topic
  weights (n_items x n_topics, >= 0), what the training job stores on each anime;
* ``item_vectors_``: the L2-normalised representation scores are computed with: the TF-IDF row
  (``representation="tfidf"``) or the topic weights (``"topics"``), plus the genre one-hot block
  scaled by ``genre_weight``.

A user's profile is the sum of the vectors of the anime they rated, weighted by their score
relative to their own mean (``taste_weights``); an item's score is its cosine with the profile.
Anime with no synopsis and no genres have a zero vector: they score 0, never NaN.

With ``neighbours=K`` the score is computed from the anime x anime cosine matrix ``S = VV'`` pruned
to each anime's ``K`` most similar anime (``item_neighbours_``, sparse): ``x S / |x V|``, which is
the exact cosine when nothing is pruned. Scoring then costs ``K`` per rating instead of the
catalogue (what the batch needs at MAL's 17.5k anime).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import MultiLabelBinarizer, normalize

from recommender.base import RecommenderBase, taste_weights
from recommender.kernels import largest_per_row, sparse_product
from recommender.text import SynopsisAnalyzer, split_tags


class ContentRecommender(RecommenderBase):
    """Score-weighted content profiles over TF-IDF (or NMF topic) vectors and genres."""

    def __init__(self, n_topics: int = 40, representation: str = "tfidf", genre_weight: float = 0.0,
                 beta: float = 0.3, min_df: int = 2, max_df: float = 0.5, n_top_words: int = 10,
                 random_state: int = 0, neighbours: int | None = None) -> None:
        self.n_topics = n_topics
        self.representation = representation
        self.genre_weight = genre_weight
        self.beta = beta
        self.min_df = min_df
        self.max_df = max_df
        self.n_top_words = n_top_words
        self.random_state = random_state
        self.neighbours = neighbours

    def _fit(self, user_items: sp.csr_matrix, synopses: Sequence[str] | None = None,
             genres: Sequence[object] | None = None, **_: object) -> None:
        if self.representation not in ("tfidf", "topics"):
            raise ValueError(f"representation must be 'tfidf' or 'topics', not {self.representation!r}")
        n_items = user_items.shape[1]
        synopses = [""] * n_items if synopses is None else [s if isinstance(s, str) else "" for s in synopses]
        if len(synopses) != n_items:
            raise ValueError(f"got {len(synopses)} synopses for {n_items} item columns")
        self.vectorizer_ = TfidfVectorizer(analyzer=SynopsisAnalyzer(), min_df=self.min_df,
                                           max_df=self.max_df, sublinear_tf=True, dtype=np.float32)
        try:
            tfidf = self.vectorizer_.fit_transform(synopses)
        except ValueError:  # no synopsis has a usable word: content falls back to genres only
            tfidf = sp.csr_matrix((n_items, 0), dtype=np.float32)
        self.item_topics_, self.topics_ = self._topics(tfidf)
        text = tfidf if self.representation == "tfidf" else sp.csr_matrix(normalize(self.item_topics_))
        blocks = [sp.csr_matrix(text, dtype=np.float32)]
        self.genres_ = np.array([], dtype=object)
        if genres is not None:
            if len(genres) != n_items:
                raise ValueError(f"got {len(genres)} genre entries for {n_items} item columns")
            binarizer = MultiLabelBinarizer(sparse_output=True)
            onehot = binarizer.fit_transform([split_tags(g) for g in genres]).astype(np.float32)
            self.genres_ = binarizer.classes_
            blocks.append(sp.csr_matrix(normalize(onehot) * self.genre_weight))
        self.item_vectors_ = normalize(sp.hstack(blocks).tocsr()).astype(np.float32)
        self.item_neighbours_ = None if self.neighbours is None else self._nearest(self.neighbours)

    def similarity_blocks(self, block: int = 1024) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row, dense rows)`` of the cosine matrix ``S = VV'``, ``block`` rows at a time."""
        vectors = self.item_vectors_
        for lo in range(0, vectors.shape[0], block):
            yield lo, (vectors[lo:lo + block] @ vectors.T).toarray()

    def _nearest(self, k: int) -> sp.csr_matrix:
        """``S`` keeping each row's ``k`` largest similarities, pruned a block of rows at a time (the
        dense matrix would be 1.2 GB at 17.5k anime)."""
        parts = [largest_per_row(rows, k) for _, rows in self.similarity_blocks()]
        return sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, 0), dtype=np.float32)

    def _topics(self, tfidf: sp.csr_matrix) -> tuple[np.ndarray, list[list[str]]]:
        n_topics = min(self.n_topics, *tfidf.shape) if tfidf.shape[1] else 0
        if n_topics == 0 or tfidf.nnz == 0:
            return np.zeros((tfidf.shape[0], 0), dtype=np.float32), []
        # Multiplicative updates: on a sparse TF-IDF matrix they are several times faster than
        # scikit-learn's default coordinate descent for the same topics.
        self.topic_model_ = NMF(n_components=n_topics, init="nndsvda", solver="mu", max_iter=200,
                                tol=1e-3, random_state=self.random_state)
        item_topics = self.topic_model_.fit_transform(tfidf).astype(np.float32)
        words = self.vectorizer_.get_feature_names_out()
        topics = [[str(words[i]) for i in np.argsort(-row)[: self.n_top_words]]
                  for row in self.topic_model_.components_]
        return item_topics, topics

    def profiles(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        """Each user's taste profile: score-weighted sum of the vectors of the anime they rated."""
        return sp.csr_matrix(normalize(taste_weights(user_items, self.beta) @ self.item_vectors_))

    def profile_norms(self, weights: sp.csr_matrix) -> np.ndarray:
        """Length of each unnormalised profile ``weights @ item_vectors_`` (1 for an empty profile), for
        ``weights = taste_weights(user_items, beta)``: what :meth:`profiles` divides by."""
        raw = sp.csr_matrix(weights @ self.item_vectors_)
        norms = np.sqrt(np.asarray(raw.multiply(raw).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return norms

    def scores_from_similarities(self, user_items: sp.csr_matrix, similarities: np.ndarray | sp.spmatrix,
                                 ) -> np.ndarray:
        """The scores ``normalize(x V) V' = (x S) / |x V|`` from an anime x anime cosine matrix ``S``
        (dense, or pruned to each anime's nearest neighbours)."""
        weights = taste_weights(user_items, self.beta)
        scores = sparse_product(weights, similarities)
        scores /= self.profile_norms(weights)[:, None]
        return scores

    def _score(self, user_items: sp.csr_matrix, userid: np.ndarray | None) -> np.ndarray:
        if getattr(self, "item_neighbours_", None) is not None:
            return self.scores_from_similarities(user_items, self.item_neighbours_)
        scores = self.profiles(user_items) @ self.item_vectors_.T
        return np.asarray(scores.todense() if sp.issparse(scores) else scores, dtype=np.float32)

    def _item_vectors(self) -> sp.csr_matrix:
        return self.item_vectors_

    def item_similarity(self, items: np.ndarray, itemid: int) -> np.ndarray:
        """Cosine similarity of ``items`` to ``itemid`` (0 where pruned): the content side of an explanation."""
        if getattr(self, "item_neighbours_", None) is not None:
            return self.item_neighbours_[items, itemid].toarray().ravel()
        sims = self.item_vectors_[items] @ self.item_vectors_[itemid].T
        return np.asarray(sims.todense()).ravel()
