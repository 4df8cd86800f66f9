"""The read-only query API (issue 6): input validation, stored lists, re-ranking and list files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recommender import query
from recommender.publish import publish

ROOT = Path(__file__).resolve().parents[1]


def _item(anime_id: int, cf: float, content: float, a: float = 0.9, why: tuple[int, ...] = (1,)) -> dict:
    return {"anime_id": anime_id, "title": f"Anime {anime_id}", "image_url": f"https://img/{anime_id}.jpg",
            "score": query.blend(cf, content, a), "cf": cf, "content": content, "why": list(why)}


@pytest.fixture
def published(mongo_db):
    """A hand-made published run: known scores, so ranking and re-ranking can be checked exactly."""
    items = sorted([_item(10, 2.0, -1.0), _item(11, 1.0, 1.0), _item(12, 0.0, 3.0, why=(1, 2)),
                    _item(13, -0.5, 0.0)], key=lambda it: -it["score"])
    docs = [{"_id": "Xinil", "run_id": "r1", "created_at": datetime.now(UTC), "items": items,
             "why_titles": {"1": "Cowboy Bebop", "2": "Trigun"}},
            {"_id": "other_user-2", "run_id": "r1", "created_at": datetime.now(UTC), "items": items[:1],
             "why_titles": {"1": "Cowboy Bebop"}}]
    publish(mongo_db, "r1", docs)
    return mongo_db


@pytest.mark.parametrize("bad", [
    {"$ne": None}, {"$gt": ""}, ["Xinil"], None, 42, "", "a$b", "$where", "x" * 65, "Xinil; drop", "a.b",
    "us er", "name\n", "Xïnil",
])
def test_bad_usernames_are_rejected_before_any_query(bad, published):
    with pytest.raises(query.QueryError):
        query.recommend_stored(published, bad, 5)


@pytest.mark.parametrize("n", [0, -1, 101, 10_000, "10", 2.5, True, None])
def test_n_is_an_integer_from_1_to_100(n, published):
    with pytest.raises(query.QueryError, match="n must"):
        query.recommend_stored(published, "Xinil", n)


@pytest.mark.parametrize("a", [-0.1, 1.01, float("nan"), float("inf"), "0.5", True])
def test_adventurousness_is_a_number_in_the_unit_interval(a, published):
    with pytest.raises(query.QueryError, match="adventurousness"):
        query.recommend_stored(published, "Xinil", 5, a)


def test_valid_usernames_pass():
    for name in ("Xinil", "a", "user_name-01", "x" * 64):
        assert query.validate_username(name) == name


def test_stored_query_returns_titles_why_and_images_in_stored_order(published):
    rows = query.recommend_stored(published, "Xinil", 3)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert [r["anime_id"] for r in rows] == [10, 11, 12]  # 0.9 * cf + 0.1 * content: 1.7, 1.0, 0.3
    assert rows[0]["title"] == "Anime 10" and rows[0]["image_url"] == "https://img/10.jpg"
    assert rows[0]["why"] == ["Cowboy Bebop"] and rows[0]["why_ids"] == [1]
    assert rows[0]["score"] == pytest.approx(0.9 * 2.0 + 0.1 * -1.0)


def test_adventurousness_reranks_the_stored_list_by_its_components(published):
    similar = query.recommend_stored(published, "Xinil", 4, adventurousness=0.0)  # content only
    assert [r["anime_id"] for r in similar] == [12, 11, 13, 10]
    assert similar[0]["why"] == ["Cowboy Bebop", "Trigun"]
    assert similar[0]["score"] == pytest.approx(3.0)
    surprising = query.recommend_stored(published, "Xinil", 4, adventurousness=1.0)
    assert [r["anime_id"] for r in surprising] == [10, 11, 12, 13]


def test_unknown_user_gets_a_clear_message_with_what_to_do(published):
    with pytest.raises(query.UnknownUserError) as info:
        query.recommend_stored(published, "nobody_here", 5)
    message = str(info.value)
    assert "nobody_here" in message and "--list" in message and "--fetch" in message


def test_nothing_published_yet(mongo_db):
    with pytest.raises(query.NoPublishedRun, match="animerec train"):
        query.recommend_stored(mongo_db, "Xinil", 5)


def test_injection_cannot_match_another_users_document(published):
    # {"$ne": null} as _id would match any document on a careless API; ours refuses it outright.
    with pytest.raises(query.QueryError):
        query.recommend_stored(published, {"$ne": None}, 5)  # type: ignore[arg-type]
    with pytest.raises(query.QueryError):
        query.recommend_stored(published, {"$regex": ".*"}, 5)  # type: ignore[arg-type]


def test_list_files_json_and_csv(tmp_path):
    loadjson = tmp_path / "load.json"
    loadjson.write_text(json.dumps([
        {"status": 2, "score": 9, "anime_id": 1, "anime_title": "Cowboy Bebop", "num_watched_episodes": 26},
        {"status": 6, "score": 0, "anime_id": 5, "anime_title": 86},
    ]))
    assert query.load_list(loadjson) == [{"anime_id": 1, "score": 9, "status": 2},
                                         {"anime_id": 5, "score": 0, "status": 6}]
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("anime_id,score,status\n1,8,completed\n20,0,plan_to_watch\n30,7,\n")
    assert query.load_list(csv_file) == [{"anime_id": 1, "score": 8, "status": 2},
                                         {"anime_id": 20, "score": 0, "status": 6},
                                         {"anime_id": 30, "score": 7, "status": 2}]
    no_status = tmp_path / "scores.csv"
    no_status.write_text("anime_id,score\n1,10\n")
    assert query.load_list(no_status) == [{"anime_id": 1, "score": 10, "status": 2}]


@pytest.mark.parametrize("content, message", [
    ("anime_id,score\n1,11\n", "score 11"),
    ("anime_id,score\nabc,5\n", "no valid anime_id"),
    ("anime_id,score,status\n1,5,9\n", "status"),
    ("title,score\nBebop,5\n", "header"),
    ('[{"anime_id": 1, "score": "great"}]', "non-numeric score"),
    ('{"not": "a list"}', "JSON array"),
    ("[1, 2]", "not an object"),
    ("[{", "not valid JSON"),
])
def test_bad_list_files_say_which_row_is_wrong(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(query.QueryError, match=message):
        query.load_list(path)


def test_missing_list_file(tmp_path):
    with pytest.raises(query.QueryError, match="not found"):
        query.load_list(tmp_path / "nope.json")


def _cli(mongo_uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "recommender.cli", "recommend", *args], cwd=ROOT,
                          env={**os.environ, "MONGO_URI": mongo_uri}, capture_output=True, text=True, timeout=120)


def test_cli_prints_a_table_json_and_clear_errors(published, mongo_uri):
    table = _cli(mongo_uri, "Xinil", "--n", "2")
    assert table.returncode == 0, table.stderr
    assert "Anime 10" in table.stdout and "Cowboy Bebop" in table.stdout and "Anime 13" not in table.stdout
    as_json = _cli(mongo_uri, "Xinil", "--n", "4", "--adventurousness", "0", "--json")
    assert [r["anime_id"] for r in json.loads(as_json.stdout)] == [12, 11, 13, 10]
    unknown = _cli(mongo_uri, "nobody_here")
    assert unknown.returncode == 1 and "--fetch" in unknown.stderr
    injected = _cli(mongo_uri, "a$b")
    assert injected.returncode == 2 and "invalid username" in injected.stderr
    too_many = _cli(mongo_uri, "Xinil", "--n", "1000")
    assert too_many.returncode == 2 and "between 1 and 100" in too_many.stderr
    both = _cli(mongo_uri, "Xinil", "--list", "x.json")
    assert both.returncode == 2 and "exactly one" in both.stderr


def test_recommend_for_a_list_without_a_trained_model_says_so(mongo_uri, tmp_path, monkeypatch, capsys):
    from recommender.cli import main

    monkeypatch.setenv("MONGO_URI", mongo_uri)
    listing = tmp_path / "list.csv"
    listing.write_text("anime_id,score\n1,9\n5,7\n")
    assert main(["recommend", "--list", str(listing), "--artifacts", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert "no trained model" in err and "Traceback" not in err
