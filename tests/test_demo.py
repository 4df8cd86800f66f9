"""The main job end to end, as `make demo` runs it: the replica, two crawler workers sharing a local
Redis, training, publishing, and a user's recommendations read back from MongoDB."""

from __future__ import annotations

import pymongo

from recommender.cli import main
from recommender.query import recommend_stored


def test_demo_crawls_with_two_workers_trains_publishes_and_prints(shared_dir, mongo_uri, tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.setenv("MONGO_URI", mongo_uri)  # the demo writes into the test's database
    assert main(["demo", "--data", str(tmp_path), "--users-pages", "1", "--n", "5"]) == 0
    out = capsys.readouterr().out
    assert "crawl: users: " in out and "by 2 worker(s)" in out
    assert "Top 5 recommendations for " in out

    db = pymongo.MongoClient(mongo_uri).get_default_database()
    public = [d["_id"] for d in db.users.find({"list_status": "public"})]
    assert len(public) >= 15, "one users.php page holds 20 users, most of them public"
    live = db.runs.find_one({"_id": "live"})
    assert live and db.runs.find_one({"_id": live["run_id"]})["status"] == "published"
    for user in public:
        listed = {e["anime_id"] for e in db.animelists.find_one({"_id": user})["entries"]}
        rows = recommend_stored(db, user, n=10)
        assert len(rows) == 10
        assert not {r["anime_id"] for r in rows} & listed, f"{user} was recommended an anime already listed"
        assert all(r["title"] for r in rows)
        assert all(set(r["why_ids"]) <= listed for r in rows), "explanations must name anime the user rated"
    printed_user = out.split("Top 5 recommendations for ", 1)[1].split(",", 1)[0]
    assert recommend_stored(db, printed_user, n=5)[0]["title"] in out
    assert db.anime.count_documents({"topics": {"$exists": True}}) > 0
    db.client.close()
