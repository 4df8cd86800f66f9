"""The MongoDB layer against a real local wire-compatible server (no mocks)."""

from __future__ import annotations

import os
import random
import socket

import numpy as np
import pytest

from pipeline.embedded import LocalMongo
from pipeline.packed import FIELD as PACKED_FIELD
from pipeline.packed import packed_document, unpack_entries
from pipeline.readers import (
    anime_ids_due,
    packed_copy_is_complete,
    read_anime,
    read_ratings,
    rebuild_packed_lists,
)
from pipeline.store import ANIME, ANIMELISTS, PACKED_LISTS, USERS, connect, ensure_indexes, upsert_many
from pipeline.validation import ValidationError, validate_anime, validate_animelist, validate_user


def anime_doc(anime_id: int, **fields):
    item = {"anime_id": anime_id, "title": f"Show {anime_id}", "synopsis": "A story.", "genres": ["Drama"],
            "themes": [], "type": "TV", "episodes": 12, "aired": "2024", "studios": ["Studio"],
            "score": 7.5, "members": 1000, "image_url": None}
    item.update(fields)
    return validate_anime(item)


def test_same_anime_twice_gives_one_document_with_newer_fields(mongo_db):
    ensure_indexes(mongo_db)
    upsert_many(mongo_db, ANIME, [anime_doc(1, score=7.0)])
    mongo_db[ANIME].update_one({"_id": 1}, {"$set": {"topics": [0.1, 0.9]}})  # written by training
    upsert_many(mongo_db, ANIME, [anime_doc(1, score=8.25, members=2000)])
    docs = list(mongo_db[ANIME].find({"_id": 1}))
    assert len(docs) == 1
    assert docs[0]["score"] == 8.25 and docs[0]["members"] == 2000
    assert docs[0]["topics"] == [0.1, 0.9], "a re-crawl must not wipe fields other jobs wrote"


def test_recrawled_list_with_changed_scores_is_updated_not_duplicated(mongo_db):
    first = validate_animelist({"username": "alice", "entries": [
        {"anime_id": 1, "title": "A", "score": 5, "status": 2, "episodes_watched": 12}]})
    upsert_many(mongo_db, ANIMELISTS, [first])
    second = validate_animelist({"username": "alice", "entries": [
        {"anime_id": 1, "title": "A", "score": 9, "status": 2, "episodes_watched": 12},
        {"anime_id": 2, "title": "B", "score": 0, "status": 6, "episodes_watched": 0}]})
    upsert_many(mongo_db, ANIMELISTS, [second])
    assert mongo_db[ANIMELISTS].count_documents({}) == 1
    doc = mongo_db[ANIMELISTS].find_one({"_id": "alice"})
    assert [(e["anime_id"], e["score"]) for e in doc["entries"]] == [(1, 9), (2, 0)]


@pytest.mark.parametrize("entry, reason", [
    ({"anime_id": 1, "score": -1, "status": 2}, "bad_score"),
    ({"anime_id": 1, "score": 11, "status": 2}, "bad_score"),
    ({"anime_id": "12", "score": 5, "status": 2}, "bad_anime_id"),
    ({"anime_id": 1.5, "score": 5, "status": 2}, "bad_anime_id"),
    ({"score": 5, "status": 2}, "missing_anime_id"),
    ({"anime_id": 1, "score": 5, "status": 5}, "bad_status"),
])
def test_invalid_entries_are_rejected_with_a_reason(entry, reason):
    with pytest.raises(ValidationError) as info:
        validate_animelist({"username": "bob", "entries": [entry]})
    assert info.value.reason == reason
    assert reason.split("_", 1)[1] in str(info.value)


@pytest.mark.parametrize("item, reason", [
    ({"title": "x"}, "missing_anime_id"),
    ({"anime_id": "7", "title": "x"}, "bad_anime_id"),
    ({"anime_id": 7, "title": "x", "score": 10.5}, "bad_score"),
    ({"anime_id": 7, "title": "x", "score": -0.1}, "bad_score"),
    ({"anime_id": 7, "title": ""}, "missing_title"),
])
def test_invalid_anime_is_rejected(item, reason):
    with pytest.raises(ValidationError) as info:
        validate_anime(item)
    assert info.value.reason == reason


def test_user_validation():
    assert validate_user({"username": "x_y-1", "list_status": "private"})["_id"] == "x_y-1"
    for bad in ({"username": "a b"}, {"username": "ok", "list_status": "secret"}, {}):
        with pytest.raises(ValidationError):
            validate_user(bad)


def random_lists(n_users: int, seed: int = 0):
    rng = random.Random(seed)
    lists = {}
    for u in range(n_users):
        anime = rng.sample(range(1, 3000), rng.randint(0, 60))
        lists[f"user{u:04d}"] = [{"anime_id": a, "title": str(a), "score": rng.choice([0, *range(1, 11)]),
                                  "status": rng.choice([1, 2, 3, 4, 6]), "episodes_watched": rng.randint(0, 24)}
                                 for a in anime]
    return lists


@pytest.mark.parametrize("packed", ["written", "missing-rebuilt", "missing-read-entries"])
def test_round_trip_500_users_to_csr_exactly(mongo_db, packed):
    lists = random_lists(500)
    docs = [validate_animelist({"username": u, "entries": e}) for u, e in lists.items()]
    for i in range(0, len(docs), 100):
        upsert_many(mongo_db, ANIMELISTS, docs[i:i + 100])
        if packed == "written" or i == 0:  # else: lists stored without (most of) their packed copies
            upsert_many(mongo_db, PACKED_LISTS, [packed_document(d) for d in docs[i:i + 100]])
    ratings = read_ratings(mongo_db, min_entries=0, rebuild=packed != "missing-read-entries")
    assert packed_copy_is_complete(mongo_db) == (packed != "missing-read-entries")
    assert list(ratings.user_ids) == sorted(lists)
    all_ids = sorted({e["anime_id"] for es in lists.values() for e in es})
    assert ratings.anime_ids.tolist() == all_ids
    col = ratings.anime_index()
    expected_scores = np.zeros(ratings.shape, np.float32)
    expected_listed = np.zeros(ratings.shape, bool)
    expected_status = np.zeros(ratings.shape, np.int8)
    for r, user in enumerate(ratings.user_ids):
        for e in lists[user]:
            expected_scores[r, col[e["anime_id"]]] = e["score"]
            expected_listed[r, col[e["anime_id"]]] = True
            expected_status[r, col[e["anime_id"]]] = e["status"]
    assert np.array_equal(ratings.scores.toarray(), expected_scores)
    assert np.array_equal(ratings.listed().toarray().astype(bool), expected_listed)
    assert np.array_equal(ratings.statuses.toarray(), expected_status)
    assert ratings.scores.nnz == sum(len(e) for e in lists.values()), "unscored entries must stay listed"
    assert ratings.scored().nnz == sum(1 for es in lists.values() for e in es if e["score"] > 0)
    some = read_ratings(mongo_db, min_entries=30)
    assert list(some.user_ids) == sorted(u for u, es in lists.items() if len(es) >= 30)


def test_packed_entries_mirror_the_validated_entries():
    doc = packed_document(validate_animelist({"username": "u", "entries": [
        {"anime_id": 5114, "score": 10, "status": 2}, {"anime_id": 40_000, "score": 0, "status": 6}]}))
    assert unpack_entries(doc[PACKED_FIELD]).tolist() == [(5114, 10, 2), (40_000, 0, 6)]
    assert (doc["_id"], doc["entries_count"]) == ("u", 2)
    assert unpack_entries(packed_document(validate_animelist({"username": "u", "entries": []}))[PACKED_FIELD]).size == 0
    with pytest.raises(ValidationError) as err:  # would not fit the packed int32 id
        validate_animelist({"username": "u", "entries": [{"anime_id": 2**31, "score": 1, "status": 2}]})
    assert err.value.reason == "bad_anime_id"
    with pytest.raises(ValueError, match="multiple of 6"):
        unpack_entries(b"12345")


def test_anime_ids_due_reads_packed_and_unpacked_lists(mongo_db):
    packed = validate_animelist({"username": "a", "entries": [{"anime_id": 3, "score": 1, "status": 2}]})
    old = validate_animelist({"username": "b", "entries": [{"anime_id": 7, "score": 0, "status": 6}]})
    upsert_many(mongo_db, ANIMELISTS, [packed, old])
    upsert_many(mongo_db, PACKED_LISTS, [packed_document(packed)])  # "b" has no packed copy: entries are read
    upsert_many(mongo_db, ANIME, [anime_doc(3)])
    assert anime_ids_due(mongo_db) == [7]
    assert anime_ids_due(mongo_db, refetch=True) == [3, 7]


def test_a_stale_packed_copy_is_fixed_by_rebuilding(mongo_db):
    """A re-crawled list whose packed write failed: counts still match, so only --rebuild-packed fixes it."""
    old = validate_animelist({"username": "u", "entries": [{"anime_id": 1, "score": 5, "status": 2}]})
    upsert_many(mongo_db, ANIMELISTS, [old])
    upsert_many(mongo_db, PACKED_LISTS, [packed_document(old)])
    new = validate_animelist({"username": "u", "entries": [{"anime_id": 1, "score": 9, "status": 2},
                                                             {"anime_id": 2, "score": 0, "status": 6}]})
    upsert_many(mongo_db, ANIMELISTS, [new])  # the packed write "failed"
    assert read_ratings(mongo_db).scores.nnz == 1
    assert rebuild_packed_lists(mongo_db) == 1
    ratings = read_ratings(mongo_db)
    assert ratings.anime_ids.tolist() == [1, 2] and ratings.scores.toarray().tolist() == [[9.0, 0.0]]


def test_read_anime_frame(mongo_db):
    upsert_many(mongo_db, ANIME, [anime_doc(5), anime_doc(3, synopsis=None)])
    frame = read_anime(mongo_db)
    assert frame.index.tolist() == [3, 5]
    assert frame.loc[5, "title"] == "Show 5" and frame.loc[5, "genres"] == ["Drama"]


def test_users_and_indexes_are_idempotent(mongo_db):
    ensure_indexes(mongo_db)
    ensure_indexes(mongo_db)
    upsert_many(mongo_db, USERS, [validate_user({"username": "carol"})])
    upsert_many(mongo_db, USERS, [validate_user({"username": "carol", "list_status": "public"})])
    assert mongo_db[USERS].count_documents({}) == 1
    assert mongo_db[USERS].find_one({"_id": "carol"})["list_status"] == "public"


def test_connect_requires_a_database_name(monkeypatch):
    monkeypatch.delenv("MONGO_URI", raising=False)
    with pytest.raises(ValueError, match="MONGO_URI"):
        connect()
    with pytest.raises(ValueError, match="name the database"):
        connect("mongodb://127.0.0.1:1/")


def test_local_server_starts_and_stops_without_stray_processes(tmp_path):
    server = LocalMongo(tmp_path / "db").start()
    pid, port = server.process.pid, server.port
    db = connect(server.uri)
    db["probe"].insert_one({"_id": 1})
    assert db["probe"].find_one({"_id": 1}) == {"_id": 1}
    db.client.close()
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the whole process group is gone
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the port must be closed after stop()"
