"""Baselines every model is compared with, in the same process: popularity, EASE, implicit ALS, seed NMF.

* ``PopularityRecommender``: how many users rated each anime (what a front page shows).
* ``EASERecommender``: Steck (2019), "Embarrassingly Shallow Autoencoders", closed form
  ``B = I - P diag(1/diag(P))``, ``P = (X'X + l2 I)^-1`` on the binary matrix (``beta=0``); with
  ``beta > 0`` it runs on score-aware weights instead (the variant used inside the hybrid).
* ``ALSRecommender``: ``implicit``'s AlternatingLeastSquares, the peer a user would pick instead.
* ``SeedNMFRecommender``: scikit-learn NMF on the zero-filled score matrix, k=6: what earlier anime
  recommenders did, and the floor of our own NMF.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from recommender.base import RecommenderBase, rated_only, taste_weights
from recommender.kernels import gram_upper, largest_per_row, sparse_product


class PopularityRecommender(RecommenderBase):
    """Rank anime by their number of ratings (train users only); the same list for everyone."""

    def _fit(self, user_items: sp.csr_matrix, **_: object) -> None:
        self.item_counts_ = np.diff(rated_only(user_items).tocsc().indptr).astype(np.float32)

    def _score(self, user_items: sp.csr_matrix, userid: np.ndarray | None) -> np.ndarray:
        return np.tile(self.item_counts_, (user_items.shape[0], 1))

    def _item_vectors(self) -> np.ndarray:
        return self.item_counts_[:, None]


def ease_weights(gram: np.ndarray, l2: float, overwrite: bool = False) -> np.ndarray:
    """EASE item-item weights from a Gram matrix ``X'X`` (only its upper triangle is read).

    Inverts by Cholesky in float32 (a third of the work of an LU inverse, half the memory: 1.2 GB
    at MAL's 17.5k anime); with the ridge ``l2 >= 1`` float32 is accurate to far below ranking noise.
    ``overwrite=True`` with a C-ordered float32 ``gram`` (what :func:`recommender.kernels.gram_upper`
    returns) works in its memory: the whole fit then needs one n x n matrix, not four.
    """
    if overwrite and gram.dtype == np.float32 and gram.flags.c_contiguous:
        matrix = gram
    else:
        matrix = np.array(gram, dtype=np.float32, order="C", copy=True)
    matrix[np.diag_indices_from(matrix)] += np.float32(l2)
    # The C-ordered upper triangle is the lower triangle of the Fortran-ordered transpose (the same
    # memory), which LAPACK factors and inverts in place.
    chol, info = scipy.linalg.lapack.spotrf(matrix.T, lower=True, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE Gram matrix + {l2} I is not positive definite (info={info})")
    inverse_t, info = scipy.linalg.lapack.spotri(chol, lower=True, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE inversion failed (info={info})")
    inverse = inverse_t.T  # C-ordered again, upper triangle filled (the same memory unless LAPACK copied)
    _mirror_upper(inverse)
    diag = np.diag(inverse).copy()
    inverse /= -diag[None, :]
    inverse[np.diag_indices_from(inverse)] = 0.0
    return np.ascontiguousarray(inverse)


def _mirror_upper(matrix: np.ndarray, block: int = 1024) -> None:
    """Copy the upper triangle onto the lower one, a block of rows at a time (no n x n temporaries)."""
    n = matrix.shape[0]
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        matrix[lo:hi, :lo] = matrix[:lo, lo:hi].T
        square = matrix[lo:hi, lo:hi]
        square[...] = np.triu(square) + np.triu(square, 1).T


class EASERecommender(RecommenderBase):
    """EASE closed form (Steck 2019); ``beta=0``: binary input, ``beta>0``: score-aware input.

    The item x item matrix is dense (n_items^2 floats: 1.2 GB at MAL's 17.5k anime), which is
    why EASE fits catalogues of anime but not of every song ever released. ``neighbours=K`` keeps,
    for each rated anime, only its ``K`` largest weights (by absolute value) as a sparse matrix:
    scoring then costs ``K`` instead of ``n_items`` per rating (what the batch needs at full size;
    the NDCG it costs is in docs/BENCHMARKS.md). ``None`` keeps the exact dense weights.
    """

    def __init__(self, l2: float = 200.0, beta: float = 0.0, neighbours: int | None = None) -> None:
        self.l2 = l2
        self.beta = beta
        self.neighbours = neighbours

    def _input(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        return taste_weights(user_items, self.beta)

    def _fit(self, user_items: sp.csr_matrix, **_: object) -> None:
        weights = ease_weights(gram_upper(self._input(user_items)), self.l2, overwrite=True)
        if self.neighbours is not None:
            weights = largest_per_row(weights, self.neighbours)
        self.item_weights_ = weights

    def _score(self, user_items: sp.csr_matrix, userid: np.ndarray | None) -> np.ndarray:
        return sparse_product(self._input(user_items), self.item_weights_)

    def _item_vectors(self) -> np.ndarray | sp.csr_matrix:
        return self.item_weights_.T

    def contributions(self, user_row: sp.csr_matrix, itemid: int) -> tuple[np.ndarray, np.ndarray]:
        """(rated items, their share of ``itemid``'s score) for one user row: the explanation."""
        x = self._input(user_row)
        weights = self.item_weights_[x.indices, itemid]
        return x.indices, x.data * (weights.toarray().ravel() if sp.issparse(weights) else weights)


class ALSRecommender(RecommenderBase):
    """implicit's ALS on the binary matrix (confidence ``1 + alpha``), wrapped in our interface."""

    def __init__(self, factors: int = 64, regularization: float = 1.0, alpha: float = 1.0,
                 iterations: int = 15, random_state: int = 0, num_threads: int = 0) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads

    def _model(self):  # noqa: ANN202 - implicit has no public type for the CPU model
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        # implicit parallelises itself; a BLAS thread pool on top of it only thrashes.
        with threadpool_limits(1, "blas"):
            return AlternatingLeastSquares(
                factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                iterations=self.iterations, random_state=self.random_state,
                num_threads=self.num_threads)

    def _fit(self, user_items: sp.csr_matrix, **_: object) -> None:
        from threadpoolctl import threadpool_limits

        binary = rated_only(user_items)
        binary.data[:] = 1.0
        model = self._model()
        with threadpool_limits(1, "blas"):
            model.fit(binary, show_progress=False)
        self.model_ = model
        self.user_factors_ = np.asarray(model.user_factors)
        self.item_factors_ = np.asarray(model.item_factors)

    def _score(self, user_items: sp.csr_matrix, userid: np.ndarray | None) -> np.ndarray:
        if userid is None:
            binary = rated_only(user_items)
            binary.data[:] = 1.0
            users = np.asarray(self.model_.recalculate_user(np.arange(binary.shape[0]), binary))
            users = users.reshape(binary.shape[0], -1)
        else:
            users = self.user_factors_[userid]
        return users @ self.item_factors_.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_


class SeedNMFRecommender(RecommenderBase):
    """scikit-learn NMF of the zero-filled score matrix, k=6: the seed approach we must beat."""

    def __init__(self, n_components: int = 6, max_iter: int = 300, random_state: int = 0) -> None:
        self.n_components = n_components
        self.max_iter = max_iter
        self.random_state = random_state

    def _fit(self, user_items: sp.csr_matrix, **_: object) -> None:
        from sklearn.decomposition import NMF

        self.model_ = NMF(n_components=self.n_components, init="nndsvda", max_iter=self.max_iter,
                          random_state=self.random_state)
        self.user_factors_ = self.model_.fit_transform(rated_only(user_items))
        self.item_factors_ = self.model_.components_.T

    def _score(self, user_items: sp.csr_matrix, userid: np.ndarray | None) -> np.ndarray:
        users = self.model_.transform(rated_only(user_items)) if userid is None else self.user_factors_[userid]
        return users @ self.item_factors_.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_
