"""Our collaborative model: confidence-weighted non-negative matrix factorisation.

Chosen by measurement on the inner split (see docs/BENCHMARKS.md): plain NMF of the zero-filled
score matrix (the seed approach) treats "not rated" as "scored 0" and ranks poorly; binary input
loses the scores. What won is a weighted NMF in the style of implicit ALS (Hu et al. 2008), but
with non-negative factors:

    minimise  sum_{(u,i) rated} c_ui (p_ui - w_u.h_i)^2 + sum_{(u,i) not rated} w0_i (w_u.h_i)^2
              + l2 (|W|^2 + |H|^2)          subject to W >= 0, H >= 0

with preference ``p = max(0.05, 1 + beta (score - user mean))`` (score-aware, user-centred),
confidence ``c = 1 + alpha p`` and the weight of an unrated pair ``w0_i = missing_weight x
popularity_i^missing_exponent / its mean over the anime`` (uniform by default; the evaluator's
0.5 x n_i^0.25 counts an unrated popular anime as stronger evidence of disinterest, as eALS does).
It is solved by element-wise coordinate descent (eALS, He et al. 2016, with a projection onto
>= 0): each factor column costs a few passes over the ratings and the unrated entries enter only
through the k x k Gram matrix (weighted by w0_i), so nothing users x items is ever dense.
Non-negative factors read as additive "taste components" for the stored user vectors.

Measured (docs/BENCHMARKS.md): 0.356 NDCG@10 at k=64 and 0.38 at k=128 on MAL 2023 (seed 0), against
0.287 for the seed approach and 0.29-0.34 for zero-filled NMF on any input. The inner split picks
k=256 (l2 30-45, alpha 2-4); the default rank stays 64. With 20 iterations and w0_i = 0.5 x n_i^0.25
(both chosen on the inner splits of seeds 0-2: mean inner NDCG@10 0.219 -> 0.227 at k=256) the
evaluator's NMF scores 0.408 / 0.396 / 0.392 NDCG@10 on seeds 0 / 1 / 2 (implicit's tuned ALS: 0.389 /
0.375 / 0.380). The sweep is a numba kernel (rows dealt round-robin to the threads, independent given the
other side): ~0.55 s per iteration at k=64 on 1/10 of MAL's scale on 2 cores (a whole fit: 0.84-0.86 x
implicit's ALS at its 15 iterations, docs/BENCHMARKS.md), against ~17 s for the
vectorised numpy sweep it replaced (kept as ``_sweep_numpy``, the reference the tests compare it with).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse as sp

from recommender.base import RecommenderBase, rated_only, taste_weights

logger = logging.getLogger(__name__)


def _segment_sums(values: np.ndarray, indptr: np.ndarray, nonempty: np.ndarray) -> np.ndarray:
    """Sum of ``values`` per CSR segment (rows with no entries get 0, unlike bare reduceat)."""
    sums = np.zeros(len(indptr) - 1, dtype=np.float32)
    if values.size:
        sums[nonempty] = np.add.reduceat(values, indptr[:-1][nonempty])
    return sums


class _Side:
    """One side's view of the ratings, sorted by that side (CSR for users, CSC for items)."""

    def __init__(self, indptr: np.ndarray, other: np.ndarray, pref_conf: np.ndarray,
                 conf_excess: np.ndarray, missing: np.ndarray, other_missing: np.ndarray) -> None:
        self.indptr = indptr
        self.counts = np.diff(indptr)
        self.nonempty = self.counts > 0
        self.other = other  # the index on the other side, per rating
        self.pref_conf = pref_conf  # c * p
        self.conf_excess = conf_excess  # c - w0, w0 = the weight the pair would have if unrated
        # w0 of a pair = user factor x anime factor: this side's factor per row (float64), and the other
        # side's (which weights the other side's Gram matrix).
        self.missing = missing
        self.other_missing = other_missing
        self.busiest_first = np.argsort(-self.counts, kind="stable").astype(np.int64)  # work order


def _sweep_numpy(own: np.ndarray, other: np.ndarray, side: _Side, l2: float) -> None:
    """Reference for ``_sweep_numba`` (one factor column at a time, vectorised over rows).

    Kept only so the tests can check that the compiled kernel computes the same factors.
    ``own`` (n x k) is updated in place.
    """
    rows = np.repeat(np.arange(own.shape[0]), side.counts)
    yhat = np.einsum("ij,ij->i", own[rows], other[side.other])  # the current predictions at the ratings
    own_t, other_t = own.T, other.T  # views: column f of the factors is a row here
    gram = (other_t * side.other_missing) @ other  # k x k, all items: the unrated entries' whole contribution
    w0 = side.missing
    for f in range(own_t.shape[0]):
        h = other_t[f][side.other]
        y_without = yhat - np.repeat(own_t[f], side.counts) * h
        num = _segment_sums((side.pref_conf - side.conf_excess * y_without) * h, side.indptr, side.nonempty)
        num -= w0 * (gram[f] @ own_t - own_t[f] * gram[f, f])
        den = _segment_sums(side.conf_excess * h * h, side.indptr, side.nonempty)
        den += w0 * gram[f, f] + l2
        own_t[f] = np.maximum(0.0, num / den)
        yhat = y_without + np.repeat(own_t[f], side.counts) * h


_sweep_kernel = None
_SLOTS_PER_THREAD = 4  # rows dealt round-robin to 4 slots per thread: even shares, few buffers


def _compiled_kernel():  # noqa: ANN202 - a numba dispatcher
    """Compile the row kernel on first use, so importing this module (and ``animerec --help``) stays light.

    The same arithmetic as ``_sweep_numpy``, reordered: every row's k coordinates are updated in turn
    (rows are independent given the other side, so this is the same sequence of updates), with the
    row's other-side vectors gathered once into a k x nnz buffer so each coordinate is one contiguous
    pass, and the row's current predictions computed in the same gather (carrying them from one side
    to the other instead meant two permutations of an nnz array per iteration). Compiling takes ~3 s;
    ``cache=True`` keeps the machine code in ``__pycache__`` beside the module (git-ignored, like the
    ``.pyc`` files), so only the first process after an install or an edit pays it.
    """
    global _sweep_kernel
    if _sweep_kernel is None:
        from numba import njit, prange

        # Re-association only (no NaN/inf shortcuts): lets LLVM vectorise the per-coordinate sums.
        # Measured 18 % faster at 1/10 MAL scale, factors within 3e-5 of the strict-order sums.
        @njit(cache=True, parallel=True, fastmath={"reassoc", "contract"})
        def kernel(own, other, gram, order, indptr, other_index, pref_conf, conf_excess, l2, missing, slots):  # noqa: ANN001, ANN202
            k = own.shape[1]
            # Each slot owns every slots-th row of ``order`` (busiest first, so the slots get even
            # shares) and one gather buffer sized for its first, longest row: allocating a buffer per
            # row cost ~25 % of the sweep (fresh pages for the long rows of the anime side).
            for slot in prange(min(slots, order.shape[0])):
                first = order[slot]
                longest = max(1, indptr[first + 1] - indptr[first])
                buffer = np.empty(k * longest, dtype=np.float32)
                predictions = np.empty(longest, dtype=np.float32)
                fixed_num = np.zeros(k, dtype=np.float32)
                den_rated = np.zeros(k, dtype=np.float32)
                for position in range(slot, order.shape[0], slots):
                    row = order[position]
                    lo, hi = indptr[row], indptr[row + 1]
                    n = hi - lo
                    y = predictions[:n]
                    pc = pref_conf[lo:hi]
                    ce = conf_excess[lo:hi]
                    # Gather the row's other-side vectors into a k x n buffer (each coordinate then
                    # reads a contiguous run) and, in the same pass, the row's predictions w.h and
                    # the parts of each coordinate's numerator and denominator that do not move
                    # during the sweep: sum c p h_f and sum (c - w0) h_f^2 (float32 like the numpy
                    # reference's sums).
                    h = buffer[: k * n].reshape((k, n))
                    w = own[row]
                    fixed_num[:] = 0.0
                    den_rated[:] = 0.0
                    for j in range(n):
                        vec = other[other_index[lo + j]]
                        p_j = pc[j]
                        c_j = ce[j]
                        for f in range(k):
                            v = vec[f]
                            h[f, j] = v
                            fixed_num[f] += p_j * v
                            den_rated[f] += c_j * v * v
                    y[:] = 0.0  # the row's current predictions w.h (vectorised over the ratings)
                    for f in range(k):
                        w_f = w[f]
                        hf = h[f]
                        for j in range(n):
                            y[j] += w_f * hf[j]
                    w0 = missing[row]
                    step = np.float32(0.0)
                    last = 0
                    for f in range(k):
                        old = w[f]
                        hf = h[f]
                        hl = h[last]
                        # sum (c - w0) yhat h_f, applying the previous coordinate's change to yhat
                        # in the same pass. float32 like the numpy reference's sums (float64 costs
                        # ~20 % here).
                        acc = np.float32(0.0)
                        if step != 0.0:
                            for j in range(n):
                                y_j = y[j] + step * hl[j]
                                y[j] = y_j
                                acc += ce[j] * y_j * hf[j]
                        else:
                            for j in range(n):
                                acc += ce[j] * y[j] * hf[j]
                        # sum c p h - sum (c - w0) (yhat - w_f h) h, as in the reference.
                        num = fixed_num[f] - acc + old * den_rated[f]
                        cross = 0.0
                        for g in range(k):
                            cross += gram[f, g] * w[g]
                        num -= w0 * (cross - old * gram[f, f])
                        den = den_rated[f] + w0 * gram[f, f] + l2
                        new = max(0.0, num / den)
                        w[f] = new
                        step = np.float32(new - old)
                        last = f

        _sweep_kernel = kernel
    return _sweep_kernel


def _sweep_numba(own: np.ndarray, other: np.ndarray, side: _Side, l2: float) -> None:
    """One coordinate-descent pass over every factor of ``own`` (n x k, updated in place), compiled."""
    from numba import get_num_threads

    # k x k: the unrated entries' whole contribution (each other-side row weighted by its missing weight)
    gram = ((other.T * side.other_missing.astype(np.float32)) @ other).astype(np.float64)
    # Popularity is power-law: a few anime hold most ratings. Rows busiest first, dealt round-robin
    # to the slots, so the threads finish together instead of one taking all the head anime.
    _compiled_kernel()(own, other, gram, side.busiest_first, side.indptr, side.other, side.pref_conf,
                       side.conf_excess, float(l2), side.missing, get_num_threads() * _SLOTS_PER_THREAD)


_SWEEPS = {"numba": _sweep_numba, "numpy": _sweep_numpy}


class NMFRecommender(RecommenderBase):
    """Confidence-weighted NMF (non-negative eALS) on score-aware implicit feedback.

    Parameters: ``factors`` (rank), ``l2`` (ridge on both factor matrices), ``alpha`` (confidence
    slope), ``beta`` (score-awareness of the preference; 0 = binary), ``missing_weight`` (w0, the
    mean weight of an unrated pair), ``missing_exponent`` (w0 of anime i grows as its number of
    ratings ** this; 0 = uniform), ``iterations``, ``random_state``.
    Learned: ``user_factors_`` (n_users x k), ``item_factors_`` (n_items x k), both >= 0.
    """

    # Which sweep ``fit`` runs: the compiled kernel; the tests switch an instance to "numpy" to check it.
    _kernel = "numba"

    def __init__(self, factors: int = 64, l2: float = 30.0, alpha: float = 2.0, beta: float = 0.3,
                 missing_weight: float = 1.0, iterations: int = 10, random_state: int = 0,
                 missing_exponent: float = 0.0) -> None:
        self.factors = factors
        self.l2 = l2
        self.alpha = alpha
        self.beta = beta
        self.missing_weight = missing_weight
        self.missing_exponent = missing_exponent
        self.iterations = iterations
        self.random_state = random_state

    def _preferences(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        return taste_weights(rated_only(user_items), self.beta)

    def _fit(self, user_items: sp.csr_matrix, **_: object) -> None:
        prefs = self._preferences(user_items)
        n_users, n_items = prefs.shape
        k = self.factors
        rng = np.random.default_rng(self.random_state)
        # Small positive start: eALS is insensitive to the scale, and zeros would never move.
        # Drawn k x n (the original layout, so a seed gives the same model) and stored n x k.
        users = np.ascontiguousarray((rng.random((k, n_users), dtype=np.float32) * 0.1).astype(np.float32).T)
        items = np.ascontiguousarray((rng.random((k, n_items), dtype=np.float32) * 0.1).astype(np.float32).T)
        p = prefs.data.astype(np.float32)
        conf = (1.0 + self.alpha * p).astype(np.float32)
        item_counts = np.bincount(prefs.indices, minlength=n_items)
        # Weight of an unrated (user, anime) pair: w0 scaled by the anime's popularity ** missing_exponent
        # (mean 1 over the catalogue; eALS's popularity-aware missing data, He et al. 2016).
        popularity = np.maximum(1.0, item_counts.astype(np.float64)) ** self.missing_exponent
        item_missing = float(self.missing_weight) * popularity / popularity.mean()
        user_missing = np.ones(n_users)
        w0 = item_missing.astype(np.float32)[prefs.indices]  # per rating
        user_indptr = prefs.indptr.astype(np.int64)
        user_side = _Side(user_indptr, prefs.indices.astype(np.int32), conf * p, conf - w0,
                          user_missing, item_missing)
        rows = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(user_indptr))
        # Rating positions in item order, users ascending within an item (a stable sort by item,
        # done as scipy's O(nnz) CSR -> CSC conversion of the positions rather than an argsort).
        positions = sp.csr_matrix((np.arange(prefs.nnz, dtype=np.int64), prefs.indices, prefs.indptr),
                                  shape=prefs.shape).tocsc()
        by_item = positions.data
        item_indptr = positions.indptr.astype(np.int64)
        del positions
        item_side = _Side(item_indptr, rows[by_item], (conf * p)[by_item], (conf - w0)[by_item],
                          item_missing, user_missing)
        del rows, by_item
        sweep = _SWEEPS[self._kernel]
        started = time.perf_counter()
        for iteration in range(self.iterations):
            sweep(users, items, user_side, self.l2)
            sweep(items, users, item_side, self.l2)
            logger.debug("nmf iteration %d/%d, %.1fs", iteration + 1, self.iterations,
                         time.perf_counter() - started)
        self.user_factors_ = users
        self.item_factors_ = items
        self.item_missing_ = item_missing
        self._item_gram = ((items.T * item_missing.astype(np.float32)) @ items).astype(np.float64)

    def fold_in(self, user_items: sp.csr_matrix) -> np.ndarray:
        """Factors for users not seen in fit: the exact non-negative least-squares user step.

        Solves the user's k x k normal equations (Cholesky, then NNLS on the triangular factor);
        about a millisecond per user at k=64, whatever the catalogue size.
        """
        from threadpoolctl import threadpool_limits

        prefs = self._preferences(user_items)
        with threadpool_limits(1, "blas"):  # k x k solves: BLAS threads only add wake-up latency
            return self._fold_in(prefs)

    def _fold_in(self, prefs: sp.csr_matrix) -> np.ndarray:
        item_missing, gram = getattr(self, "item_missing_", None), self._item_gram
        if item_missing is None:  # a model stored before w0 could vary per anime: uniform w0
            item_missing = np.full(self.item_factors_.shape[0], float(self.missing_weight))
            gram = float(self.missing_weight) * gram
        out = np.zeros((prefs.shape[0], self.factors), dtype=np.float32)
        for row in range(prefs.shape[0]):
            lo, hi = prefs.indptr[row], prefs.indptr[row + 1]
            if lo == hi:
                continue  # nothing rated: no taste to fold in; scores fall back to 0
            h = self.item_factors_[prefs.indices[lo:hi]].astype(np.float64)
            p = prefs.data[lo:hi].astype(np.float64)
            conf = 1.0 + self.alpha * p
            w0 = item_missing[prefs.indices[lo:hi]]
            a = gram + (h.T * (conf - w0)) @ h + self.l2 * np.eye(self.factors)
            b = h.T @ (conf * p)
            upper = scipy.linalg.cholesky(a, lower=False)
            target = scipy.linalg.solve_triangular(upper, b, trans="T", lower=False)
            out[row] = scipy.optimize.nnls(upper, target)[0]
        return out

    def _score(self, user_items: sp.csr_matrix, userid: np.ndarray | None) -> np.ndarray:
        users = self.fold_in(user_items) if userid is None else self.user_factors_[userid]
        return users @ self.item_factors_.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_
