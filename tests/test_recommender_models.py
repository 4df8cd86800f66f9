"""Unit tests of the recommender estimators (issue 5): shapes, non-negativity, determinism, filtering.

The data is a small synthetic user x anime matrix with two taste groups, so "learns something" is
checkable: a user of group A must be recommended group-A anime.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.base import taste_weights, top_n
from recommender.baselines import (
    ALSRecommender,
    EASERecommender,
    PopularityRecommender,
    SeedNMFRecommender,
    ease_weights,
)
from recommender.collaborative import NMFRecommender
from recommender.content import ContentRecommender
from recommender.hybrid import HybridRecommender, standardise
from recommender.kernels import (
    gram_upper,
    largest_per_row,
    row_top_n,
    sparse_dense,
    sparse_sparse,
    standardise_rows,
    top_shares,
)
from recommender.text import clean_synopsis, split_tags, tokenize

N_USERS, N_ITEMS, COLD_ITEM = 60, 30, 29
GROUP_A = np.arange(0, 14)  # anime 0-13 liked by users 0-29
GROUP_B = np.arange(14, 28)  # anime 14-27 liked by users 30-59; 28 is rare, 29 is never rated

SYNOPSES = (
    ["A giant robot pilot fights alien mecha in space battles with the federation fleet."] * 14
    + ["A quiet high school romance: two classmates fall in love during the summer festival."] * 14
    + ["(Source: ANN)", "[Written by MAL Rewrite]"]
)
GENRES = ["Mecha, Sci-Fi"] * 14 + ["Romance, School"] * 14 + ["", ""]


def make_matrix(seed: int = 0) -> sp.csr_matrix:
    """Each user rates ~9 anime of their group (high scores) and ~2 of the other (low scores)."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for user in range(N_USERS):
        own, other = (GROUP_A, GROUP_B) if user < N_USERS // 2 else (GROUP_B, GROUP_A)
        for item in rng.choice(own, 9, replace=False):
            rows.append(user), cols.append(item), vals.append(rng.integers(7, 11))
        for item in rng.choice(other, 2, replace=False):
            rows.append(user), cols.append(item), vals.append(rng.integers(1, 5))
    rows.append(0), cols.append(28), vals.append(5)
    return sp.csr_matrix((np.array(vals, np.float32), (rows, cols)), shape=(N_USERS, N_ITEMS))


@pytest.fixture(scope="module")
def matrix() -> sp.csr_matrix:
    return make_matrix()


def _factories() -> dict[str, tuple]:
    item_data = {"synopses": SYNOPSES, "genres": GENRES}
    return {
        "popularity": (lambda: PopularityRecommender(), {}),
        "ease": (lambda: EASERecommender(l2=10.0), {}),
        "ease_weighted": (lambda: EASERecommender(l2=10.0, beta=0.3), {}),
        "als": (lambda: ALSRecommender(factors=8, iterations=5, random_state=0, num_threads=1), {}),
        "nmf_seed": (lambda: SeedNMFRecommender(random_state=0), {}),
        "nmf": (lambda: NMFRecommender(factors=8, l2=1.0, iterations=8, random_state=0), {}),
        "content": (lambda: ContentRecommender(n_topics=2, min_df=1, max_df=1.0), item_data),
        "hybrid": (lambda: HybridRecommender(
            nmf=NMFRecommender(factors=8, l2=1.0, iterations=5), ease=EASERecommender(l2=10.0, beta=0.3),
            content=ContentRecommender(n_topics=2, min_df=1, max_df=1.0)), item_data),
    }


FACTORIES = _factories()


@pytest.fixture(scope="module")
def fitted(matrix: sp.csr_matrix) -> dict[str, object]:
    return {name: make().fit(matrix, **data) for name, (make, data) in FACTORIES.items()}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_recommend_shapes_and_listed_items_excluded(name: str, fitted: dict, matrix: sp.csr_matrix) -> None:
    model = fitted[name]
    ids, scores = model.recommend(3, matrix[3], N=5)
    assert ids.shape == (5,) and scores.shape == (5,)
    assert not set(ids) & set(matrix[3].indices), "a rated anime was recommended"
    assert np.all(np.diff(scores) <= 1e-6), "scores must come best first"
    batch_ids, batch_scores = model.recommend(np.arange(10), matrix[:10], N=7)
    assert batch_ids.shape == (10, 7) and batch_scores.shape == (10, 7)
    for row in range(10):
        assert not set(batch_ids[row]) & set(matrix[row].indices)
    # The full training matrix is accepted too (implicit's older calling style).
    full_ids, _ = model.recommend(np.array([3]), matrix, N=5)
    np.testing.assert_array_equal(full_ids[0], ids)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_listed_but_unscored_items_are_never_recommended(name: str, fitted: dict, matrix: sp.csr_matrix) -> None:
    model = fitted[name]
    best, _ = model.recommend(5, matrix[5], N=3)
    # Plan-to-watch entry stored as an explicit 0 in the row...
    coo = matrix[5].tocoo()
    row = sp.csr_matrix((np.append(coo.data, 0.0), (np.append(coo.row, 0), np.append(coo.col, best[0]))),
                        shape=(1, N_ITEMS))
    assert row.nnz == matrix[5].nnz + 1
    ids, _ = model.recommend(5, row, N=3)
    assert best[0] not in ids
    # ... or given separately as the listed mask.
    listed = sp.csr_matrix(([1.0], ([0], [best[1]])), shape=(1, N_ITEMS))
    ids, _ = model.recommend(5, matrix[5], N=3, listed=listed)
    assert best[1] not in ids


@pytest.mark.parametrize("name", list(FACTORIES))
def test_determinism_with_a_seed(name: str, matrix: sp.csr_matrix) -> None:
    make, data = FACTORIES[name]
    a = make().fit(matrix, **data).score(np.arange(N_USERS), matrix)
    b = make().fit(matrix, **data).score(np.arange(N_USERS), matrix)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_cold_items_and_fold_in(name: str, fitted: dict, matrix: sp.csr_matrix) -> None:
    model = fitted[name]
    scores = model.score(np.arange(N_USERS), matrix)
    assert scores.shape == (N_USERS, N_ITEMS)
    assert np.isfinite(scores).all(), "an anime nobody rated must still get a finite score"
    new_user = sp.csr_matrix((np.array([9, 10, 8], np.float32), ([0, 0, 0], [0, 1, 2])), shape=(1, N_ITEMS))
    ids, new_scores = model.recommend(None, new_user, N=4)
    assert ids.shape == (1, 4) and np.isfinite(new_scores).all()
    assert not set(ids[0]) & {0, 1, 2}
    empty = sp.csr_matrix((1, N_ITEMS), dtype=np.float32)
    ids, _ = model.recommend(None, empty, N=4)
    assert ids.shape == (1, 4)
    sim_ids, sim_scores = model.similar_items(0, N=3)
    assert sim_ids.shape == (3,) and np.isfinite(sim_scores).all()


@pytest.mark.parametrize("name", ["ease", "ease_weighted", "nmf", "content", "hybrid"])
def test_models_learn_the_taste_groups(name: str, fitted: dict, matrix: sp.csr_matrix) -> None:
    model = fitted[name]
    ids, _ = model.recommend(np.arange(N_USERS), matrix, N=3)
    in_group = [np.isin(ids[u], GROUP_A if u < N_USERS // 2 else GROUP_B).mean() for u in range(N_USERS)]
    assert np.mean(in_group) > 0.9, f"{name} recommends across taste groups: {np.mean(in_group):.2f}"


def test_nmf_factors_are_non_negative_and_fold_in_matches_fit(fitted: dict, matrix: sp.csr_matrix) -> None:
    model = fitted["nmf"]
    assert model.user_factors_.shape == (N_USERS, 8) and model.item_factors_.shape == (N_ITEMS, 8)
    assert (model.user_factors_ >= 0).all() and (model.item_factors_ >= 0).all()
    assert np.allclose(model.item_factors_[COLD_ITEM], 0, atol=1e-3), "an unrated anime has no taste weight"
    folded = model.fold_in(matrix[:10])
    assert (folded >= 0).all()
    # After convergence the fold-in is the fit's own user step: scores agree closely.
    known = model.score(np.arange(10), matrix[:10])
    new = model.score(None, matrix[:10])
    assert np.corrcoef(known.ravel(), new.ravel())[0, 1] > 0.99


@pytest.mark.parametrize("extra", [{}, {"missing_exponent": 0.5, "missing_weight": 0.5}],
                         ids=["uniform", "scaled"])
def test_nmf_compiled_kernel_matches_numpy_reference(extra: dict) -> None:
    """The numba row kernel must compute the same model as the vectorised numpy sweep.

    A random matrix (uneven rows, an empty user and an unrated item) at k=6 over 6 iterations: the
    two paths do the same updates in a different summation order, so they agree to float32 noise.
    A wrong index, a stale prediction or a skipped coordinate moves the factors by far more. Also with
    popularity-weighted missing data (``missing_exponent``: a per-row weight on each side).
    """
    rng = np.random.default_rng(3)
    matrix = sp.random(80, 40, density=0.15, random_state=4, format="lil", dtype=np.float32)
    matrix[7, :] = 0  # a user with no ratings
    matrix[:, 11] = 0  # an anime nobody rated
    matrix = matrix.tocsr()
    matrix.eliminate_zeros()
    matrix.data = rng.integers(1, 11, matrix.nnz).astype(np.float32)
    compiled = NMFRecommender(factors=6, l2=1.0, alpha=2.0, iterations=6, **extra).fit(matrix)
    reference = NMFRecommender(factors=6, l2=1.0, alpha=2.0, iterations=6, **extra)
    reference._kernel = "numpy"
    reference.fit(matrix)
    assert compiled._kernel == "numba" and reference._kernel == "numpy"
    start = NMFRecommender(factors=6, iterations=0).fit(matrix)
    assert np.abs(reference.user_factors_ - start.user_factors_).max() > 0.1, "the fit must move the factors"
    np.testing.assert_allclose(compiled.user_factors_, reference.user_factors_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(compiled.item_factors_, reference.item_factors_, rtol=1e-4, atol=1e-5)


def test_nmf_popularity_weighted_missing_data_and_fold_in(matrix: sp.csr_matrix) -> None:
    """missing_exponent > 0 weights an unrated popular anime more (mean weight = missing_weight), and
    the fold-in solves the same weighted user step as the fit."""
    model = NMFRecommender(factors=8, l2=1.0, iterations=30, missing_exponent=0.5, missing_weight=0.5).fit(matrix)
    counts = np.bincount(matrix.indices, minlength=N_ITEMS)
    assert model.item_missing_.mean() == pytest.approx(0.5)
    assert model.item_missing_[np.argmax(counts)] > model.item_missing_[COLD_ITEM]
    assert (model.user_factors_ >= 0).all() and (model.item_factors_ >= 0).all()
    known = model.score(np.arange(10), matrix[:10])
    new = model.score(None, matrix[:10])
    assert np.corrcoef(known.ravel(), new.ravel())[0, 1] > 0.99
    uniform = NMFRecommender(factors=8, l2=1.0, iterations=30).fit(matrix)
    assert np.allclose(uniform.item_missing_, 1.0)


def test_nmf_rejects_bad_input(matrix: sp.csr_matrix) -> None:
    bad = matrix.copy()
    bad.data[0] = -1
    with pytest.raises(ValueError, match="negative"):
        NMFRecommender(factors=2).fit(bad)
    with pytest.raises(TypeError):
        NMFRecommender(factors=2).fit(matrix.toarray())
    model = NMFRecommender(factors=2, iterations=2).fit(matrix)
    with pytest.raises(ValueError, match="item columns"):
        model.recommend(0, matrix[:, :10])
    with pytest.raises(ValueError, match="not seen in fit"):
        model.recommend(np.array([N_USERS + 5]), sp.csr_matrix((1, N_ITEMS)))


def test_recommend_all_chunks_cover_every_user(fitted: dict, matrix: sp.csr_matrix) -> None:
    chunks = list(fitted["ease"].recommend_all(matrix, N=4, batch_size=16))
    users = np.concatenate([users for users, _, _ in chunks])
    np.testing.assert_array_equal(users, np.arange(N_USERS))
    assert all(ids.shape == (len(u), 4) for u, ids, _ in chunks)


def test_ease_is_the_closed_form(matrix: sp.csr_matrix) -> None:
    model = EASERecommender(l2=5.0).fit(matrix)
    x = (matrix > 0).astype(np.float64).toarray()
    p = np.linalg.inv(x.T @ x + 5.0 * np.eye(N_ITEMS))
    expected = -p / np.diag(p)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.item_weights_, expected, atol=1e-4)


def test_compiled_sparse_kernels_match_scipy() -> None:
    rng = np.random.default_rng(3)
    x = sp.random(300, 130, density=0.08, format="csr", random_state=4, dtype=np.float32)
    x.data = rng.uniform(0.05, 2.0, x.nnz).astype(np.float32)
    x.has_sorted_indices = False  # the kernels must not rely on it
    gram = gram_upper(x)
    exact = (x.astype(np.float64).T @ x.astype(np.float64)).toarray()
    np.testing.assert_allclose(gram, np.triu(exact), rtol=1e-5, atol=1e-5)
    assert gram.dtype == np.float32 and not np.tril(gram, -1).any()
    dense = rng.standard_normal((130, 70)).astype(np.float32)
    np.testing.assert_allclose(sparse_dense(x, dense), x.astype(np.float64) @ dense, rtol=1e-4, atol=1e-4)
    assert sparse_dense(sp.csr_matrix((0, 130), dtype=np.float32), dense).shape == (0, 70)
    with pytest.raises(ValueError, match="align"):
        sparse_dense(x, dense[:5])


def test_largest_per_row_keeps_each_rows_strongest_entries() -> None:
    rng = np.random.default_rng(7)
    block = rng.standard_normal((60, 45)).astype(np.float32)
    block[3] = 0.0  # nothing to keep
    block[4, :] = 0.5  # all tied: the lowest columns
    block[5, :30] = 0.0  # fewer non-zeros than k
    pruned = largest_per_row(block, 20)
    assert pruned.has_sorted_indices and pruned.dtype == np.float32
    for r in range(60):
        nonzero = np.flatnonzero(block[r])
        expected = sorted(sorted(nonzero, key=lambda j: (-abs(block[r, j]), j))[:20])
        assert pruned[r].indices.tolist() == expected, r
        np.testing.assert_array_equal(pruned[r].data, block[r, expected])
    np.testing.assert_array_equal(largest_per_row(block, 100).toarray(), block)  # k >= columns: all of it


def test_sparse_scoring_and_shares_match_the_dense_kernels() -> None:
    rng = np.random.default_rng(8)
    x = sp.random(50, 40, density=0.15, format="csr", random_state=9, dtype=np.float32)
    x.data = rng.uniform(0.05, 2.0, x.nnz).astype(np.float32)
    weights = largest_per_row(rng.standard_normal((40, 40)).astype(np.float32), 6)
    np.testing.assert_allclose(sparse_sparse(x, weights), (x @ weights).toarray(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="align"):
        sparse_sparse(x, weights[:5])
    tops = rng.integers(0, 40, (50, 8))
    content = {"content_rows": x.indices, "content_coef": x.data * 0.5, "tops_in_sims": tops}
    dense = top_shares(x.indptr, x.indices, x.data, weights.toarray(), tops, 3, sims=weights.toarray(), **content)
    sparse = top_shares(x.indptr, x.indices, x.data, weights, tops, 3, sims=weights, **content)
    np.testing.assert_array_equal(sparse, dense)
    assert (dense[:, :, 0] >= 0).any()


def test_pruned_ease_and_content_score_with_the_pruned_matrices(matrix: sp.csr_matrix) -> None:
    item_data = {"synopses": SYNOPSES, "genres": GENRES}
    exact_ease = EASERecommender(l2=10.0, beta=0.3).fit(matrix)
    exact_content = ContentRecommender(n_topics=2, min_df=1, max_df=1.0).fit(matrix, **item_data)
    # Keeping every neighbour is the exact model.
    whole_ease = EASERecommender(l2=10.0, beta=0.3, neighbours=N_ITEMS).fit(matrix)
    whole_content = ContentRecommender(n_topics=2, min_df=1, max_df=1.0, neighbours=N_ITEMS).fit(matrix, **item_data)
    np.testing.assert_allclose(whole_ease.score(None, matrix), exact_ease.score(None, matrix), atol=1e-5)
    np.testing.assert_allclose(whole_content.score(None, matrix), exact_content.score(None, matrix), atol=1e-5)
    # Pruned: the scores are the products with the pruned matrices, which keep k entries a row.
    ease = EASERecommender(l2=10.0, beta=0.3, neighbours=5).fit(matrix)
    assert sp.issparse(ease.item_weights_) and np.diff(ease.item_weights_.indptr).max() <= 5
    np.testing.assert_allclose(ease.item_weights_.toarray(),
                               largest_per_row(exact_ease.item_weights_, 5).toarray(), atol=1e-6)
    expected = (taste_weights(matrix, 0.3) @ ease.item_weights_).toarray()
    np.testing.assert_allclose(ease.score(None, matrix), expected, atol=1e-5)
    items, shares = ease.contributions(matrix[0], 3)
    expected_shares = taste_weights(matrix[0], 0.3).data * ease.item_weights_[items, 3].toarray().ravel()
    np.testing.assert_allclose(shares, expected_shares)
    content = ContentRecommender(n_topics=2, min_df=1, max_df=1.0, neighbours=5).fit(matrix, **item_data)
    sims = (content.item_vectors_ @ content.item_vectors_.T).toarray()
    np.testing.assert_allclose(content.item_neighbours_.toarray(), largest_per_row(sims, 5).toarray(), atol=1e-6)
    weights = taste_weights(matrix, content.beta)
    expected = (weights @ content.item_neighbours_).toarray() / content.profile_norms(weights)[:, None]
    np.testing.assert_allclose(content.score(None, matrix), expected, atol=1e-5)
    np.testing.assert_allclose(content.item_similarity(np.arange(N_ITEMS), 2),
                               content.item_neighbours_[:, 2].toarray().ravel())
    # Still a recommender: a group-A user gets group-A anime.
    ids, _ = ease.recommend(0, matrix[0], N=3)
    assert set(ids) <= set(GROUP_A) | {28}


def test_top_n_kernels_accept_n_zero() -> None:
    scores = np.random.default_rng(2).standard_normal((4, 9)).astype(np.float32)
    ids, best = row_top_n(scores, None, 0)
    assert ids.shape == best.shape == (4, 0)
    x = sp.csr_matrix(scores > 1.0, dtype=np.float32)
    why = top_shares(x.indptr, x.indices, x.data, np.eye(9, dtype=np.float32), np.zeros((4, 0), int), 3)
    assert why.shape == (4, 0, 3)


def test_row_top_n_and_standardise_match_numpy() -> None:
    rng = np.random.default_rng(5)
    scores = rng.standard_normal((40, 90)).astype(np.float32)
    scores[3, :] = 1.0  # all ties: lower columns first
    exclude = sp.random(40, 90, density=0.3, format="lil", random_state=6)
    exclude[7, :] = 1.0  # nothing left for row 7: padded
    exclude = sp.csr_matrix(exclude)
    ids, best = row_top_n(scores, exclude, 10)
    for u in range(40):
        allowed = np.setdiff1d(np.arange(90), exclude[u].indices)
        expected = allowed[np.argsort(-scores[u, allowed], kind="stable")][:10]
        got = ids[u][ids[u] >= 0]
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(best[u][: len(got)], scores[u, expected])
    assert (ids[7] == -1).all() and np.isneginf(best[7]).all()
    np.testing.assert_array_equal(ids[3], np.setdiff1d(np.arange(90), exclude[3].indices)[:10])
    z, stds = standardise_rows(scores.copy())
    np.testing.assert_allclose(stds[:3], scores[:3].std(axis=1), rtol=1e-5)
    assert stds[3] == 1.0
    reference = (scores - scores.mean(axis=1, keepdims=True)) / np.where(
        scores.std(axis=1, keepdims=True) == 0, 1, scores.std(axis=1, keepdims=True))
    np.testing.assert_allclose(z, reference, atol=1e-5)
    assert not z[3].any(), "a constant row carries no signal: zeros, not NaN"


def test_ease_weights_in_place_equal_the_copying_path(matrix: sp.csr_matrix) -> None:
    gram = gram_upper(taste_weights(matrix, 0.2))
    full = np.triu(gram) + np.triu(gram, 1).T  # a symmetric input goes the copying path
    copied = ease_weights(full, 30.0)
    in_place = ease_weights(gram, 30.0, overwrite=True)
    assert np.shares_memory(in_place, gram), "the fit must not hold a second n x n matrix"
    np.testing.assert_allclose(in_place, copied, atol=1e-6)


def test_popularity_counts_raters(matrix: sp.csr_matrix) -> None:
    model = PopularityRecommender().fit(matrix)
    np.testing.assert_array_equal(model.item_counts_, np.asarray((matrix > 0).sum(axis=0)).ravel())


def test_content_topics_are_non_negative(fitted: dict) -> None:
    model = fitted["content"]
    assert model.item_topics_.shape == (N_ITEMS, 2)
    assert (model.item_topics_ >= 0).all()
    assert len(model.topics_) == 2 and all(model.topics_)
    # Boilerplate-only synopses and no genres: a zero vector, so score 0 for everyone.
    assert model.item_vectors_[COLD_ITEM].nnz == 0
    assert {"mecha", "romanc"} <= {word for topic in model.topics_ for word in topic}


def test_hybrid_adventurousness_extremes_and_explanations(fitted: dict, matrix: sp.csr_matrix) -> None:
    model = fitted["hybrid"]
    parts = model.component_scores(matrix[:5], np.arange(5))
    np.testing.assert_allclose(model.blend(parts, 0.0), parts["content"])
    collab = model.blend(parts, 1.0)
    expected = (1 - model.nmf_weight) * parts["ease"] + model.nmf_weight * parts["nmf"]
    np.testing.assert_allclose(collab, expected, rtol=1e-5)
    ids, _ = model.recommend(0, matrix[0], N=3)
    why = model.explain(matrix[0], int(ids[0]), n=2)
    assert 1 <= len(why) <= 2
    assert all(item in set(matrix[0].indices) for item, _ in why)
    assert all(share > 0 for _, share in why)
    with pytest.raises(ValueError, match="adventurousness"):
        HybridRecommender(adventurousness=1.5).fit(matrix)


def test_hybrid_without_content_uses_collaborative_only(matrix: sp.csr_matrix) -> None:
    model = HybridRecommender(adventurousness=0.0, nmf_weight=0.0, ease=EASERecommender(l2=10.0)).fit(matrix)
    assert model.content_ is None and model.nmf_ is None
    np.testing.assert_allclose(model.score(np.arange(5), matrix[:5]),
                               standardise(model.ease_.score(np.arange(5), matrix[:5])), rtol=1e-5)


def test_taste_weights_centre_on_the_users_mean() -> None:
    row = sp.csr_matrix(np.array([[10, 6, 0, 2]], np.float32))
    weights = taste_weights(row, beta=0.25)
    np.testing.assert_allclose(weights.toarray(), [[1 + 0.25 * 4, 1.0, 0.0, 0.05]])


def test_top_n_pads_rather_than_recommending_listed_items() -> None:
    scores = np.array([[0.1, 0.9, 0.5]])
    exclude = sp.csr_matrix(np.array([[0, 1, 1]]))
    ids, best = top_n(scores, exclude, 2)
    assert ids.tolist() == [[0, -1]]


def test_text_preprocessing_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import nltk

    def no_download(*_: object, **__: object) -> None:
        raise AssertionError("nltk.download must never be called")

    monkeypatch.setattr(nltk, "download", no_download)
    text = ("Spike and Jet are running after bounties in <i>space</i>. (Source: ANN)\n"
            "[Written by MAL Rewrite]")
    assert "source" not in clean_synopsis(text) and "rewrite" not in clean_synopsis(text)
    tokens = tokenize(text)
    assert "run" in tokens and "bounti" in tokens and "space" in tokens
    assert not {"and", "are", "in", "the", "ann"} & set(tokens)
    assert tokenize(None) == [] and clean_synopsis(float("nan")) == ""
    assert split_tags("Action, Sci-Fi") == ["action", "sci-fi"]
    assert split_tags(["Slice of Life"]) == ["slice_of_life"]


@pytest.mark.parametrize("name", ["ease", "nmf", "content"])
def test_similar_items_stay_in_the_taste_group(name: str, fitted: dict) -> None:
    ids, scores = fitted[name].similar_items(0, N=5)
    assert ids[0] == 0 and scores[0] == pytest.approx(1.0, abs=1e-4)  # itself first, as in implicit
    assert np.isin(ids, GROUP_A).mean() >= 0.8
    many, _ = fitted[name].similar_items(np.array([0, 20]), N=5)
    assert many.shape == (2, 5) and np.isin(many[1], GROUP_B).mean() >= 0.8
