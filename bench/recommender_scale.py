"""Fit time of our NMF against implicit ALS on a MAL-shaped synthetic matrix, fold-in latency, batch top-N.

MAL at full scale is ~325k users x 17.5k anime with ~57M ratings; ``--scale 0.1`` keeps the anime
and divides users and ratings by ten. Popularity is Zipf-like (1 / (rank + 50)), scores 1-10.
Prints seconds and the NMF/ALS ratio measured in this process (same matrix, same rank, 2 threads).

    .venv/bin/python bench/recommender_scale.py --scale 0.1 --factors 64
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp


def synthetic(scale: float, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    n_users, n_items, nnz = int(325_000 * scale), 17_500, int(57_000_000 * scale)
    popularity = 1.0 / (np.arange(n_items) + 50.0)
    rows = rng.integers(0, n_users, nnz)
    cols = rng.choice(n_items, nnz, p=popularity / popularity.sum())
    matrix = sp.csr_matrix((rng.integers(1, 11, nnz).astype(np.float32), (rows, cols)), shape=(n_users, n_items))
    matrix.sum_duplicates()
    matrix.data = np.minimum(matrix.data, 10)
    return matrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.1, help="fraction of MAL's users and ratings")
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--nmf-iterations", type=int, default=10)
    parser.add_argument("--als-iterations", type=int, default=15)
    args = parser.parse_args()

    from recommender.baselines import ALSRecommender
    from recommender.collaborative import NMFRecommender

    matrix = synthetic(args.scale)
    print(f"matrix {matrix.shape[0]:,} x {matrix.shape[1]:,}, {matrix.nnz:,} ratings")
    started = time.perf_counter()
    als = ALSRecommender(factors=args.factors, iterations=args.als_iterations).fit(matrix)
    als_s = time.perf_counter() - started
    # numba compiles the NMF kernel once per process: timed apart so the fit figure is the fit.
    started = time.perf_counter()
    NMFRecommender(factors=2, iterations=1).fit(matrix[:50])
    compile_s = time.perf_counter() - started
    started = time.perf_counter()
    nmf = NMFRecommender(factors=args.factors, iterations=args.nmf_iterations).fit(matrix)
    nmf_s = time.perf_counter() - started
    als_it, nmf_it = als_s / args.als_iterations, nmf_s / args.nmf_iterations
    print(f"implicit ALS k={args.factors}, {args.als_iterations} it: {als_s:.1f} s ({als_it:.2f} s/it)")
    print(f"our NMF      k={args.factors}, {args.nmf_iterations} it: {nmf_s:.1f} s ({nmf_it:.2f} s/it; "
          f"+ {compile_s:.1f} s one-off JIT compile)")
    print(f"ratio NMF/ALS: fit {nmf_s / als_s:.2f}, per iteration {nmf_it / als_it:.2f}")
    rows = matrix[:200]
    started = time.perf_counter()
    for i in range(200):
        nmf.recommend(None, rows[i], N=10)
    print(f"NMF fold-in + top-10 of a new user: {(time.perf_counter() - started) / 200 * 1000:.1f} ms")
    del als
    started = time.perf_counter()
    n_users = 0
    for users, _, _ in nmf.recommend_all(matrix[:20_000], N=10):
        n_users += len(users)
    per_user = (time.perf_counter() - started) / n_users
    print(f"NMF batch top-10: {per_user * 1e6:.0f} us/user -> {per_user * 325_000 / 60:.1f} min for 325k users")


if __name__ == "__main__":
    main()
