"""The HTTP spiders crawl the local MAL replica into a real local MongoDB-compatible store.

Ground truth is the replica's own data (the shared MAL CSVs): what the crawl stores must equal it exactly.
"""

from __future__ import annotations

import pytest

from crawler.run import REPLICA_SETTINGS, run_crawl
from pipeline.store import connect

# users.php pages 22-24 of the replica: 60 users, among them a private one and several with > 300 entries.
FIRST_PAGE, PAGES = 22, 3


@pytest.fixture(scope="module")
def replica(shared_dir):
    from crawler.replica.server import ReplicaServer

    with ReplicaServer(port=0, data_dir=shared_dir / "data" / "mal") as site:
        yield site


@pytest.fixture(scope="module")
def truth(replica):
    return replica.data


def expected_users(data):
    order = data.online_order
    return [order[(FIRST_PAGE * 20 + k) % len(order)] for k in range(PAGES * 20)]


def entry_set(entries):
    return {(e["anime_id"], e["title"], e["score"], e["status"], e["episodes_watched"]) for e in entries}


def test_crawl_of_60_users_stores_exactly_the_source_and_nothing_twice(replica, truth, mongo_uri, tmp_path):
    from crawler.replica.data import is_private

    args = {"users_pages": PAGES, "users_first_page": FIRST_PAGE, "top_pages": 0}
    results = run_crawl(mongo_uri=mongo_uri, base_url=replica.base_url, settings=REPLICA_SETTINGS, args=args,
                        log_dir=tmp_path, echo=False)
    users = expected_users(truth)
    private = [u.username for u in users if is_private(u.username)]
    big = [u.username for u in users if u.entry_count > 300 and u.username not in private]
    assert private and big, "the chosen pages must hold a private user and one with > 300 entries"

    db = connect(mongo_uri)
    stored_users = {d["_id"]: d for d in db.users.find()}
    assert set(stored_users) == {u.username for u in users}
    for name in private:
        assert stored_users[name]["list_status"] == "private"
    lists = {d["_id"]: d["entries"] for d in db.animelists.find()}
    assert set(lists) == {u.username for u in users} - set(private)
    for name, entries in lists.items():
        assert stored_users[name]["list_status"] == "public"
        assert len(entries) == len(entry_set(entries)), f"{name}: an entry is stored twice"
        assert entry_set(entries) == entry_set(truth.entries(name)), f"{name}'s stored list differs from the source"
    assert any(len(lists[name]) > 300 for name in big)

    listed = {e["anime_id"] for entries in lists.values() for e in entries}
    anime = {d["_id"]: d for d in db.anime.find()}
    assert set(anime) == listed, "every listed anime is stored, and only those"
    for anime_id in sorted(listed)[:200]:
        source, doc = truth.anime[anime_id], anime[anime_id]
        assert (doc["title"], doc["type"], doc["episodes"], doc["score"], doc["members"], doc["studios"]) == (
            source.title, source.type, source.episodes, source.score, source.members, source.studios)
        assert doc["genres"] == source.genres and doc["themes"] == source.themes
        assert (doc["synopsis"] or None) == (source.synopsis or None) or doc["synopsis"].startswith(
            source.synopsis[:40])
    assert results[2].total("crawler/anime_pages") == len(listed)

    # A second run finds nothing due: no list or anime page is fetched again, nothing is duplicated.
    counts = {c: db[c].count_documents({}) for c in ("users", "animelists", "anime")}
    again = run_crawl(mongo_uri=mongo_uri, base_url=replica.base_url, settings=REPLICA_SETTINGS, args=args,
                      log_dir=tmp_path, echo=False)
    assert again[1].total("crawler/users_due") == 0 and again[1].total("pipeline/written/animelists") == 0
    assert again[2].total("crawler/anime_due") == 0 and again[2].total("downloader/response_count") <= 1
    assert {c: db[c].count_documents({}) for c in counts} == counts
    db.client.close()
