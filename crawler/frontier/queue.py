"""A Redis priority queue that remembers what each worker has taken until it is done with it.

scrapy-redis's ``PriorityQueue`` forgets a request the moment a worker pops it, so a worker killed with
``kill -9`` (OOM killer, a preempted VM) silently loses everything it was downloading or parsing: the
dupefilter already knows those URLs, so nobody fetches them again. Here a pop moves the request, in one
Lua script, from the shared sorted set into the worker's *in-flight* hash; the request is removed from
there (acknowledged) once its response was fully processed, and a dead worker's in-flight requests are
put back in the queue by the survivors (see :mod:`crawler.frontier.scheduler`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from scrapy_redis.queue import PriorityQueue

META_KEY = "frontier"

# KEYS: queue, inflight. Pops the best request and records it (and its score) as in flight.
_POP_LUA = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #r == 0 then return nil end
redis.call('ZREM', KEYS[1], r[1])
local id = redis.sha1hex(r[1])
redis.call('HSET', KEYS[2], id, r[1], 'p:' .. id, r[2])
return {r[1], id}
"""

# KEYS: inflight, queue. Moves every in-flight request back into the queue, atomically.
_REQUEUE_LUA = """
local all = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #all, 2 do
  local field = all[i]
  if string.sub(field, 1, 2) ~= 'p:' then
    local score = redis.call('HGET', KEYS[1], 'p:' .. field) or '0'
    redis.call('ZADD', KEYS[2], score, all[i + 1])
    n = n + 1
  end
end
redis.call('DEL', KEYS[1])
return n
"""


def ack(server: Any, meta: dict[str, Any]) -> bool:
    """Forget the in-flight record of the request whose meta this is; True if there was one."""
    marker = meta.get(META_KEY)
    if not marker:
        return False
    return bool(server.hdel(marker["inflight"], marker["id"], "p:" + marker["id"]))


class ReliablePriorityQueue(PriorityQueue):
    """scrapy-redis's priority queue (same key, same encoding) plus per-worker in-flight records."""

    inflight_key: str | None = None  # set by the scheduler: "<queue key>:inflight:<worker id>"

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self._pop = server.register_script(_POP_LUA)
        self._requeue = server.register_script(_REQUEUE_LUA)

    def pop(self, timeout: int = 0) -> Any:
        if self.inflight_key is None:
            return super().pop(timeout)
        result = self._pop(keys=[self.key, self.inflight_key])
        if not result:
            return None
        data, record_id = result
        request = self._decode_request(data)
        record_id = record_id.decode() if isinstance(record_id, bytes) else record_id
        request.meta[META_KEY] = {"inflight": self.inflight_key, "id": record_id}
        return request

    def push(self, request: Any) -> None:
        # The in-flight marker names the worker that popped the request; it means nothing once requeued.
        request.meta.pop(META_KEY, None)
        super().push(request)

    def requeue(self, inflight_key: str) -> int:
        """Put every request recorded in ``inflight_key`` back in the queue; how many were moved."""
        return int(self._requeue(keys=[inflight_key, self.key]))

    @staticmethod
    def record_id(data: bytes) -> str:
        return hashlib.sha1(data).hexdigest()
