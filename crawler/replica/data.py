"""Load the shared MAL CSVs once into compact, read-only structures the pages are rendered from.

Why these choices:
- anime.csv (2020) is the catalogue; anime_with_synopsis.csv adds synopses. Its "Genders" column mixes
  what MAL since 2022 splits into Genres, Themes and Demographic; we split it with MAL's current
  classification so the replica serves the 2024 page layout.
- animelists_2023.csv holds the lists. Its user ids are integers, so users get the deterministic name
  ``user{user_id}``. List rows naming an anime that anime.csv lacks (shows from after 2020) are left
  out: the replica could not render a title or page for them. `ReplicaData.dropped_rows` counts them,
  and `ReplicaData.entries(username)` is the ground truth that a crawl must reproduce.
- About 3 % of users are private, chosen by a hash of the username, so the choice never changes.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

PAGE_SIZE_LOADJSON = 300
PRIVATE_PERCENT = 3
# MAL's placeholder texts for a missing synopsis, kept in the data set as if they were synopses.
NO_SYNOPSIS = (
    "No synopsis information has been added to this title.",
    "No synopsis has been added for this series yet.",
)
STATUS_NAMES = {1: "Watching", 2: "Completed", 3: "On-Hold", 4: "Dropped", 6: "Plan to Watch"}

# MAL's 2024 classification of the 2020 genre names (names kept as in the data).
THEMES = frozenset({
    "Cars", "Demons", "Game", "Harem", "Historical", "Martial Arts", "Mecha", "Military", "Music", "Parody",
    "Police", "Psychological", "Samurai", "School", "Space", "Super Power", "Vampire",
})
DEMOGRAPHICS = frozenset({"Josei", "Kids", "Seinen", "Shoujo", "Shounen"})

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """The shared material folder: env ANIMEREC_SHARED, else ``../shared`` beside the project root."""
    return Path(os.environ.get("ANIMEREC_SHARED", PROJECT_ROOT.parent / "shared"))


def default_data_dir() -> Path:
    return shared_dir() / "data" / "mal"


def username_for(user_id: int | str) -> str:
    """A stable MAL-style username for a CSV user id (kept as is when it already is a name)."""
    text = str(user_id)
    return f"user{text}" if text.isdigit() else text


def is_private(username: str) -> bool:
    digest = hashlib.sha1(username.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < PRIVATE_PERCENT


def slugify(title: str) -> str:
    """MAL's URL slug: every character outside [A-Za-z0-9] becomes '_', ends trimmed."""
    slug = re.sub(r"[^A-Za-z0-9]", "_", title).strip("_")
    return slug or "_"


def _none_if_unknown(value: str) -> str | None:
    value = value.strip()
    return None if value in ("", "Unknown") else value


def _split(value: str) -> list[str]:
    value = value.strip()
    if value in ("", "Unknown") or value.startswith("add some"):
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def _to_int(value: str) -> int | None:
    try:
        return int(float(value))
    except ValueError:
        return None


def _to_float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def airing_status(aired: str | None) -> int:
    """MAL's anime_airing_status: 1 currently airing, 2 finished, 3 not yet aired."""
    if not aired or aired == "Not available":
        return 3
    if aired.endswith("to ?"):
        return 1
    return 2


def mal_date_string(text: str | None) -> str | None:
    """'Apr 3, 1998' -> '04-03-98' (load.json's anime_start_date_string); partial dates -> None."""
    if not text:
        return None
    try:
        return datetime.strptime(text.strip(), "%b %d, %Y").strftime("%m-%d-%y")
    except ValueError:
        return None


def duration_minutes(duration: str | None) -> float:
    if not duration:
        return 0.0
    hours = re.search(r"(\d+) hr", duration)
    minutes = re.search(r"(\d+) min", duration)
    seconds = re.search(r"(\d+) sec", duration)
    return (int(hours.group(1)) * 60 if hours else 0) + (int(minutes.group(1)) if minutes else 0) + (
        int(seconds.group(1)) / 60 if seconds else 0
    )


@dataclass(slots=True)
class Anime:
    anime_id: int
    title: str
    slug: str
    english: str | None
    japanese: str | None
    type: str | None
    episodes: int | None
    aired: str | None
    premiered: str | None
    producers: list[str]
    licensors: list[str]
    studios: list[str]
    source: str | None
    duration: str | None
    rating: str | None
    genres: list[str]
    themes: list[str]
    demographics: list[str]
    score: float | None
    scored_by: int
    ranked: int | None
    popularity: int
    members: int
    favorites: int
    synopsis: str | None
    airing_status: int = 2
    status_counts: dict[str, int] = field(default_factory=dict)
    score_counts: list[int] = field(default_factory=list)  # votes for 10 .. 1

    @property
    def url_path(self) -> str:
        return f"/anime/{self.anime_id}/{self.slug}"

    @property
    def image_path(self) -> str:
        # The data set has no picture ids; the replica serves a placeholder at a stable path.
        return f"/images/anime/{self.anime_id % 1000}/{self.anime_id}.jpg"


@dataclass(slots=True)
class User:
    user_id: str
    username: str
    private: bool
    # Row slice [start, stop) into ReplicaData's entry arrays (CSV order).
    start: int
    stop: int

    @property
    def entry_count(self) -> int:
        return self.stop - self.start


class ReplicaData:
    """Everything the replica serves, loaded once from a data folder (see module docstring)."""

    def __init__(self, data_dir: Path | str | None = None) -> None:
        import pandas as pd

        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        missing = [n for n in ("anime.csv", "anime_with_synopsis.csv", "animelists_2023.csv")
                   if not (self.data_dir / n).is_file()]
        if missing:
            raise FileNotFoundError(f"MAL data folder {self.data_dir} lacks {', '.join(missing)}")

        frame = pd.read_csv(self.data_dir / "anime.csv", dtype=str, keep_default_na=False)
        synopses = pd.read_csv(self.data_dir / "anime_with_synopsis.csv", dtype=str, keep_default_na=False)
        synopsis_by_id = {int(i): s for i, s in zip(synopses["MAL_ID"], synopses["sypnopsis"], strict=True)}
        score_cols = [f"Score-{n}" for n in range(10, 0, -1)]

        self.anime: dict[int, Anime] = {}
        for rec in frame.to_dict("records"):
            anime_id = int(rec["MAL_ID"])
            title = rec["Name"]
            labels = _split(rec["Genders"])
            score_counts = [_to_int(rec[c]) or 0 for c in score_cols]
            aired = _none_if_unknown(rec["Aired"])
            synopsis = synopsis_by_id.get(anime_id, "").strip() or None
            if synopsis and synopsis.startswith(NO_SYNOPSIS):
                synopsis = None  # the data keeps MAL's placeholder text; the page renders it for None
            self.anime[anime_id] = Anime(
                anime_id=anime_id, title=title, slug=slugify(title),
                english=_none_if_unknown(rec["English name"]), japanese=_none_if_unknown(rec["Japanese name"]),
                type=_none_if_unknown(rec["Type"]), episodes=_to_int(rec["Episodes"]),
                aired=aired, premiered=_none_if_unknown(rec["Premiered"]),
                producers=_split(rec["Producers"]), licensors=_split(rec["Licensors"]),
                studios=_split(rec["Studios"]), source=_none_if_unknown(rec["Source"]),
                duration=_none_if_unknown(rec["Duration"]), rating=_none_if_unknown(rec["Rating"]),
                genres=[g for g in labels if g not in THEMES and g not in DEMOGRAPHICS],
                themes=[g for g in labels if g in THEMES],
                demographics=[g for g in labels if g in DEMOGRAPHICS],
                score=_to_float(rec["Score"]), scored_by=sum(score_counts), ranked=_to_int(rec["Ranked"]),
                popularity=_to_int(rec["Popularity"]) or 0, members=_to_int(rec["Members"]) or 0,
                favorites=_to_int(rec["Favorites"]) or 0, synopsis=synopsis,
                airing_status=airing_status(aired),
                status_counts={
                    "Watching": _to_int(rec["Watching"]) or 0, "Completed": _to_int(rec["Completed"]) or 0,
                    "On-Hold": _to_int(rec["On-Hold"]) or 0, "Dropped": _to_int(rec["Dropped"]) or 0,
                    "Plan to Watch": _to_int(rec["Plan to Watch"]) or 0,
                },
                score_counts=score_counts,
            )
        self.anime_ids_sorted = sorted(self.anime)
        # A few rows carry rank 0 (placeholders for unaired shows); MAL ranks from 1.
        ranked = [a for a in self.anime.values() if a.ranked]
        self.top = sorted(ranked, key=lambda a: (a.ranked, a.anime_id))

        lists = pd.read_csv(self.data_dir / "animelists_2023.csv", dtype={"user_id": str})
        known = lists["anime_id"].isin(self.anime.keys()).to_numpy()
        self.total_rows = len(lists)
        self.dropped_rows = int((~known).sum())
        lists = lists[known]
        # Stable sort by user keeps each user's rows in CSV order.
        order = np.argsort(lists["user_id"].map(_user_sort_key).to_numpy(), kind="stable")
        lists = lists.iloc[order]
        self.entry_anime = lists["anime_id"].to_numpy(dtype=np.int32)
        self.entry_score = lists["score"].to_numpy(dtype=np.int8)
        self.entry_status = lists["watching_status"].to_numpy(dtype=np.int8)
        self.entry_eps = lists["watched_episodes"].to_numpy(dtype=np.int32)
        user_ids = lists["user_id"].to_numpy()

        self.users: dict[str, User] = {}
        all_ids = sorted(set(pd.read_csv(self.data_dir / "animelists_2023.csv", usecols=["user_id"],
                                         dtype=str)["user_id"]), key=_user_sort_key)
        bounds: dict[str, tuple[int, int]] = {}
        if len(user_ids):
            change = np.flatnonzero(user_ids[1:] != user_ids[:-1]) + 1
            starts = np.concatenate([[0], change])
            stops = np.concatenate([change, [len(user_ids)]])
            bounds = {str(user_ids[s]): (int(s), int(e)) for s, e in zip(starts, stops, strict=True)}
        for uid in all_ids:
            name = username_for(uid)
            start, stop = bounds.get(uid, (0, 0))
            self.users[name.lower()] = User(uid, name, is_private(name), start, stop)
        # users.php order: a fixed shuffle, so "recently online" looks like strangers, not a sorted list.
        self.online_order = sorted(self.users.values(),
                                   key=lambda u: hashlib.sha1(u.username.encode()).hexdigest())

        # Members of each anime (public lists only, as MAL hides private lists), by row index.
        self._members: dict[int, np.ndarray] | None = None
        self._members_lock = threading.Lock()
        self.row_user = np.empty(len(user_ids), dtype=np.int32)
        self.user_by_index = list(self.users.values())
        for i, user in enumerate(self.user_by_index):
            self.row_user[user.start:user.stop] = i

    # -- queries -----------------------------------------------------------------------------------
    def user(self, username: str) -> User | None:
        return self.users.get(username.lower())

    def entries(self, username: str) -> list[dict]:
        """A user's list as the CSV has it (minus unknown anime): the ground truth for crawls."""
        user = self.user(username)
        if user is None:
            return []
        return [
            {"anime_id": int(self.entry_anime[i]), "title": self.anime[int(self.entry_anime[i])].title,
             "score": int(self.entry_score[i]), "status": int(self.entry_status[i]),
             "episodes_watched": int(self.entry_eps[i])}
            for i in range(user.start, user.stop)
        ]

    def rows(self, user: User, status: int = 7) -> np.ndarray:
        """Row indices of a user's entries, optionally of one status (7 = all)."""
        idx = np.arange(user.start, user.stop)
        if status != 7:
            idx = idx[self.entry_status[user.start:user.stop] == status]
        return idx

    def members(self, anime_id: int) -> np.ndarray:
        """Row indices of the public list entries naming an anime, in username order."""
        if self._members is None:
            with self._members_lock:
                if self._members is None:
                    public = np.array([not u.private for u in self.user_by_index], dtype=bool)
                    rows = np.flatnonzero(public[self.row_user]) if len(self.row_user) else np.array([], int)
                    by_anime = np.argsort(self.entry_anime[rows], kind="stable")
                    rows = rows[by_anime]
                    keys = self.entry_anime[rows]
                    cut = np.flatnonzero(keys[1:] != keys[:-1]) + 1
                    self._members = {int(self.entry_anime[g[0]]): g for g in np.split(rows, cut) if len(g)}
        return self._members.get(anime_id, np.array([], dtype=np.int64))

    def summary(self) -> dict:
        users = list(self.users.values())
        return {
            "anime": len(self.anime), "users": len(users),
            "private_users": sorted(u.username for u in users if u.private),
            "users_over_300": sorted((u.username for u in users if u.entry_count > PAGE_SIZE_LOADJSON),
                                     key=lambda n: self.users[n.lower()].entry_count),
            "list_rows": int(len(self.entry_anime)), "dropped_rows": self.dropped_rows,
        }


def _user_sort_key(user_id: str) -> tuple[int, int | str]:
    return (0, int(user_id)) if str(user_id).isdigit() else (1, str(user_id))


_cache: dict[Path, ReplicaData] = {}
_cache_lock = threading.Lock()


def load(data_dir: Path | str | None = None) -> ReplicaData:
    """The data of a folder, loaded once per process (servers in tests share it)."""
    path = (Path(data_dir) if data_dir else default_data_dir()).resolve()
    with _cache_lock:
        if path not in _cache:
            _cache[path] = ReplicaData(path)
        return _cache[path]
