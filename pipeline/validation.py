"""Validation and normalisation of crawled items before they reach MongoDB.

Every validator takes a plain mapping and returns the document to store (normalised: stripped
strings, ``_id`` set to the natural key) or raises :class:`ValidationError` whose ``reason`` is a short
stable token used in stats keys (``pipeline/invalid/<kind>/<reason>``) and ``detail`` says what exactly
was wrong. A user's list is validated as a whole: one bad entry rejects the list, because a partial
list would silently misstate what the user watched.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

# MAL usernames are 2-16 characters of letters, digits, '_' and '-'; we accept a little more
# (up to 64) so that other sites' ids and older accounts are not lost.
USERNAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LIST_STATUSES = frozenset({1, 2, 3, 4, 6})  # watching, completed, on hold, dropped, plan to watch
MAX_ANIME_ID = 2**31 - 1  # the packed copy of a list stores ids as int32 (pipeline/packed.py)
USER_LIST_STATES = frozenset({"public", "private", "missing"})


class ValidationError(ValueError):
    def __init__(self, kind: str, reason: str, detail: str) -> None:
        super().__init__(f"invalid {kind}: {reason}: {detail}")
        self.kind = kind
        self.reason = reason
        self.detail = detail


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(kind: str, name: str, value: Any, *, minimum: int = 0, maximum: int | None = None,
         optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if not _is_int(value):
        raise ValidationError(kind, f"bad_{name}", f"{name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise ValidationError(kind, f"bad_{name}", f"{name} must be {bounds}, got {value}")
    return value


def _text(kind: str, name: str, value: Any, *, optional: bool = True) -> str | None:
    if value is None:
        if optional:
            return None
        raise ValidationError(kind, f"missing_{name}", f"{name} is required")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # MAL serves some titles as JSON numbers (the show "86")
    if not isinstance(value, str):
        raise ValidationError(kind, f"bad_{name}", f"{name} must be text, got {type(value).__name__}")
    value = value.strip()
    if not value and not optional:
        raise ValidationError(kind, f"missing_{name}", f"{name} is empty")
    return value or None


def _text_list(kind: str, name: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValidationError(kind, f"bad_{name}", f"{name} must be a list of text, got {value!r}")
    return [v.strip() for v in value if v.strip()]


def _username(kind: str, value: Any) -> str:
    if value is None or value == "":
        raise ValidationError(kind, "missing_username", "username is required")
    if not isinstance(value, str) or not USERNAME_RE.match(value):
        raise ValidationError(kind, "bad_username", f"username {value!r} is not a valid MAL username")
    return value


def validate_anime(item: Mapping[str, Any]) -> dict[str, Any]:
    kind = "anime"
    if item.get("anime_id") is None:
        raise ValidationError(kind, "missing_anime_id", "anime_id is required")
    anime_id = _int(kind, "anime_id", item.get("anime_id"), minimum=1)
    score = item.get("score")
    if score is not None:
        if not isinstance(score, (int, float)) or isinstance(score, bool) or math.isnan(score):
            raise ValidationError(kind, "bad_score", f"score must be a number or null, got {score!r}")
        if not 0 <= score <= 10:
            raise ValidationError(kind, "bad_score", f"score must be 0..10, got {score}")
        score = float(score)
    return {
        "_id": anime_id,
        "anime_id": anime_id,
        "title": _text(kind, "title", item.get("title"), optional=False),
        "synopsis": _text(kind, "synopsis", item.get("synopsis")),
        "genres": _text_list(kind, "genres", item.get("genres")),
        "themes": _text_list(kind, "themes", item.get("themes")),
        "demographics": _text_list(kind, "demographics", item.get("demographics")),
        "type": _text(kind, "type", item.get("type")),
        "episodes": _int(kind, "episodes", item.get("episodes"), optional=True),
        "aired": _text(kind, "aired", item.get("aired")),
        "studios": _text_list(kind, "studios", item.get("studios")),
        "score": score,
        "members": _int(kind, "members", item.get("members"), optional=True),
        "image_url": _text(kind, "image_url", item.get("image_url")),
    }


def validate_entry(entry: Mapping[str, Any], kind: str = "animelist") -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise ValidationError(kind, "bad_entry", f"list entry must be an object, got {entry!r}")
    if entry.get("anime_id") is None:
        raise ValidationError(kind, "missing_anime_id", "a list entry has no anime_id")
    status = entry.get("status")
    if not _is_int(status) or status not in LIST_STATUSES:
        raise ValidationError(kind, "bad_status", f"status must be one of {sorted(LIST_STATUSES)}, got {status!r}")
    return {
        "anime_id": _int(kind, "anime_id", entry.get("anime_id"), minimum=1, maximum=MAX_ANIME_ID),
        "title": _text(kind, "title", entry.get("title")) or "",
        "score": _int(kind, "score", entry.get("score"), maximum=10),
        "status": status,
        "episodes_watched": _int(kind, "episodes_watched", entry.get("episodes_watched", 0)),
    }


def validate_animelist(item: Mapping[str, Any]) -> dict[str, Any]:
    kind = "animelist"
    username = _username(kind, item.get("username"))
    entries = item.get("entries")
    if not isinstance(entries, (list, tuple)):
        raise ValidationError(kind, "bad_entries", f"entries must be a list, got {type(entries).__name__}")
    clean = [validate_entry(e, kind) for e in entries]
    seen: set[int] = set()
    for entry in clean:
        if entry["anime_id"] in seen:
            raise ValidationError(kind, "duplicate_anime_id",
                                  f"anime {entry['anime_id']} appears twice in {username}'s list")
        seen.add(entry["anime_id"])
    return {"_id": username, "username": username, "entries": clean, "entries_count": len(clean)}


def validate_user(item: Mapping[str, Any]) -> dict[str, Any]:
    kind = "user"
    username = _username(kind, item.get("username"))
    doc: dict[str, Any] = {"_id": username, "username": username}
    state = item.get("list_status")
    if state is not None:
        if state not in USER_LIST_STATES:
            raise ValidationError(kind, "bad_list_status",
                                  f"list_status must be one of {sorted(USER_LIST_STATES)}, got {state!r}")
        doc["list_status"] = state
    for name, value in item.items():
        if name in ("username", "list_status", "_id"):
            continue
        if _is_int(value):
            doc[name] = _int(kind, name, value)  # profile counts are never negative
        elif value is None or isinstance(value, (str, float, bool, list, dict)):
            doc[name] = value
        else:
            raise ValidationError(kind, f"bad_{name}", f"{name} has an unsupported type {type(value).__name__}")
    return doc


VALIDATORS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "anime": validate_anime,
    "animelist": validate_animelist,
    "user": validate_user,
}
