"""The small read-only query API behind ``animerec recommend``.

- :func:`recommend_stored`: a user's published recommendations (one ``find_one`` by ``_id`` on the
  live versioned collection, after resolving the ``runs.live`` pointer; see recommender.publish);
  optionally re-ranked by the adventurousness knob using the stored per-item components.
- :func:`recommend_for_list`: fresh recommendations for a list that was not in the training run,
  folded into the trained model.
- :func:`load_list`: a user's list from a load.json-style JSON file or a CSV (anime_id,score[,status]).

All user input is validated before it reaches MongoDB: usernames are plain strings matching
``^[A-Za-z0-9_-]{1,64}$`` (MAL's own alphabet), so no operator document (``{"$ne": null}``) or
``$``-string can ever become part of a query.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymongo.database import Database

from recommender.publish import PREFIX, live_pointer

if TYPE_CHECKING:
    from recommender.artifacts import TrainedRecommender

USERNAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_N = 100
STATUSES = {1: "watching", 2: "completed", 3: "on_hold", 4: "dropped", 6: "plan_to_watch"}
STATUS_CODES = {name: code for code, name in STATUSES.items()} | {"on-hold": 3, "plan to watch": 6,
                                                                   "plan-to-watch": 6, "on hold": 3}
MAX_LIST_ENTRIES = 50_000


class QueryError(ValueError):
    """Bad input to a query: the message says what to change."""


class UnknownUserError(LookupError):
    """The user has no stored recommendations (not in the last training run)."""


class NoPublishedRun(LookupError):
    """Nothing has been published yet."""


def validate_username(username: object) -> str:
    if not isinstance(username, str):
        raise QueryError(f"username must be a string, not {type(username).__name__}")
    if not USERNAME_RE.fullmatch(username):  # fullmatch: "$" alone would let a trailing newline in
        shown = username if len(username) <= 80 else username[:80] + "..."
        raise QueryError(f"invalid username {shown!r}: use 1-64 letters, digits, '_' or '-'")
    return username


def validate_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise QueryError(f"n must be an integer between 1 and {MAX_N}, not {n!r}")
    if not 1 <= n <= MAX_N:
        raise QueryError(f"n must be between 1 and {MAX_N}, got {n}")
    return n


def validate_adventurousness(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise QueryError(f"adventurousness must be a number between 0 and 1, not {value!r}")
    if not 0.0 <= value <= 1.0:
        raise QueryError(f"adventurousness must be between 0 (like what you watched) and 1 (surprising), "
                         f"got {value}")
    return float(value)


def blend(cf: float, content: float, adventurousness: float) -> float:
    """The hybrid's blend of its two stored components: 1 = collaborative only, 0 = content only."""
    return adventurousness * cf + (1.0 - adventurousness) * content


def _rows(items: list[dict[str, Any]], why_titles: Mapping[str, str], n: int,
          adventurousness: float | None) -> list[dict[str, Any]]:
    if adventurousness is not None:
        items = sorted(items, key=lambda it: -blend(it["cf"], it["content"], adventurousness))
    out = []
    for rank, item in enumerate(items[:n], start=1):
        score = item["score"] if adventurousness is None else blend(item["cf"], item["content"], adventurousness)
        why_ids = list(item.get("why", []))
        out.append({"rank": rank, "anime_id": item["anime_id"], "title": item.get("title"),
                    "score": round(float(score), 6), "cf": item["cf"], "content": item["content"],
                    "why": [why_titles.get(str(a), str(a)) for a in why_ids], "why_ids": why_ids,
                    "image_url": item.get("image_url")})
    return out


def recommend_stored(db: Database, username: str, n: int = 10,
                     adventurousness: float | None = None) -> list[dict[str, Any]]:
    """``username``'s published top-``n``: rank, anime_id, title, score, cf, content, why (titles of the
    rated anime behind it), why_ids and image_url. With ``adventurousness`` the stored list (the
    run's top-N) is re-ranked by the blend of its stored components.

    Raises :class:`QueryError` for bad input, :class:`NoPublishedRun` or :class:`UnknownUserError`.
    """
    username = validate_username(username)
    n = validate_n(n)
    adventurousness = validate_adventurousness(adventurousness)
    doc = None
    pointer = None
    for _ in range(2):  # a publish may drop the version we resolved between the two reads: resolve again
        pointer = live_pointer(db)
        if pointer is None:
            raise NoPublishedRun("no recommendations have been published yet: run `animerec train` first")
        if not str(pointer.get("collection", "")).startswith(PREFIX):
            raise NoPublishedRun(f"the live pointer in runs is damaged: {pointer!r}; re-run `animerec train`")
        doc = db[pointer["collection"]].find_one({"_id": username})
        if doc is not None or live_pointer(db) == pointer:
            break
    if doc is None:
        raise UnknownUserError(
            f"no stored recommendations for {username!r}: the user was not in the last training run "
            f"({pointer['run_id']}). For fresh ones, pass their list with `animerec recommend --list FILE` "
            f"or crawl it with `animerec recommend --username {username} --fetch`.")
    return _rows(doc["items"], doc.get("why_titles", {}), n, adventurousness)


def parse_entries(records: Iterable[Mapping[str, Any]], source: str = "list") -> list[dict[str, int]]:
    """Validated ``{anime_id, score, status}`` entries from load.json-style or CSV records.

    load.json uses ``anime_id``/``score``/``status``; a missing status means completed, a missing
    score means unscored (0). Bad rows raise :class:`QueryError` naming the row.
    """
    entries: dict[int, dict[str, int]] = {}
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, Mapping):
            raise QueryError(f"{source}: entry {i} is not an object with anime_id and score")
        try:
            anime_id = int(str(rec.get("anime_id", "")).strip())
        except ValueError:
            raise QueryError(f"{source}: entry {i} has no valid anime_id ({rec.get('anime_id')!r})") from None
        raw_score = rec.get("score", 0)
        try:
            score = int(float(str(raw_score).strip() or 0))
        except ValueError:
            raise QueryError(f"{source}: entry {i} has a non-numeric score {raw_score!r}") from None
        raw_status = rec.get("status", rec.get("watching_status", 2))
        status_text = str(raw_status).strip().lower() if raw_status not in (None, "") else "2"
        status = STATUS_CODES.get(status_text)
        if status is None:
            try:
                status = int(float(status_text))
            except ValueError:
                status = -1
        if anime_id <= 0:
            raise QueryError(f"{source}: entry {i} has anime_id {anime_id}, not a MAL id")
        if not 0 <= score <= 10:
            raise QueryError(f"{source}: entry {i} (anime {anime_id}) has score {score}; MAL scores are 0-10")
        if status not in STATUSES:
            raise QueryError(f"{source}: entry {i} (anime {anime_id}) has status {raw_status!r}; use 1 watching, "
                             "2 completed, 3 on hold, 4 dropped, 6 plan to watch")
        entries[anime_id] = {"anime_id": anime_id, "score": score, "status": status}
        if len(entries) > MAX_LIST_ENTRIES:
            raise QueryError(f"{source}: more than {MAX_LIST_ENTRIES} entries")
    return list(entries.values())


def load_list(path: str | Path) -> list[dict[str, int]]:
    """A list from a load.json-style JSON file (an array of entries, or ``{"entries": [...]}``) or a CSV
    with a header holding ``anime_id`` and ``score`` (``status`` optional)."""
    path = Path(path)
    if not path.is_file():
        raise QueryError(f"list file not found: {path}")
    text = path.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise QueryError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(data, dict):
            data = data.get("entries", data.get("data"))
        if not isinstance(data, list):
            raise QueryError(f"{path}: expected a JSON array of entries (MAL load.json) or {{\"entries\": [...]}}")
        return parse_entries(data, str(path))
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "anime_id" not in reader.fieldnames:
        raise QueryError(f"{path}: a CSV list needs a header with anime_id and score (status optional); "
                         f"found {reader.fieldnames}")
    return parse_entries(reader, str(path))


def recommend_for_list(model: TrainedRecommender, entries: list[dict[str, int]], n: int = 10,
                       adventurousness: float | None = None) -> list[dict[str, Any]]:
    """Fresh top-``n`` for a list not in the training run, folded into ``model``'s trained factors.

    Rows have the same keys as :func:`recommend_stored`.
    """
    n = validate_n(n)
    adventurousness = validate_adventurousness(adventurousness)
    entries = parse_entries(entries, "list")
    known = model.known(entries)
    if not known:
        raise QueryError("none of the list's anime are known to the trained model: nothing to fold in")
    doc = model.recommend_entries(known, n=max(n, model.n_stored) if adventurousness is not None else n)
    return _rows(doc["items"], doc["why_titles"], n, adventurousness)
