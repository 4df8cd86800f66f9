"""The Scrapy item pipeline: validation counts, bulk writes, retries and spills."""

from __future__ import annotations

import json
import threading
import time

from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler.items import AnimeItem, AnimeListItem, UserItem
from pipeline.embedded import LocalMongo, free_port
from pipeline.packed import unpack_entries
from pipeline.pipelines import MongoPipeline
from pipeline.store import ANIMELISTS, StoreWriteError, connect, upsert_many


def make_pipeline(uri, tmp_path, open_store=True, **settings):
    crawler = get_crawler(settings_dict={"MONGO_URI": uri, "MONGO_BATCH_SIZE": 2,
                                         "MONGO_FAILED_DIR": str(tmp_path / "failed"), **settings})
    crawler.stats.open_spider()
    pipeline = MongoPipeline.from_crawler(crawler)
    if open_store:
        pipeline.open_spider()
    return pipeline, crawler.stats


def entry(anime_id, score):
    return {"anime_id": anime_id, "title": "t", "score": score, "status": 2, "episodes_watched": 1}


def test_bad_items_are_counted_and_valid_ones_in_the_batch_still_written(mongo_uri, mongo_db, tmp_path):
    pipeline, stats = make_pipeline(mongo_uri, tmp_path)
    items = [
        AnimeListItem(username="good1", entries=[entry(1, 5)]),
        AnimeListItem(username="neg", entries=[entry(1, -1)]),
        AnimeListItem(username="big", entries=[entry(1, 11)]),
        AnimeListItem(username="noid", entries=[{"score": 1, "status": 2}]),
        AnimeListItem(username="strid", entries=[entry("x", 1)]),
        AnimeListItem(username="good2", entries=[entry(2, 0)]),
        AnimeItem(anime_id=None, title="missing id"),
        AnimeItem(anime_id=9, title="Nine", genres=["Action"]),
        UserItem(username="good1", list_status="public"),
        UserItem(username="discovered"),
    ]
    dropped = 0
    for item in items:
        try:
            pipeline.process_item(item)
        except DropItem as exc:
            assert "invalid" in str(exc)
            dropped += 1
    pipeline.close_spider()
    assert dropped == 5
    assert sorted(d["_id"] for d in mongo_db[ANIMELISTS].find()) == ["good1", "good2"]
    packed = {d["_id"]: unpack_entries(d["entries_packed"]).tolist() for d in mongo_db["animelists_packed"].find()}
    assert packed == {"good1": [(1, 5, 2)], "good2": [(2, 0, 2)]}, "each written list gets its packed copy"
    assert mongo_db["anime"].find_one({"_id": 9})["genres"] == ["Action"]
    users = {d["_id"]: d for d in mongo_db["users"].find()}
    assert "fetched_at" in users["good1"] and "fetched_at" not in users["discovered"]
    assert "seen_at" in users["discovered"]
    got = stats.get_stats()
    assert got["pipeline/invalid/animelist/bad_score"] == 2
    assert got["pipeline/invalid/animelist/missing_anime_id"] == 1
    assert got["pipeline/invalid/animelist/bad_anime_id"] == 1
    assert got["pipeline/invalid/anime/missing_anime_id"] == 1
    assert got["pipeline/written/animelists"] == 2


def test_write_to_a_dead_server_is_retried_then_spilled_not_dropped(tmp_path):
    port = free_port()
    pipeline, stats = make_pipeline(f"mongodb://127.0.0.1:{port}/x", tmp_path, open_store=False, MONGO_WRITE_RETRIES=1,
                                    MONGO_RETRY_BACKOFF=0.05)
    pipeline.db = connect(pipeline.uri, serverSelectionTimeoutMS=200)
    pipeline.process_item(AnimeListItem(username="lost", entries=[entry(1, 5)]))
    pipeline.close_spider()
    assert stats.get_value("pipeline/write_failed/animelists") == 1
    spilled = [json.loads(line) for line in (tmp_path / "failed" / "animelists.jsonl").read_text().splitlines()]
    assert [d["_id"] for d in spilled] == ["lost"]
    assert [e["anime_id"] for e in spilled[0]["entries"]] == [1]
    assert stats.get_value("pipeline/written/animelists_packed") is None, "no packed copy of an unwritten list"


def test_transient_outage_is_retried_until_the_server_is_back(tmp_path):
    port = free_port()
    server = LocalMongo(tmp_path / "db", port=port)
    starter = threading.Timer(1.0, server.start)
    starter.start()
    try:
        db = connect(f"mongodb://127.0.0.1:{port}/x", serverSelectionTimeoutMS=300)
        started = time.monotonic()
        result = upsert_many(db, ANIMELISTS, [{"_id": "u", "entries": []}], retries=8, backoff_s=0.2)
        assert result.upserted == 1 and time.monotonic() - started >= 0.5
        assert db[ANIMELISTS].count_documents({}) == 1
        db.client.close()
    finally:
        starter.join()
        server.stop()


def test_store_write_error_carries_the_documents():
    exc = StoreWriteError("boom", [{"_id": 1}])
    assert exc.documents == [{"_id": 1}]
