"""The MongoDB layer: one URI, idempotent indexes, unordered bulk upserts with retries.

All writes are keyed by natural ids (``_id`` = MAL anime id or username), so a re-crawl updates
documents in place and never duplicates them. Transient connection errors are retried with
exponential backoff; what still fails is raised as :class:`StoreWriteError` carrying the documents,
so the caller can report or spill them — nothing is dropped silently.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import pymongo
from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import AutoReconnect, BulkWriteError, ConnectionFailure, NetworkTimeout

logger = logging.getLogger(__name__)

ANIME = "anime"
USERS = "users"
ANIMELISTS = "animelists"
PACKED_LISTS = "animelists_packed"  # each list's entries as bytes, for the matrix reader (pipeline/packed.py)
RECOMMENDATIONS = "recommendations"
RUNS = "runs"
COLLECTIONS = {"anime": ANIME, "user": USERS, "animelist": ANIMELISTS}

# (collection, keys, options): created idempotently at start; `_id` is unique already.
INDEXES: list[tuple[str, list[tuple[str, int]], dict[str, Any]]] = [
    (USERS, [("list_status", 1)], {}),
    (USERS, [("fetched_at", 1)], {}),
    (ANIMELISTS, [("fetched_at", 1)], {}),
    (RUNS, [("finished_at", -1)], {}),
]

TRANSIENT_ERRORS = (AutoReconnect, ConnectionFailure, NetworkTimeout)
T = TypeVar("T")


class StoreWriteError(RuntimeError):
    """A write that failed for good; ``documents`` are the ones not written."""

    def __init__(self, message: str, documents: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.documents = documents


def connect(uri: str | None = None, **client_options: Any) -> Database:
    """The database named in ``uri`` (default: ``MONGO_URI``), e.g. ``mongodb://host:27017/animerec``."""
    uri = uri or os.environ.get("MONGO_URI")
    if not uri:
        raise ValueError("no MongoDB URI: set MONGO_URI (e.g. mongodb://127.0.0.1:27017/animerec) "
                         "or run through `animerec`, which starts the embedded store")
    client_options.setdefault("serverSelectionTimeoutMS", 10_000)
    client: pymongo.MongoClient = pymongo.MongoClient(uri, **client_options)
    try:
        return client.get_default_database()
    except pymongo.errors.ConfigurationError as exc:
        raise ValueError(f"MONGO_URI must name the database, e.g. mongodb://host:27017/animerec ({exc})") from exc


def ensure_indexes(db: Database) -> None:
    for collection, keys, options in INDEXES:
        db[collection].create_index(keys, **options)


def with_retries(operation: Callable[[], T], *, what: str, retries: int = 5, backoff_s: float = 0.5) -> T:
    """Run ``operation``, retrying transient connection errors with exponential backoff."""
    for attempt in range(retries + 1):
        try:
            return operation()
        except TRANSIENT_ERRORS as exc:
            if attempt == retries:
                raise
            delay = backoff_s * 2**attempt
            logger.warning("%s failed (%s); retry %d/%d in %.1f s", what, exc, attempt + 1, retries, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


@dataclass
class UpsertResult:
    upserted: int = 0
    modified: int = 0
    matched: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def utcnow() -> datetime:
    return datetime.now(UTC)


def upsert_many(db: Database, collection: str, documents: Iterable[Mapping[str, Any]], *,
                retries: int = 5, backoff_s: float = 0.5, stamp: str | None = "fetched_at") -> UpsertResult:
    """Unordered bulk upsert by ``_id``: fields are ``$set`` (newer values win, fields written by other
    jobs such as topic vectors survive), ``first_seen`` is set once.

    Upserts are idempotent, so retrying a whole batch after a dropped connection is safe.
    """
    docs = [dict(d) for d in documents]
    if not docs:
        return UpsertResult()
    now = utcnow()
    ops = []
    for doc in docs:
        fields = {k: v for k, v in doc.items() if k != "_id"}
        if stamp:
            fields.setdefault(stamp, now)
        ops.append(UpdateOne({"_id": doc["_id"]}, {"$set": fields, "$setOnInsert": {"first_seen": now}},
                             upsert=True))
    try:
        result = with_retries(lambda: db[collection].bulk_write(ops, ordered=False),
                              what=f"bulk upsert of {len(ops)} into {collection}", retries=retries,
                              backoff_s=backoff_s)
    except BulkWriteError as exc:
        details = exc.details or {}
        failed = [docs[e["index"]] for e in details.get("writeErrors", [])]
        raise StoreWriteError(f"{len(failed)} of {len(docs)} writes to {collection} failed: "
                              f"{details.get('writeErrors', [])[:3]}", failed) from exc
    except TRANSIENT_ERRORS as exc:
        raise StoreWriteError(f"writes to {collection} failed after {retries} retries: {exc}", docs) from exc
    return UpsertResult(upserted=result.upserted_count, modified=result.modified_count,
                        matched=result.matched_count)
