"""Compiled (numba) kernels for the two sparse products EASE does at MAL scale.

* :func:`gram_upper`: ``X'X`` of a users x items CSR matrix, straight into a dense float32 matrix
  (upper triangle only: the Cholesky inversion reads no more). scipy's sparse product builds a
  sparse result first (17.5k^2 non-zeros: ~4 GB with its indices, then a float64 ``toarray``
  copy), which is what pushed the full-size fit past 20 GB.
* :func:`sparse_dense`: ``X @ B`` for a block of users' rows and the dense item x item weights,
  on every core (scipy's is single-threaded, and at full size this is ~10^12 multiply-adds).
* :func:`row_top_n` and :func:`standardise_rows`: per-row top-N (skipping excluded columns) and
  z-scores of dense score blocks, one pass per row on every core (numpy's argpartition, argsort, mean
  and std are single-threaded and make copies of the whole block).
* :func:`top_shares`: for each (user, recommended item), the rated items with the largest positive
  share of its score: the published "why" (recommender.scoring), one user per thread, no
  (ratings x recommendations) temporaries.

Both are compiled on first use (~1-2 s, nothing cached on disk, so the tree stays clean), which
keeps ``import recommender...`` and ``animerec --help`` light.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

_kernels: dict[str, object] = {}
_GRAM_CHUNKS_PER_THREAD = 16


def _compiled(name: str):  # noqa: ANN202 - a numba dispatcher
    if not _kernels:
        from numba import njit, prange

        @njit(cache=False, parallel=True)
        def gram(indptr, indices, data, n_items, bounds):  # noqa: ANN001, ANN202
            out = np.zeros((n_items, n_items), dtype=np.float32)
            n_users = indptr.shape[0] - 1
            # Each chunk owns the output rows [bounds[c], bounds[c+1]): no two threads write one row.
            for c in prange(bounds.shape[0] - 1):
                lo, hi = bounds[c], bounds[c + 1]
                for u in range(n_users):
                    start, stop = indptr[u], indptr[u + 1]
                    q = start + np.searchsorted(indices[start:stop], lo)
                    while q < stop and indices[q] < hi:
                        i = indices[q]
                        w = data[q]
                        for r in range(q, stop):
                            out[i, indices[r]] += w * data[r]
                        q += 1
            return out

        @njit(cache=False, parallel=True)
        def spmm(indptr, indices, data, dense):  # noqa: ANN001, ANN202
            n_rows = indptr.shape[0] - 1
            out = np.zeros((n_rows, dense.shape[1]), dtype=np.float32)
            for u in prange(n_rows):
                row = out[u]
                for q in range(indptr[u], indptr[u + 1]):
                    w = data[q]
                    source = dense[indices[q]]
                    for j in range(source.shape[0]):
                        row[j] += w * source[j]
            return out

        @njit(cache=False, parallel=True)
        def top_shares(indptr, ease_items, ease_coef, weights, content_rows, content_coef, sims, tops,
                       tops_in_sims, k):  # noqa: ANN001, ANN202
            n_rows, n_top = tops.shape
            why = np.full((n_rows, n_top, k), -1, dtype=np.int64)
            for u in prange(n_rows):
                start, stop = indptr[u], indptr[u + 1]
                best = np.empty(k, dtype=np.float32)
                pos = np.empty(k, dtype=np.int64)
                for j in range(n_top):
                    item, sim_col = tops[u, j], tops_in_sims[u, j]
                    filled = 0
                    for q in range(start, stop):
                        share = ease_coef[q] * weights[ease_items[q], item]
                        if content_coef.shape[0]:
                            share += content_coef[q] * sims[content_rows[q], sim_col]
                        if share <= 0 or (filled == k and share <= best[k - 1]):
                            continue
                        # Insert keeping `best` descending; ties keep the earlier entry first.
                        if filled < k:
                            slot = filled
                            filled += 1
                        else:
                            slot = k - 1
                        while slot > 0 and best[slot - 1] < share:
                            best[slot] = best[slot - 1]
                            pos[slot] = pos[slot - 1]
                            slot -= 1
                        best[slot] = share
                        pos[slot] = q
                    for r in range(filled):
                        why[u, j, r] = ease_items[pos[r]]
            return why

        @njit(cache=False, parallel=True)
        def row_top_n(scores, ex_indptr, ex_indices, n):  # noqa: ANN001, ANN202
            n_rows, n_cols = scores.shape
            ids = np.full((n_rows, n), -1, dtype=np.int64)
            best = np.full((n_rows, n), -np.inf, dtype=scores.dtype)
            for u in prange(n_rows):
                e, e_end = ex_indptr[u], ex_indptr[u + 1]
                kept_ids, kept = ids[u], best[u]
                filled = 0
                for j in range(n_cols):
                    while e < e_end and ex_indices[e] < j:
                        e += 1
                    if e < e_end and ex_indices[e] == j:
                        continue
                    value = scores[u, j]
                    if filled < n:
                        slot = filled
                        filled += 1
                    elif value > kept[n - 1]:
                        slot = n - 1
                    else:
                        continue
                    while slot > 0 and kept[slot - 1] < value:  # ties: the lower column first
                        kept[slot] = kept[slot - 1]
                        kept_ids[slot] = kept_ids[slot - 1]
                        slot -= 1
                    kept[slot] = value
                    kept_ids[slot] = j
            return ids, best

        @njit(cache=False, parallel=True)
        def standardise_rows(scores, stds):  # noqa: ANN001, ANN202
            n_rows, n_cols = scores.shape
            for u in prange(n_rows):
                row = scores[u]
                total = 0.0
                for j in range(n_cols):
                    total += row[j]
                mean = total / max(n_cols, 1)
                squares = 0.0
                for j in range(n_cols):
                    squares += (row[j] - mean) ** 2
                std = np.sqrt(squares / max(n_cols, 1))
                if std == 0.0:
                    std = 1.0
                stds[u] = std
                for j in range(n_cols):
                    row[j] = (row[j] - mean) / std
            return scores

        _kernels.update(gram=gram, spmm=spmm, top_shares=top_shares, row_top_n=row_top_n,
                        standardise_rows=standardise_rows)
    return _kernels[name]


def _csr32(matrix: sp.spmatrix) -> sp.csr_matrix:
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    if not matrix.has_sorted_indices:
        matrix = matrix.sorted_indices()
    matrix.sum_duplicates()
    return matrix


def gram_upper(matrix: sp.spmatrix) -> np.ndarray:
    """``X'X`` as a dense float32 C-ordered matrix whose upper triangle (``i <= j``) is filled; the
    strictly lower triangle is zero. Summed in float32: relative error ~1e-6, far below what the ridge
    and ranking notice."""
    import numba

    x = _csr32(matrix)
    n_items = x.shape[1]
    # Balance the threads: an entry at position q of its row adds (row end - q) terms to row
    # `indices[q]` of the output; cut the output rows into chunks of equal work.
    counts = np.diff(x.indptr)
    ends = np.repeat(x.indptr[1:], counts)
    work = np.bincount(x.indices, weights=(ends - np.arange(x.nnz)).astype(np.float64), minlength=n_items)
    chunks = max(1, min(n_items, numba.get_num_threads() * _GRAM_CHUNKS_PER_THREAD))
    cumulative = np.concatenate([[0.0], np.cumsum(work)])
    bounds = np.searchsorted(cumulative, np.linspace(0, cumulative[-1], chunks + 1)[1:-1])
    bounds = np.unique(np.concatenate([[0], bounds, [n_items]])).astype(np.int64)
    return _compiled("gram")(x.indptr.astype(np.int64), x.indices.astype(np.int32), x.data, n_items, bounds)


def sparse_dense(matrix: sp.spmatrix, dense: np.ndarray) -> np.ndarray:
    """``matrix @ dense`` as float32, one output row per thread at a time."""
    x = _csr32(matrix)
    dense = np.ascontiguousarray(dense, dtype=np.float32)
    if x.shape[1] != dense.shape[0]:
        raise ValueError(f"shapes {x.shape} and {dense.shape} do not align")
    return _compiled("spmm")(x.indptr.astype(np.int64), x.indices.astype(np.int32), x.data, dense)


def top_shares(indptr: np.ndarray, ease_items: np.ndarray, ease_coef: np.ndarray, weights: np.ndarray,
               tops: np.ndarray, k: int, content_rows: np.ndarray | None = None,
               content_coef: np.ndarray | None = None, sims: np.ndarray | None = None,
               tops_in_sims: np.ndarray | None = None) -> np.ndarray:
    """``why[u, j, :]``: the ``k`` rated items (``ease_items`` of row ``u``'s entries ``indptr[u]:indptr[u+1]``)
    with the largest positive share of item ``tops[u, j]``'s score, best first, ``-1`` padding; ties go to
    the earlier entry. An entry's share is ``ease_coef[q] * weights[ease_items[q], tops[u, j]]`` plus, with a
    content part, ``content_coef[q] * sims[content_rows[q], tops_in_sims[u, j]]``."""
    tops = np.ascontiguousarray(tops, dtype=np.int64)
    if content_coef is None:
        content_rows = np.zeros(0, np.int64)
        content_coef = np.zeros(0, np.float32)
        sims = np.zeros((1, 1), np.float32)
        tops_in_sims = tops
    return _compiled("top_shares")(
        np.asarray(indptr, np.int64), np.asarray(ease_items, np.int64), np.asarray(ease_coef, np.float32),
        np.ascontiguousarray(weights, np.float32), np.asarray(content_rows, np.int64),
        np.asarray(content_coef, np.float32), np.ascontiguousarray(sims, np.float32), tops,
        np.ascontiguousarray(tops_in_sims, np.int64), int(k))


def row_top_n(scores: np.ndarray, exclude: sp.spmatrix | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``n`` best columns, best first (ties: lower column first), never an ``exclude`` column:
    ``(ids, scores)``, padded with ``-1`` / ``-inf`` when fewer than ``n`` columns are left."""
    scores = np.ascontiguousarray(scores)
    if scores.dtype not in (np.float32, np.float64):
        scores = scores.astype(np.float32)
    if exclude is None:
        exclude = sp.csr_matrix(scores.shape, dtype=np.float32)
    exclude = sp.csr_matrix(exclude)
    if not exclude.has_sorted_indices:
        exclude = exclude.sorted_indices()
    n = max(0, min(int(n), scores.shape[1]))
    return _compiled("row_top_n")(scores, exclude.indptr.astype(np.int64), exclude.indices.astype(np.int64), n)


def standardise_rows(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row z-scores (mean 0, sd 1; a constant row becomes zeros) and each row's standard deviation
    (1 for a constant row). In place when ``scores`` is a C-ordered float32 array, else on a copy."""
    scores = np.require(scores, dtype=np.float32, requirements=["C", "W"])
    stds = np.empty(scores.shape[0], np.float32)
    return _compiled("standardise_rows")(scores, stds), stds
