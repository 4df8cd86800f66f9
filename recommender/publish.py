"""Atomic publishing of a training run's recommendations.

Readers must see either the previous complete set or the new complete set, never a mix, and a job
that dies half-way must leave the previous set live. So a run never writes into the set people read:

1. its top-N lists go into a new collection ``recommendations_<run_id>`` (one document per user,
   bulk-inserted in batches);
2. once every batch is in, one single-document update switches the pointer ``runs {_id: "live"}``
   to the new run (a one-document update is atomic in MongoDB) — readers resolve the pointer first;
3. only then the ``recommendations`` *view* is re-pointed at the new collection (a convenience for
   people querying with the mongo shell or pymongo: ``db.recommendations.find_one({"_id": user})``);
4. and older versions are dropped, keeping the previous one so that a reader holding the old pointer
   still gets a complete answer.

A crash before step 2 leaves a partial ``recommendations_<run_id>`` that nobody points to; the next
successful publish drops it. A crash between 2 and 3 leaves the view one run behind (still a
complete set); the next publish re-points it.

Document layout of ``recommendations_<run_id>`` (and so of the view)::

    {_id: username, run_id, created_at,
     items: [{anime_id, title, image_url, score, cf, content, why: [anime_id, ...]}, ...],
     why_titles: {"<anime_id>": title, ...}}

Titles and image URLs are copied in at publish time so that a stored query is one ``find_one`` by
``_id`` (measured: a ``$in`` join on ``anime`` costs ~10 ms on the local server, the lookup ~0.7 ms).

Test hooks (environment variables read by :class:`Publisher`, used by tests/test_train.py to make a
crash mid-publish deterministic): ``ANIMEREC_PUBLISH_PAUSE_AFTER_BATCHES=K`` prints
``publish: paused after K batches`` on stderr and sleeps (the test then SIGKILLs the job);
``ANIMEREC_PUBLISH_FAIL_AFTER_BATCHES=K`` raises :class:`PublishError` after K batches.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import BulkWriteError, OperationFailure, PyMongoError

from pipeline.store import RECOMMENDATIONS, RUNS, with_retries

logger = logging.getLogger(__name__)

LIVE_ID = "live"
PREFIX = f"{RECOMMENDATIONS}_"
VIEW = RECOMMENDATIONS
DEFAULT_BATCH_SIZE = 1_000
PAUSE_ENV = "ANIMEREC_PUBLISH_PAUSE_AFTER_BATCHES"
FAIL_ENV = "ANIMEREC_PUBLISH_FAIL_AFTER_BATCHES"
RUN_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # also safe inside a collection name
DUPLICATE_KEY = 11000


class PublishError(RuntimeError):
    """Publishing failed; the previously published set is still live."""


def collection_for(run_id: str) -> str:
    """The versioned collection holding ``run_id``'s recommendations."""
    if not RUN_ID_RE.fullmatch(run_id):
        raise ValueError(f"run id {run_id!r} must match {RUN_ID_RE.pattern}")
    return PREFIX + run_id


def new_run_id(now: datetime | None = None) -> str:
    """A collection-name-safe id that sorts by start time: ``20261124T184400123456Z-1a2b3c``."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + os.urandom(3).hex()


def live_pointer(db: Database) -> dict[str, Any] | None:
    """The ``runs {_id: "live"}`` document (``run_id``, ``collection``, ``switched_at``), or None."""
    return db[RUNS].find_one({"_id": LIVE_ID})


def live_collection(db: Database) -> str | None:
    pointer = live_pointer(db)
    return pointer["collection"] if pointer else None


@dataclass
class PublishResult:
    run_id: str
    collection: str
    documents: int
    batches: int
    previous_run_id: str | None
    dropped: list[str]
    seconds: float
    store_wait_seconds: float = 0.0  # of ``seconds``, time the job sat waiting for the store's inserts


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else None


class Publisher:
    """Writes one run's documents into its own collection, then makes them live in one step.

    Use ``write(docs)`` any number of times (documents are buffered into batches of ``batch_size``
    and inserted unordered), then ``commit()``. ``abort()`` drops the partial collection; the live
    set is untouched until ``commit()`` switches the pointer.

    With ``background=True`` (the default) one writer thread inserts batch k while the caller builds
    batch k+1 (at most ``max_pending`` batches in flight), so scoring and the server's work overlap.
    The test hooks switch it off, so that "after K batches" means exactly K batches written.
    """

    def __init__(self, db: Database, run_id: str, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 keep_previous: bool = True, background: bool = True, max_pending: int = 2) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.db = db
        self.run_id = run_id
        self.collection = collection_for(run_id)
        self.batch_size = batch_size
        self.keep_previous = keep_previous
        self.documents = 0
        self.batches = 0
        self.store_wait_seconds = 0.0
        self.committed = False
        self._buffer: list[dict[str, Any]] = []
        self._started = time.perf_counter()
        self._pause_after = _env_int(PAUSE_ENV)
        self._fail_after = _env_int(FAIL_ENV)
        hooked = self._pause_after is not None or self._fail_after is not None
        self._executor = ThreadPoolExecutor(1, "publish") if background and not hooked else None
        self._pending: deque[Future[int]] = deque()
        self._max_pending = max(1, max_pending)
        if self.collection in db.list_collection_names():
            raise PublishError(f"{self.collection} exists already: run ids must be new")

    def write(self, documents: Iterable[Mapping[str, Any]]) -> int:
        """Buffer and insert ``documents``; returns how many were written so far."""
        for doc in documents:
            self._buffer.append(dict(doc))
            if len(self._buffer) >= self.batch_size:
                self._flush()
        return self.documents

    def _insert(self, batch: list[dict[str, Any]]) -> int:
        coll = self.db[self.collection]

        def insert() -> None:
            try:
                coll.insert_many(batch, ordered=False)
            except BulkWriteError as exc:
                # A retry after a dropped connection may meet the documents the first try wrote.
                errors = [e for e in (exc.details or {}).get("writeErrors", []) if e.get("code") != DUPLICATE_KEY]
                if errors:
                    raise PublishError(f"{len(errors)} of {len(batch)} documents could not be written to "
                                       f"{self.collection}: {errors[:3]}") from exc

        with_retries(insert, what=f"insert of {len(batch)} recommendation documents")
        return len(batch)

    def _flush(self) -> None:
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        if self._executor is None:
            started = time.perf_counter()
            written = self._insert(batch)
            self.store_wait_seconds += time.perf_counter() - started
            self._done(written)
            return
        self._pending.append(self._executor.submit(self._insert, batch))
        while len(self._pending) >= self._max_pending:
            self._done(self._wait(self._pending.popleft()))

    def _drain(self) -> None:
        while self._pending:
            self._done(self._wait(self._pending.popleft()))

    def _wait(self, future: Future[int]) -> int:
        """A background insert's result; the time spent blocked on it is the store's share of publishing."""
        started = time.perf_counter()
        try:
            return future.result()
        finally:
            self.store_wait_seconds += time.perf_counter() - started

    def _done(self, written: int) -> None:
        self.documents += written
        self.batches += 1
        self._hooks()

    def _hooks(self) -> None:
        if self._fail_after is not None and self.batches >= self._fail_after:
            raise PublishError(f"test hook {FAIL_ENV}={self._fail_after}: failing after {self.batches} batches")
        if self._pause_after is not None and self.batches >= self._pause_after:
            print(f"publish: paused after {self.batches} batches", file=sys.stderr, flush=True)
            while True:  # the test kills us here; this is the "crash mid-publish" moment
                time.sleep(3600)

    def commit(self) -> PublishResult:
        """Flush, switch the live pointer (atomic), re-point the view, drop versions older than the previous."""
        self._flush()
        self._drain()  # every batch is in before the pointer moves
        self._shutdown()
        if self.documents == 0:
            raise PublishError("nothing to publish: the run produced no recommendations; the previous set stays live")
        now = datetime.now(UTC)
        previous = with_retries(lambda: self.db[RUNS].find_one_and_update(
            {"_id": LIVE_ID},
            {"$set": {"run_id": self.run_id, "collection": self.collection, "switched_at": now,
                      "documents": self.documents, "kind": "pointer"}},
            upsert=True), what="switch of the live recommendations pointer")
        self.committed = True
        previous_run = previous.get("run_id") if previous else None
        if previous:
            self.db[RUNS].update_one({"_id": LIVE_ID}, {"$set": {"previous_run_id": previous_run,
                                                                 "previous_collection": previous["collection"]}})
        self._point_view()
        keep = {self.collection}
        if previous and self.keep_previous:
            keep.add(previous["collection"])
        dropped = self._drop_old(keep)
        seconds = time.perf_counter() - self._started
        logger.info("published %d recommendation lists as %s (previous: %s)", self.documents, self.collection,
                    previous_run)
        return PublishResult(self.run_id, self.collection, self.documents, self.batches, previous_run, dropped,
                             seconds, round(self.store_wait_seconds, 3))

    def abort(self) -> None:
        """Drop the partial collection (the live set was never touched). No-op once committed."""
        self._buffer = []
        for future in self._pending:  # let in-flight inserts finish (or fail) before dropping
            future.cancel()
            with contextlib.suppress(Exception):
                future.result()
        self._pending.clear()
        self._shutdown()
        if self.committed:
            return
        try:
            self.db.drop_collection(self.collection)
        except PyMongoError as exc:  # the next publish drops it anyway
            logger.warning("could not drop the partial %s: %s", self.collection, exc)

    def _shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _point_view(self) -> None:
        """Re-point the ``recommendations`` view; the pointer in ``runs`` stays the source of truth."""
        try:
            info = list(self.db.list_collections(filter={"name": VIEW}))
            if not info:
                self.db.command("create", VIEW, viewOn=self.collection, pipeline=[])
            elif info[0].get("type") == "view":
                self.db.command("collMod", VIEW, viewOn=self.collection, pipeline=[])
            else:
                logger.warning("%r is a plain collection, not a view: left alone; query through "
                               "recommender.query or runs.live", VIEW)
        except OperationFailure as exc:  # a server without views: the pointer still works
            logger.warning("could not point the %r view at %s: %s", VIEW, self.collection, exc)

    def _drop_old(self, keep: set[str]) -> list[str]:
        """Drop versions older than this run except ``keep``; never a newer run's (maybe in progress)."""
        dropped = []
        for name in sorted(self.db.list_collection_names()):
            if not name.startswith(PREFIX) or name in keep:
                continue
            # Run ids sort by time; a later one may be another job still writing: not ours to drop.
            if name[len(PREFIX):] < self.run_id:
                self.db.drop_collection(name)
                dropped.append(name)
        return dropped


def publish(db: Database, run_id: str, documents: Iterable[Mapping[str, Any]], *,
            batch_size: int = DEFAULT_BATCH_SIZE) -> PublishResult:
    """Write ``documents`` as ``run_id``'s set and make it live atomically (see the module docstring)."""
    publisher = Publisher(db, run_id, batch_size=batch_size)
    try:
        publisher.write(documents)
        return publisher.commit()
    except BaseException:
        publisher.abort()
        raise
