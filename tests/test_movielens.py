"""bench/movielens.py: a RecBole .inter file inside a wheel becomes a ``userId,movieId,rating`` CSV (no network)."""

from __future__ import annotations

import csv
import importlib.util
import zipfile
from pathlib import Path

import pytest

from recommender.evaluation import load_ratings

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_movielens", ROOT / "bench" / "movielens.py")
movielens = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(movielens)

# Columns deliberately not in the usual order, plus a timestamp that must be dropped and a blank line.
INTER = (
    "item_id:token\trating:float\tuser_id:token\ttimestamp:float\n"
    "242\t3\t196\t881250949\n"
    "302\t4.5\t186\t891717742\n"
    "\n"
    "377\t1\t22\t878887116\n"
)


def _wheel(tmp_path: Path, member: str = movielens.MEMBER, text: str = INTER) -> Path:
    wheel = tmp_path / "recbole-1.2.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("recbole/__init__.py", "")
        archive.writestr(member, text)
    return wheel


def test_convert_maps_header_and_parses_tabs(tmp_path: Path) -> None:
    out = tmp_path / "other" / "ml-100k.csv"
    assert movielens.convert_inter(_wheel(tmp_path), out) == 3
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["userId", "movieId", "rating"], ["196", "242", "3"], ["186", "302", "4.5"], ["22", "377", "1"]]
    ratings = load_ratings(out)  # the evaluation reads it as MovieLens-style data
    assert list(ratings.columns) == ["user_id", "anime_id", "score"]
    assert len(ratings) == 3 and ratings["score"].tolist() == [3.0, 4.5, 1.0]


def test_fetch_is_idempotent_and_reuses_the_wheel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _wheel(tmp_path)  # already "downloaded": pip must not run
    out = movielens.fetch(tmp_path)
    assert out == tmp_path / "ml-100k.csv" and out.is_file()
    assert movielens.fetch(tmp_path) == out
    assert "already exists" in capsys.readouterr().out


def test_missing_member_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(movielens.FetchError, match="ml-100k.inter is not in"):
        movielens.convert_inter(_wheel(tmp_path, member="recbole/other.txt"), tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()
