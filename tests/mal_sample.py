"""Helpers for the recommender tests (issue 6): a small slice of the real MAL data written into the
test MongoDB in the crawler's schema (one `animelists` document per user, `anime` by MAL id)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pymongo.database import Database

from pipeline.readers import Ratings, ratings_from_lists
from recommender.synthetic import write_to_mongo


def mal_slice(shared: Path, users: int = 100, max_entries: int = 400,
              min_listed: int = 3) -> tuple[list[str], pd.DataFrame, pd.DataFrame]:
    """The first ``users`` real users with 20..``max_entries`` list entries (10+ scored), and the anime
    at least ``min_listed`` of them listed (keeps the model small enough for a fast test)."""
    lists = pd.read_csv(shared / "data" / "mal" / "animelists_2023.csv")
    sizes = lists.groupby("user_id").size()
    scored = lists[lists["score"] > 0].groupby("user_id").size()
    ok = sizes[(sizes >= 20) & (sizes <= max_entries)].index.intersection(scored[scored >= 10].index)
    chosen = sorted(ok)[:users]
    lists = lists[lists["user_id"].isin(chosen)]
    listed = lists["anime_id"].value_counts()
    lists = lists[lists["anime_id"].isin(listed[listed >= min_listed].index)]
    anime = pd.read_csv(shared / "data" / "mal" / "anime_with_synopsis.csv")
    anime = anime.rename(columns={"MAL_ID": "anime_id", "Name": "title", "Genders": "genres", "sypnopsis": "synopsis"})
    anime = anime[anime["anime_id"].isin(lists["anime_id"].unique())].copy()
    lists = lists[lists["anime_id"].isin(anime["anime_id"])]
    anime["genres"] = anime["genres"].fillna("").map(lambda g: [x.strip() for x in g.split(",") if x.strip()])
    anime["synopsis"] = anime["synopsis"].fillna("")
    anime["image_url"] = [f"https://cdn.myanimelist.net/images/anime/{a % 1000}/{a}.jpg" for a in anime["anime_id"]]
    for column, default in (("themes", list), ("studios", list)):
        anime[column] = [default() for _ in range(len(anime))]
    anime["type"], anime["episodes"], anime["aired"], anime["members"] = "TV", 12, "", 0
    anime = anime.set_index("anime_id", drop=False).sort_index()
    return [f"mal_user_{u}" for u in chosen], lists, anime


def mal_ratings(shared: Path, users: int = 100) -> tuple[Ratings, pd.DataFrame]:
    """The slice as the reader returns it: :class:`Ratings` (rows by username) and the anime frame."""
    _, lists, anime = mal_slice(shared, users)
    groups = []
    for user_id, frame in lists.groupby("user_id", sort=True):
        groups.append((f"mal_user_{user_id}", [{"anime_id": int(a), "score": int(s), "status": int(st)} for a, s, st in
                                               zip(frame["anime_id"], frame["score"], frame["watching_status"],
                                                   strict=True)]))
    groups.sort(key=lambda g: g[0])  # the reader orders users by username
    return ratings_from_lists(groups, np.asarray(anime.index)), anime


def write_mal_slice(db: Database, shared: Path, users: int = 100) -> list[str]:
    """Write the slice into ``db``; returns the usernames."""
    ratings, anime = mal_ratings(shared, users)
    write_to_mongo(db, (ratings, anime), progress=False)
    return ratings.user_ids.tolist()


def user_entries(db: Database, username: str) -> list[dict[str, int]]:
    doc = db["animelists"].find_one({"_id": username})
    return [{"anime_id": e["anime_id"], "score": e["score"], "status": e["status"]} for e in doc["entries"]]
