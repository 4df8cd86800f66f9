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


def test_faulty_site_leads_to_retries_or_counted_failures_never_garbage(shared_dir, truth, mongo_uri, tmp_path):
    from crawler.replica.server import ReplicaServer

    users = ["user0", "user114", "user3", "user105", "user7", "nosuchuser"]  # > 300 entries, private, missing
    faults = {"error_rate": 0.15, "truncate_rate": 0.15, "captcha_rate": 0.05, "seed": 3}
    with ReplicaServer(port=0, data_dir=shared_dir / "data" / "mal", **faults) as site:
        results = run_crawl(["animelists", "anime"], mongo_uri=mongo_uri, base_url=site.base_url,
                            settings={**REPLICA_SETTINGS, "RETRY_TIMES": 2, "BUDGET_BAN_BACKOFF": 0.05,
                                      "BUDGET_BAN_BACKOFF_MAX": 0.5},
                            args={"usernames": ",".join(users)}, log_dir=tmp_path, echo=False)
        served = site.stats()
    assert served["errors"] > 0 and served["truncated"] > 0 and served["captchas"] > 0, "faults must have fired"
    lists_stage, anime_stage = results
    assert all(code == 0 for r in results for code in r.exit_codes)
    retries = sum(r.total("retry/count") for r in results)
    assert retries > 0

    db = connect(mongo_uri)
    states = {d["_id"]: d.get("list_status") for d in db.users.find()}
    lists = {d["_id"]: d["entries"] for d in db.animelists.find()}
    for name, entries in lists.items():  # whatever was stored is exactly the source
        assert entry_set(entries) == entry_set(truth.entries(name))
    for doc in db.anime.find():
        assert doc["title"] == truth.anime[doc["_id"]].title
        assert doc["members"] == truth.anime[doc["_id"]].members
    # Each user is stored, or its failure is counted; each listed anime likewise.
    failed_lists = lists_stage.total("crawler/pages_failed/animelist") + lists_stage.total("retry/max_reached")
    assert len([u for u in users if states.get(u)]) + failed_lists >= len(users)
    assert states.get("user105") in ("private", None) and states.get("nosuchuser") in ("missing", None)
    listed = {e["anime_id"] for entries in lists.values() for e in entries}
    failed_anime = anime_stage.total("crawler/pages_failed/anime") + anime_stage.total("retry/max_reached")
    assert db.anime.count_documents({}) + failed_anime >= len(listed)
    print("faults served:", {k: served[k] for k in ("errors", "truncated", "captchas")}, "retries:", retries,
          "failed lists:", failed_lists, "failed anime:", failed_anime, "anime stored:", db.anime.count_documents({}),
          "of", len(listed))
    assert db.anime.count_documents({}) > 0.8 * len(listed)
    db.client.close()


def test_browser_path_reads_the_rendered_list_page_and_stores_the_same_lists(replica, truth, mongo_uri, tmp_path):
    users = ["user0", "user105", "user7"]  # > 300 entries (the rest comes from load.json), private, short
    results = run_crawl(["animelists"], mongo_uri=mongo_uri, base_url=replica.base_url, settings=REPLICA_SETTINGS,
                        args={"usernames": ",".join(users), "via": "browser"}, log_dir=tmp_path, echo=False)
    stage = results[0]
    assert stage.total("browser/pages") == len(users), "each list page must have been rendered by Chromium"
    db = connect(mongo_uri)
    lists = {d["_id"]: d["entries"] for d in db.animelists.find()}
    assert set(lists) == {"user0", "user7"}
    for name, entries in lists.items():
        assert entry_set(entries) == entry_set(truth.entries(name))
    assert db.users.find_one({"_id": "user105"})["list_status"] == "private"
    db.client.close()
