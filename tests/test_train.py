"""The training job end to end on real MAL lists in a real local MongoDB-compatible server (issue 6):
publishing, atomic switch-over (including a job killed mid-publish), artefacts, topics and fold-in."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from mal_sample import mal_ratings, user_entries, write_mal_slice

from pipeline.store import ANIME, RUNS
from recommender import query
from recommender.publish import FAIL_ENV, LIVE_ID, PAUSE_ENV, PREFIX, PublishError, live_pointer
from recommender.scoring import HybridScorer
from recommender.train import live_model, train

ROOT = Path(__file__).resolve().parents[1]
USERS = 60
LIGHT = {"content": {"n_topics": 8}}  # a smaller topic model: the suite tests the job, not the model


@pytest.fixture
def mal_db(mongo_db, shared_dir):
    names = write_mal_slice(mongo_db, shared_dir, users=USERS)
    return mongo_db, names


@pytest.fixture(scope="module")
def fitted(shared_dir):
    """One hybrid fitted on the slice, reused by the tests of publishing mechanics (``train(fit=...)``)."""
    ratings, anime = mal_ratings(shared_dir, USERS)
    scorer = HybridScorer(**LIGHT).fit(ratings.scores, ratings.anime_ids, anime)

    def fit(read_ratings, read_anime, params):
        # The job must have read back exactly what was written: same users, anime and entries.
        assert read_ratings.user_ids.tolist() == ratings.user_ids.tolist()
        assert (read_ratings.scores != ratings.scores).nnz == 0
        return scorer, scorer.default_adventurousness
    return fit


def _listed(db, username):
    return {e["anime_id"] for e in db["animelists"].find_one({"_id": username})["entries"]}


def test_train_publishes_every_user_with_explanations_topics_and_a_run_record(mal_db, tmp_path):
    db, names = mal_db
    result = train(db, n=20, artifacts_dir=tmp_path, progress=False, model_params=LIGHT)

    assert result.users == len(names) and result.published == len(names)
    pointer = live_pointer(db)
    assert pointer["run_id"] == result.run_id and pointer["collection"] == PREFIX + result.run_id
    run = db[RUNS].find_one({"_id": result.run_id})
    assert run["status"] == "published" and run["params"]["n"] == 20
    assert set(run["stage_seconds"]) >= {"read", "fit", "topics", "publish"}
    assert Path(run["artifact"]).is_file()

    anime_ids = set(db[ANIME].distinct("_id"))
    for username in names[:10]:
        doc = db[pointer["collection"]].find_one({"_id": username})
        items = doc["items"]
        assert len(items) == 20
        ids = [it["anime_id"] for it in items]
        assert len(set(ids)) == 20 and set(ids) <= anime_ids
        assert not set(ids) & _listed(db, username), "a listed anime was recommended"
        assert [it["score"] for it in items] == sorted((it["score"] for it in items), reverse=True)
        a = run["params"]["adventurousness"]
        for it in items:
            assert it["score"] == pytest.approx(query.blend(it["cf"], it["content"], a), abs=1e-4)
            assert set(it["why"]) <= _listed(db, username)  # explained by anime the user rated
        assert any(it["why"] for it in items)
    # The view users query with plain pymongo serves the same documents.
    assert db["recommendations"].find_one({"_id": names[0]})["run_id"] == result.run_id
    # Topic vectors were written onto the anime.
    with_topics = db[ANIME].count_documents({"topics": {"$exists": True}})
    assert with_topics == db[ANIME].count_documents({})
    assert len(db[ANIME].find_one({"topics": {"$exists": True}})["topics"]) > 1


def test_a_new_run_switches_over_and_keeps_only_the_previous_version(mal_db, tmp_path, fitted):
    db, names = mal_db
    first = train(db, n=5, artifacts_dir=tmp_path, progress=False, write_anime_topics=False, fit=fitted)
    second = train(db, n=5, artifacts_dir=tmp_path, progress=False, write_anime_topics=False, fit=fitted)
    assert live_pointer(db)["run_id"] == second.run_id
    assert live_pointer(db)["previous_run_id"] == first.run_id
    assert PREFIX + first.run_id in db.list_collection_names()  # a reader holding the old pointer still works
    third = train(db, n=5, artifacts_dir=tmp_path, progress=False, write_anime_topics=False, fit=fitted)
    versions = sorted(c for c in db.list_collection_names() if c.startswith(PREFIX))
    assert versions == [PREFIX + second.run_id, PREFIX + third.run_id]
    # The saved models follow the published sets: the dropped run's is removed, the other two stay.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([second.run_id, third.run_id])


def test_a_failed_publish_leaves_the_previous_set_live(mal_db, tmp_path, monkeypatch, fitted):
    db, names = mal_db
    first = train(db, n=5, artifacts_dir=tmp_path, progress=False, write_anime_topics=False, fit=fitted)
    before = query.recommend_stored(db, names[0], 5)
    monkeypatch.setenv(FAIL_ENV, "1")
    with pytest.raises(PublishError):
        train(db, n=5, artifacts_dir=tmp_path, progress=False, batch_size=10, write_anime_topics=False, fit=fitted)
    assert live_pointer(db)["run_id"] == first.run_id
    failed = db[RUNS].find_one({"status": "failed"})
    assert failed and "PublishError" in failed["error"]
    assert PREFIX + failed["_id"] not in db.list_collection_names()  # the partial set was dropped
    assert query.recommend_stored(db, names[0], 5) == before


def test_killing_the_job_mid_publish_keeps_serving_the_previous_set(mal_db, mongo_uri, tmp_path, fitted):
    db, names = mal_db
    first = train(db, n=5, artifacts_dir=tmp_path, progress=False, write_anime_topics=False, fit=fitted)
    before = {u: query.recommend_stored(db, u, 5) for u in names}

    env = {**os.environ, "MONGO_URI": mongo_uri, PAUSE_ENV: "2", "ANIMEREC_ARTIFACTS": str(tmp_path)}
    job = subprocess.Popen([sys.executable, "-m", "recommender.cli", "train", "--n", "5", "--batch-size", "10",
                            "--topics", "8"],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        for line in job.stderr:  # the hook announces the pause once 2 batches (20 users) are written
            if "publish: paused after 2 batches" in line:
                break
            assert time.monotonic() < deadline, "the job never reached the publish pause"
        else:
            pytest.fail(f"the job ended before publishing (exit {job.wait()})")
        partial = [c for c in db.list_collection_names() if c.startswith(PREFIX) and c != PREFIX + first.run_id]
        assert len(partial) == 1 and db[partial[0]].count_documents({}) == 20  # half-written: a real mid-publish
        assert live_pointer(db)["run_id"] == first.run_id
        job.send_signal(signal.SIGKILL)
        job.wait(timeout=30)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
        job.stderr.close()
        job.stdout.close()
    assert job.returncode == -signal.SIGKILL
    # Readers still get the complete previous set, for every user.
    assert live_pointer(db)["run_id"] == first.run_id
    assert {u: query.recommend_stored(db, u, 5) for u in names} == before
    assert db["recommendations"].count_documents({}) == len(names)
    # The next good run takes over and cleans the orphan up.
    third = train(db, n=5, artifacts_dir=tmp_path, progress=False, write_anime_topics=False, fit=fitted)
    assert live_pointer(db)["run_id"] == third.run_id
    assert partial[0] not in db.list_collection_names()


def test_fold_in_agrees_with_the_stored_list_of_an_unchanged_user(mal_db, tmp_path, fitted):
    db, names = mal_db
    train(db, n=20, artifacts_dir=tmp_path, progress=False, write_anime_topics=False, fit=fitted)
    model = live_model(db)
    for username in names[:8]:
        stored = query.recommend_stored(db, username, 10)
        fresh = query.recommend_for_list(model, user_entries(db, username), 10)
        stored_ids = [r["anime_id"] for r in stored]
        fresh_ids = [r["anime_id"] for r in fresh]
        # The collaborative NMF part uses the learned user factors in the batch and a fresh exact
        # least-squares step for a new list; everything else is the same computation.
        assert len(set(stored_ids) & set(fresh_ids)) >= 9, (stored_ids, fresh_ids)
        assert stored_ids[:3] == fresh_ids[:3]
        np.testing.assert_allclose([r["content"] for r in stored if r["anime_id"] in fresh_ids],
                                   [next(f["content"] for f in fresh if f["anime_id"] == r["anime_id"])
                                    for r in stored if r["anime_id"] in fresh_ids], atol=1e-4)


def test_cli_train_then_recommend(mal_db, mongo_uri, tmp_path):
    db, names = mal_db
    env = {**os.environ, "MONGO_URI": mongo_uri}
    out = subprocess.run([sys.executable, "-m", "recommender.cli", "train", "--n", "10", "--topics", "8",
                          "--artifacts", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"{len(names)} users" in out.stdout and "time per stage" in out.stdout
    shown = subprocess.run([sys.executable, "-m", "recommender.cli", "recommend", names[0], "--n", "3"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    first = query.recommend_stored(db, names[0], 3)[0]
    assert first["title"] in shown.stdout
    listing = tmp_path / "list.csv"
    listing.write_text("anime_id,score,status\n" + "".join(
        f"{e['anime_id']},{e['score']},{e['status']}\n" for e in user_entries(db, names[0])))
    fresh = subprocess.run([sys.executable, "-m", "recommender.cli", "recommend", "--list", str(listing),
                            "--n", "3"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert fresh.returncode == 0, fresh.stderr
    assert first["title"] in fresh.stdout


def test_train_on_an_empty_store_says_what_to_do(mongo_db, tmp_path):
    with pytest.raises(RuntimeError, match="crawl some first"):
        train(mongo_db, artifacts_dir=tmp_path, progress=False)
    assert mongo_db[RUNS].find_one({"_id": {"$ne": LIVE_ID}})["status"] == "failed"
    assert live_pointer(mongo_db) is None



def test_recommend_fetch_crawls_a_new_users_list_then_folds_it_in(mal_db, mongo_uri, tmp_path, fitted):
    from crawler.replica.data import default_data_dir, is_private
    from crawler.replica.server import ReplicaServer

    db, names = mal_db
    train(db, n=10, artifacts_dir=tmp_path, progress=False, write_anime_topics=False, fit=fitted)
    with ReplicaServer(port=0, data_dir=default_data_dir()) as site:
        user = next(u for u in site.data.online_order
                    if not is_private(u.username) and 30 <= u.entry_count <= 300)
        listed = {e["anime_id"] for e in site.data.entries(user.username)}
        out = subprocess.run([sys.executable, "-m", "recommender.cli", "recommend", "--username", user.username,
                              "--fetch", "--base-url", site.base_url, "--n", "5", "--json"], cwd=ROOT,
                             env={**os.environ, "MONGO_URI": mongo_uri}, capture_output=True, text=True,
                             timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = json.loads(out.stdout)  # nothing but the JSON on stdout
    assert len(rows) == 5 and not {r["anime_id"] for r in rows} & listed
    assert db["animelists"].find_one({"_id": user.username}) is not None  # the crawl stored the list


@pytest.mark.parametrize("neighbours", [None, 20])
def test_batch_explanations_match_the_hybrids_own_explain(shared_dir, neighbours):
    """The vectorised `why` of a whole block equals HybridRecommender.explain, item by item, with the
    exact item x item matrices (None) and with them pruned to each anime's 20 strongest neighbours."""
    from recommender.artifacts import top_n

    ratings, anime = mal_ratings(shared_dir, USERS)
    parts = {"ease": {"neighbours": neighbours}, "content": {**LIGHT["content"], "neighbours": neighbours}}
    scorer = HybridScorer(**parts).fit(ratings.scores, ratings.anime_ids, anime)
    a = scorer.default_adventurousness
    assert (scorer.model_.content_.item_neighbours_ is None) == (neighbours is None)
    rows = np.arange(0, 40)
    block = ratings.scores[rows]
    components = []
    for threshold in (1, 10**9):  # the dense item x item path (big blocks) and the per-pair path (fold-in)
        scorer.__dict__.pop("_content_sim", None)
        scorer.dense_content_from_rows = threshold
        cf, content = scorer.score_components(block, ratings.statuses[rows], rows)
        components.append((cf.copy(), content.copy()))
        listed = block.copy()
        listed.data[:] = 1
        items = top_n(a * cf + (1 - a) * content, listed, 10)
        # The publishing path ranks in one compiled pass from the raw parts: the same lists and values.
        top = scorer.top_components(block, ratings.statuses[rows], 10, a, rows)
        np.testing.assert_array_equal(top["items"], items)
        for name, full in (("cf", cf), ("content", content), ("score", a * cf + (1 - a) * content)):
            np.testing.assert_allclose(top[name], np.take_along_axis(full, items, axis=1), atol=1e-5)
        why = scorer.explain(block, items)
        assert (why[:, :, 0] >= 0).mean() > 0.9  # nearly every item has a reason
        for u in range(0, why.shape[0], 3):
            for j, item in enumerate(items[u]):
                expected = [i for i, _ in scorer.model_.explain(block[u], int(item), n=3)]
                assert [w for w in why[u, j] if w >= 0] == expected, (threshold, u, item)
        # Pruned similarities serve every block: no dense n x n matrix is ever built.
        assert (scorer.__dict__.get("_content_sim") is None) == (threshold > 1 or neighbours is not None)
    for dense_path, sparse_path in zip(*components, strict=True):  # content via S = V V' equals via V
        np.testing.assert_allclose(dense_path, sparse_path, atol=2e-4)


def test_top_components_pads_when_fewer_anime_are_left_than_asked(shared_dir, fitted):
    ratings, _ = mal_ratings(shared_dir, USERS)
    scorer, a = fitted(ratings, None, {})
    n_items = ratings.scores.shape[1]
    listed_all_but_three = sp.csr_matrix((np.full(n_items - 3, 7, np.float32), np.arange(3, n_items),
                                          [0, n_items - 3]), shape=(1, n_items))
    top = scorer.top_components(listed_all_but_three, None, 10, a)
    assert set(top["items"][0, :3].tolist()) == {0, 1, 2}
    assert (top["items"][0, 3:] == -1).all() and np.isneginf(top["score"][0, 3:]).all()
    assert np.isfinite(top["score"][0, :3]).all() and (np.diff(top["score"][0, :3]) <= 0).all()
