"""Compiled (numba) kernels for the two sparse products EASE does at MAL scale.

* :func:`gram_upper`: ``X'X`` of a users x items CSR matrix, straight into a dense float32 matrix
  (upper triangle only: the Cholesky inversion reads no more). scipy's sparse product builds a
  sparse result first (17.5k^2 non-zeros: ~4 GB with its indices, then a float64 ``toarray``
  copy), which is what pushed the full-size fit past 20 GB.
* :func:`sparse_dense`: ``X @ B`` for a block of users' rows and the dense item x item weights,
  on every core (scipy's is single-threaded, and at full size this is ~10^12 multiply-adds).
* :func:`largest_per_row` and :func:`sparse_sparse`: an item x item matrix pruned to each anime's
  ``k`` strongest neighbours, and ``X @ W`` with such a matrix straight into dense score rows
  (~70x fewer multiply-adds than the dense product at 17.5k anime and the hybrid's k = 256).
* :func:`row_stats` and :func:`blend_top_n`: the hybrid's per-user z-score blend of its three parts and
  its top-N in one pass per row, without writing z-score or blend blocks (at 17.5k anime those
  passes cost more than the scoring itself).
* :func:`row_top_n` and :func:`standardise_rows`: per-row top-N (skipping excluded columns) and
  z-scores of dense score blocks, one pass per row on every core (numpy's argpartition, argsort, mean
  and std are single-threaded and make copies of the whole block).
* :func:`top_shares`: for each (user, recommended item), the rated items with the largest positive
  share of its score: the published "why" (recommender.scoring), one user per thread, no
  (ratings x recommendations) temporaries.

All are compiled on first use, which keeps ``import recommender...`` and ``animerec --help`` light, and
cached (``cache=True``: machine code in ``__pycache__`` beside this module, git-ignored like the ``.pyc``
files), so only the first process after an install or an edit pays the few seconds of compiling.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

_kernels: dict[str, object] = {}
_GRAM_CHUNKS_PER_THREAD = 16
_SLOTS_PER_THREAD = 4  # rows dealt round-robin to 4 slots per thread, each with its own scratch


def _compiled(name: str):  # noqa: ANN202 - a numba dispatcher
    if not _kernels:
        from numba import njit, prange

        @njit(cache=True, parallel=True)
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

        @njit(cache=True, parallel=True)
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

        @njit(cache=True, parallel=True)
        def top_shares(indptr, ease_items, ease_coef, weights, w_indptr, w_indices, content_rows, content_coef,
                       sims, s_indptr, s_indices, tops, tops_in_sims, k, n_items, slots):  # noqa: ANN001, ANN202
            # ``weights`` / ``sims``: dense matrices, or (when ``w_indptr`` / ``s_indptr`` are not empty)
            # the data of CSR ones, pruned to each anime's strongest neighbours, in a 1 x nnz array.
            # A pruned row is scattered onto the recommended items through ``slot_of`` (item -> its
            # slot in the user's list): n_rated x k work, no per-pair search.
            n_rows, n_top = tops.shape
            why = np.full((n_rows, n_top, k), -1, dtype=np.int64)
            w_sparse = w_indptr.shape[0] > 0
            s_sparse = s_indptr.shape[0] > 0
            has_content = content_coef.shape[0] > 0
            for slot in prange(min(slots, n_rows)):
                slot_of = np.full(n_items, -1, dtype=np.int64)
                best = np.empty(k, dtype=np.float32)
                pos = np.empty(k, dtype=np.int64)
                for u in range(slot, n_rows, slots):
                    start, stop = indptr[u], indptr[u + 1]
                    n_rated = stop - start
                    shares = np.zeros((n_top, n_rated), dtype=np.float32)
                    for j in range(n_top):
                        if slot_of[tops[u, j]] < 0:  # a repeated item (padding) takes its first slot's shares
                            slot_of[tops[u, j]] = j
                    if w_sparse:
                        for q in range(start, stop):
                            source = ease_items[q]
                            for p in range(w_indptr[source], w_indptr[source + 1]):
                                j = slot_of[w_indices[p]]
                                if j >= 0:
                                    shares[j, q - start] = ease_coef[q] * weights[0, p]
                    else:
                        for j in range(n_top):
                            for q in range(start, stop):
                                shares[j, q - start] = ease_coef[q] * weights[ease_items[q], tops[u, j]]
                    if has_content:
                        if s_sparse:
                            for q in range(start, stop):
                                source = content_rows[q]
                                for p in range(s_indptr[source], s_indptr[source + 1]):
                                    j = slot_of[s_indices[p]]
                                    if j >= 0:
                                        shares[j, q - start] += content_coef[q] * sims[0, p]
                        else:
                            for j in range(n_top):
                                for q in range(start, stop):
                                    shares[j, q - start] += content_coef[q] * sims[content_rows[q], tops_in_sims[u, j]]
                    for j in range(n_top):
                        row = shares[slot_of[tops[u, j]]]
                        filled = 0
                        for q in range(n_rated):
                            share = row[q]
                            if share <= 0 or (filled == k and share <= best[k - 1]):
                                continue
                            # Insert keeping `best` descending; ties keep the earlier entry first. (The same
                        # few lines as in row_top_n and blend_top_n: one shared njit helper measured 15 %
                        # slower publishing, even with inline="always".)
                            if filled < k:
                                at = filled
                                filled += 1
                            else:
                                at = k - 1
                            while at > 0 and best[at - 1] < share:
                                best[at] = best[at - 1]
                                pos[at] = pos[at - 1]
                                at -= 1
                            best[at] = share
                            pos[at] = q
                        for r in range(filled):
                            why[u, j, r] = ease_items[start + pos[r]]
                    for j in range(n_top):
                        slot_of[tops[u, j]] = -1
            return why

        @njit(cache=True, parallel=True)
        def spmm_csr(indptr, indices, data, w_indptr, w_indices, w_data, n_cols):  # noqa: ANN001, ANN202
            n_rows = indptr.shape[0] - 1
            out = np.zeros((n_rows, n_cols), dtype=np.float32)
            for u in prange(n_rows):
                row = out[u]
                for q in range(indptr[u], indptr[u + 1]):
                    x = data[q]
                    source = indices[q]
                    for p in range(w_indptr[source], w_indptr[source + 1]):
                        row[w_indices[p]] += x * w_data[p]
            return out

        @njit(cache=True, parallel=True)
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

        @njit(cache=True, parallel=True, fastmath={"reassoc", "contract"})
        def row_stats(scores, out_mean, out_std):  # noqa: ANN001, ANN202
            # Per-row mean and population sd, float64 sums (vectorised: re-association only).
            n_rows, n_cols = scores.shape
            for u in prange(n_rows):
                row = scores[u]
                total = 0.0
                for j in range(n_cols):
                    total += row[j]
                mean = total / max(n_cols, 1)
                squares = 0.0
                for j in range(n_cols):
                    d = row[j] - mean
                    squares += d * d
                std = np.sqrt(squares / max(n_cols, 1))
                out_mean[u] = mean
                out_std[u] = std if std > 0.0 else 1.0

        @njit(cache=True, parallel=True)
        def blend_top_n(ease, nmf, content, coef, ex_indptr, ex_indices, n, slots):  # noqa: ANN001, ANN202
            # score = a * cf + (1 - a) * content with cf = (1-w) z(ease) + w z(nmf), z = (x - mean) / sd:
            # ranked by sum_p coef[p, u] * x_p (the same order: the rest is constant per row), without
            # writing any z-score block. coef[p, u]: the blend weight of part p over its sd.
            n_rows, n_cols = ease.shape
            has_nmf = nmf.shape[1] > 0
            has_content = content.shape[1] > 0
            ids = np.full((n_rows, n), -1, dtype=np.int64)
            best = np.full((n_rows, n), -np.inf, dtype=np.float32)
            for slot in prange(min(slots, n_rows)):
                value = np.empty(n_cols, dtype=np.float32)
                for u in range(slot, n_rows, slots):
                    ce, cn, cc = coef[0, u], coef[1, u], coef[2, u]
                    e_row = ease[u]
                    for j in range(n_cols):
                        value[j] = ce * e_row[j]
                    if has_nmf:
                        n_row = nmf[u]
                        for j in range(n_cols):
                            value[j] += cn * n_row[j]
                    if has_content:
                        c_row = content[u]
                        for j in range(n_cols):
                            value[j] += cc * c_row[j]
                    for q in range(ex_indptr[u], ex_indptr[u + 1]):
                        value[ex_indices[q]] = -np.inf
                    kept_ids, kept = ids[u], best[u]
                    filled = 0
                    for j in range(n_cols):
                        v = value[j]
                        if v == -np.inf:
                            continue
                        if filled < n:
                            at = filled
                            filled += 1
                        elif v > kept[n - 1]:
                            at = n - 1
                        else:
                            continue
                        while at > 0 and kept[at - 1] < v:  # ties: the lower column first
                            kept[at] = kept[at - 1]
                            kept_ids[at] = kept_ids[at - 1]
                            at -= 1
                        kept[at] = v
                        kept_ids[at] = j
            return ids

        @njit(cache=True, parallel=True)
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

        _kernels.update(gram=gram, spmm=spmm, spmm_csr=spmm_csr,
                        top_shares=top_shares, row_top_n=row_top_n, standardise_rows=standardise_rows,
                        row_stats=row_stats, blend_top_n=blend_top_n)
    return _kernels[name]


def _csr32(matrix: sp.spmatrix) -> sp.csr_matrix:
    if not (sp.issparse(matrix) and matrix.format == "csr" and matrix.dtype == np.float32):
        matrix = sp.csr_matrix(matrix, dtype=np.float32)
    # The same object when it already fits: scipy caches its sorted / canonical flags on it, which a
    # fresh wrapper would re-check (a pass over the ~9M entries of a pruned item x item matrix).
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


def sparse_sparse(matrix: sp.spmatrix, weights: sp.spmatrix) -> np.ndarray:
    """``matrix @ weights`` as a dense float32 array, for a sparse ``weights`` (the pruned item x item
    matrices): each entry of a row scatters its row of ``weights`` into the dense output row."""
    x = _csr32(matrix)
    w = _csr32(weights)
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"shapes {x.shape} and {w.shape} do not align")
    # np.asarray: the pruned matrices are already int32 / float32, so no per-call copies of their ~9M entries
    return _compiled("spmm_csr")(np.asarray(x.indptr, np.int64), np.asarray(x.indices, np.int32), x.data,
                                 np.asarray(w.indptr, np.int64), np.asarray(w.indices, np.int32), w.data, w.shape[1])


def sparse_product(matrix: sp.spmatrix, weights: np.ndarray | sp.spmatrix) -> np.ndarray:
    """``matrix @ weights`` as dense float32 rows, whether ``weights`` is a dense item x item matrix
    (:func:`sparse_dense`) or a pruned sparse one (:func:`sparse_sparse`)."""
    return sparse_sparse(matrix, weights) if sp.issparse(weights) else sparse_dense(matrix, weights)


def largest_per_row(matrix: np.ndarray, k: int, rows_per_block: int = 1024) -> sp.csr_matrix:
    """``matrix`` keeping, in each row, the ``k`` entries largest in absolute value (ties: the lower
    columns), zeros dropped, as float32 CSR with sorted indices. numpy, a block of rows at a time
    (a compiled version took 14 s to compile for a second's work)."""
    n_rows, n_cols = matrix.shape
    k = max(1, min(int(k), n_cols))
    parts = []
    for lo in range(0, n_rows, rows_per_block):
        block = np.asarray(matrix[lo:lo + rows_per_block], dtype=np.float32)
        size = np.abs(block)
        # the k-th largest |value| of each row; everything above it is kept, then ties at it, lowest columns first
        threshold = -np.partition(-size, k - 1, axis=1)[:, k - 1:k] if k < n_cols else np.zeros((len(block), 1))
        keep = size > threshold
        ties = (size == threshold) & (size > 0)
        room = k - keep.sum(axis=1, keepdims=True)
        keep |= ties & (np.cumsum(ties, axis=1) <= room)
        parts.append(sp.csr_matrix(np.where(keep, block, 0.0).astype(np.float32)))
    if not parts:
        return sp.csr_matrix((n_rows, n_cols), dtype=np.float32)
    return sp.vstack(parts, format="csr")


def _kernel_matrix(matrix: np.ndarray | sp.spmatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, indptr, indices) for :func:`top_shares`'s kernel: a dense matrix as itself with empty
    CSR arrays, a sparse one as its data (1 x nnz) and CSR arrays."""
    if sp.issparse(matrix):
        csr = _csr32(matrix)
        return csr.data[None, :], np.asarray(csr.indptr, np.int64), np.asarray(csr.indices, np.int32)
    return np.ascontiguousarray(matrix, np.float32), np.zeros(0, np.int64), np.zeros(0, np.int32)


def top_shares(indptr: np.ndarray, ease_items: np.ndarray, ease_coef: np.ndarray,
               weights: np.ndarray | sp.spmatrix, tops: np.ndarray, k: int, content_rows: np.ndarray | None = None,
               content_coef: np.ndarray | None = None, sims: np.ndarray | sp.spmatrix | None = None,
               tops_in_sims: np.ndarray | None = None) -> np.ndarray:
    """``why[u, j, :]``: the ``k`` rated items (``ease_items`` of row ``u``'s entries ``indptr[u]:indptr[u+1]``)
    with the largest positive share of item ``tops[u, j]``'s score, best first, ``-1`` padding; ties go to
    the earlier entry. An entry's share is ``ease_coef[q] * weights[ease_items[q], tops[u, j]]`` plus, with a
    content part, ``content_coef[q] * sims[content_rows[q], tops_in_sims[u, j]]``. ``weights`` and ``sims``
    are dense or sparse (pruned: a missing entry is 0)."""
    tops = np.ascontiguousarray(tops, dtype=np.int64)
    if k < 1 or tops.shape[1] == 0:  # nothing to explain (the kernel's insertion needs a slot)
        return np.full((*tops.shape, max(int(k), 0)), -1, dtype=np.int64)
    if content_coef is None:
        content_rows = np.zeros(0, np.int64)
        content_coef = np.zeros(0, np.float32)
        sims = np.zeros((1, 1), np.float32)
        tops_in_sims = tops
    import numba

    w_values, w_indptr, w_indices = _kernel_matrix(weights)
    s_values, s_indptr, s_indices = _kernel_matrix(sims)
    n_items = max(weights.shape[1], int(tops.max(initial=-1)) + 1)
    return _compiled("top_shares")(
        np.asarray(indptr, np.int64), np.asarray(ease_items, np.int64), np.asarray(ease_coef, np.float32),
        w_values, w_indptr, w_indices, np.asarray(content_rows, np.int64), np.asarray(content_coef, np.float32),
        s_values, s_indptr, s_indices, tops, np.ascontiguousarray(tops_in_sims, np.int64), int(k), n_items,
        numba.get_num_threads() * _SLOTS_PER_THREAD)


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
    if n == 0:  # the kernel's insertion reads the last kept slot: there must be one
        return np.zeros((scores.shape[0], 0), np.int64), np.zeros((scores.shape[0], 0), scores.dtype)
    return _compiled("row_top_n")(scores, exclude.indptr.astype(np.int64), exclude.indices.astype(np.int64), n)


def standardise_rows(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row z-scores (mean 0, sd 1; a constant row becomes zeros) and each row's standard deviation
    (1 for a constant row). In place when ``scores`` is a C-ordered float32 array, else on a copy."""
    scores = np.require(scores, dtype=np.float32, requirements=["C", "W"])
    stds = np.empty(scores.shape[0], np.float32)
    return _compiled("standardise_rows")(scores, stds), stds


def row_stats(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's mean and population standard deviation (1 for a constant row), as float64."""
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    means = np.empty(scores.shape[0], np.float64)
    stds = np.empty(scores.shape[0], np.float64)
    _compiled("row_stats")(scores, means, stds)
    return means, stds


def blend_top_n(parts: list[np.ndarray | None], coef: np.ndarray, exclude: sp.spmatrix, n: int) -> np.ndarray:
    """Column indices of each row's ``n`` largest ``sum_p coef[p, u] * parts[p][u]`` (best first, ties: the
    lower column; ``-1`` pads), never an ``exclude`` column. ``parts`` = (ease, nmf or None, content or None),
    dense float32 rows x items blocks; one pass per row, no blended block is ever written."""
    import numba

    ease = np.ascontiguousarray(parts[0], dtype=np.float32)
    empty = np.zeros((ease.shape[0], 0), np.float32)
    nmf, content = (empty if p is None else np.ascontiguousarray(p, dtype=np.float32) for p in parts[1:])
    exclude = sp.csr_matrix(exclude)
    n = max(0, min(int(n), ease.shape[1]))
    if n == 0:  # the kernel's insertion reads the last kept slot: there must be one
        return np.zeros((ease.shape[0], 0), np.int64)
    return _compiled("blend_top_n")(ease, nmf, content, np.ascontiguousarray(coef, np.float32),
                                    np.asarray(exclude.indptr, np.int64),
                                    np.asarray(exclude.indices, np.int64), n,
                                    numba.get_num_threads() * _SLOTS_PER_THREAD)
