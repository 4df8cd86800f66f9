"""Scrapy item pipeline: validate, buffer, and bulk-upsert items into MongoDB.

Settings:
- ``MONGO_URI`` (default: the ``MONGO_URI`` environment variable): where to write.
- ``MONGO_BATCH_SIZE`` (100): items per collection buffered before one unordered bulk upsert; writes run
  in the reactor thread pool, so the crawl does not wait on the store.
- ``MONGO_WRITE_RETRIES`` (5) and ``MONGO_RETRY_BACKOFF`` (0.5 s): transient-error retries.
- ``MONGO_FAILED_DIR`` (``data/failed``): documents that still could not be written are appended here
  as JSON lines and counted (``pipeline/write_failed/<collection>``), never dropped silently.

Invalid items are dropped with a logged reason and counted as ``pipeline/invalid/<kind>/<reason>``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from twisted.internet.threads import deferToThread

from pipeline.packed import packed_document
from pipeline.store import (
    COLLECTIONS,
    PACKED_LISTS,
    StoreWriteError,
    connect,
    ensure_indexes,
    upsert_many,
    with_retries,
)
from pipeline.validation import VALIDATORS, ValidationError

logger = logging.getLogger(__name__)


def item_kind(item: Any) -> str:
    kind = getattr(item, "KIND", None) or (item.get("kind") if isinstance(item, dict) else None)
    if kind not in VALIDATORS:
        raise DropItem(f"unknown item kind {kind!r} ({type(item).__name__})")
    return kind


class MongoPipeline:
    def __init__(self, uri: str, batch_size: int = 100, retries: int = 5, backoff_s: float = 0.5,
                 failed_dir: str | Path = "data/failed", stats: Any = None) -> None:
        self.uri = uri
        self.batch_size = batch_size
        self.retries = retries
        self.backoff_s = backoff_s
        self.failed_dir = Path(failed_dir)
        self.stats = stats
        self.buffers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.db = None
        self._spill_lock = threading.Lock()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MongoPipeline:
        settings = crawler.settings
        uri = settings.get("MONGO_URI") or os.environ.get("MONGO_URI")
        if not uri:
            raise NotConfigured("MONGO_URI is not set; items would go nowhere")
        return cls(uri, batch_size=settings.getint("MONGO_BATCH_SIZE", 100),
                   retries=settings.getint("MONGO_WRITE_RETRIES", 5),
                   backoff_s=settings.getfloat("MONGO_RETRY_BACKOFF", 0.5),
                   failed_dir=settings.get("MONGO_FAILED_DIR", "data/failed"), stats=crawler.stats)

    def open_spider(self, spider: Any = None) -> None:
        self.db = connect(self.uri)
        with_retries(lambda: ensure_indexes(self.db), what="creating indexes", retries=self.retries,
                     backoff_s=self.backoff_s)

    def close_spider(self, spider: Any = None) -> None:
        for kind in list(self.buffers):
            self.flush(kind)
        if self.db is not None:
            self.db.client.close()

    def _inc(self, key: str, count: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, count)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        kind = item_kind(item)
        try:
            doc = VALIDATORS[kind](ItemAdapter(item).asdict())
        except ValidationError as exc:
            self._inc(f"pipeline/invalid/{kind}/{exc.reason}")
            logger.warning("dropped %s: %s", kind, exc)
            raise DropItem(str(exc)) from exc
        buffer = self.buffers[kind]
        buffer.append(doc)
        if len(buffer) < self.batch_size:
            return item
        docs, self.buffers[kind] = buffer, []
        from twisted.internet import reactor

        if not reactor.running:  # called outside a crawl (scripts, unit tests): write in place
            self.write_batch(kind, docs)
            return item
        # pymongo blocks: write in Scrapy's thread pool so the crawl goes on meanwhile. The item is done
        # (and, on the shared frontier, its request acknowledged) only once its batch is written.
        return deferToThread(self.write_batch, kind, docs).addCallback(lambda _: item)

    def flush(self, kind: str) -> None:
        docs, self.buffers[kind] = self.buffers[kind], []
        self.write_batch(kind, docs)

    def write_batch(self, kind: str, docs: list[dict[str, Any]]) -> None:
        # A discovered-only user must not look as if its list had been fetched.
        fetched = [d for d in docs if kind != "user" or "list_status" in d]
        seen = [d for d in docs if kind == "user" and "list_status" not in d]
        written = self._write(COLLECTIONS[kind], fetched, "fetched_at")
        self._write(COLLECTIONS[kind], seen, "seen_at")
        if kind == "animelist":
            self._write_packed(written)

    def _write(self, collection: str, docs: list[dict[str, Any]], stamp: str) -> list[dict[str, Any]]:
        """Upsert ``docs``; returns those written (the rest are counted, logged and spilled)."""
        if not docs:
            return []
        try:
            result = upsert_many(self.db, collection, docs, retries=self.retries, backoff_s=self.backoff_s,
                                 stamp=stamp)
            self._inc(f"pipeline/written/{collection}", len(docs))
            self._inc(f"pipeline/inserted/{collection}", result.upserted)
            return docs
        except StoreWriteError as exc:
            self._inc(f"pipeline/write_failed/{collection}", len(exc.documents))
            self._inc(f"pipeline/written/{collection}", len(docs) - len(exc.documents))
            path = self.spill(collection, exc.documents)
            logger.error("%s; the %d documents were saved to %s for a later re-load",
                         exc, len(exc.documents), path)
            failed = {d["_id"] for d in exc.documents}
            return [d for d in docs if d["_id"] not in failed]

    def _write_packed(self, lists: list[dict[str, Any]]) -> None:
        """The packed copies of the lists just written (pipeline/packed.py). Not spilled when they fail: they
        are derived from the stored lists. A missing copy is rebuilt by the next training run (counts differ);
        a stale one (a re-crawled list) only by ``animerec train --rebuild-packed``, which the error says."""
        if not lists:
            return
        docs = [packed_document(d) for d in lists]
        try:
            upsert_many(self.db, PACKED_LISTS, docs, retries=self.retries, backoff_s=self.backoff_s)
            self._inc(f"pipeline/written/{PACKED_LISTS}", len(docs))
        except StoreWriteError as exc:
            self._inc(f"pipeline/write_failed/{PACKED_LISTS}", len(exc.documents))
            logger.error("%s; the lists themselves are stored: run `animerec train --rebuild-packed` so that "
                         "training reads them", exc)

    def spill(self, collection: str, documents: list[dict[str, Any]]) -> Path:
        self.failed_dir.mkdir(parents=True, exist_ok=True)
        path = self.failed_dir / f"{collection}.jsonl"
        with self._spill_lock, path.open("a", encoding="utf-8") as out:
            for doc in documents:
                out.write(json.dumps(doc, default=str) + "\n")
        return path
