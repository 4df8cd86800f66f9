"""Each list's entries packed into bytes, in a collection of its own, for the matrix reader.

``animelists`` keeps one readable document per user (entries as subdocuments: id, score, status,
episodes). Beside it, ``animelists_packed`` holds ``{_id: username, entries_packed, entries_count}``
with the same entries as 6 bytes each (little-endian int32 ``anime_id``, int8 ``score``, int8
``status``). The pipeline writes the packed copy right after the list, from the same validated
document; nothing else edits it.

Why a second collection: building the users x anime matrix from entry subdocuments is the slow part
of reading MAL-sized data, and a projection does not help, because the server reads whole
documents before projecting. Measured on the local server (1.66M entries, 9,750 lists): the list
documents read in 4.8 s (3.0 s server CPU, 1.6 s client CPU building dicts), the packed field
projected out of them in 1.6 s, the packed documents in 0.22 s (22x). The local server also decodes
a whole result set into memory before sending the first batch: ~3.5 GB for 5.6M entries as
subdocuments, which is why a full-size (57M) read of ``animelists`` is OOM-killed, against well
under 1 GB for the packed documents. A real MongoDB ships ~10x fewer bytes too.

The copy is derived data: if it is incomplete (counts differ: lists written by an older version, or a
crash between a new list's two writes), :func:`pipeline.readers.read_ratings` rebuilds it from the
entries. A re-crawled list whose packed write failed keeps its previous copy; the pipeline logs that
as an error naming the fix, ``animerec train --rebuild-packed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

FIELD = "entries_packed"
DTYPE = np.dtype([("anime_id", "<i4"), ("score", "i1"), ("status", "i1")])


def pack_entries(entries: Iterable[Mapping[str, Any]]) -> bytes:
    """``entries`` (validated: ints in range) as packed bytes, in list order."""
    rows = [(e["anime_id"], e["score"], e["status"]) for e in entries]
    return np.array(rows, dtype=DTYPE).tobytes() if rows else b""


def unpack_entries(data: bytes) -> np.ndarray:
    """Packed bytes as a structured array with fields ``anime_id``, ``score``, ``status``."""
    if len(data) % DTYPE.itemsize:
        raise ValueError(f"{FIELD} holds {len(data)} bytes, not a multiple of {DTYPE.itemsize}")
    return np.frombuffer(data, dtype=DTYPE)


def packed_document(list_doc: Mapping[str, Any]) -> dict[str, Any]:
    """The ``animelists_packed`` document for a validated ``animelists`` document."""
    entries = list_doc.get("entries") or []
    return {"_id": list_doc["_id"], FIELD: pack_entries(entries), "entries_count": len(entries)}
