"""Token buckets per site, with shared pauses: in Redis for many workers, in process for one.

Both classes have the same interface, used by :class:`crawler.politeness.middleware.PolitenessMiddleware`:

- ``acquire(site) -> Wait``: take the next send slot of ``site``. ``Wait.reason == "rate"``: the slot is
  reserved, send after ``Wait.seconds`` (0: now). Any other reason (``"retry_after"``, ``"ban"``): the
  site is paused for everyone, nothing was reserved; wait that long and ask again.
- ``pause(site, seconds, reason)``: pause ``site`` for every worker (never shortens a longer pause).
- ``ban(site)``: a ban or captcha was seen: pause for ``backoff * 2**(level-1)`` (capped), where ``level``
  counts consecutive bans; a ban seen while the site is already paused for a ban does not escalate
  (the requests that were in flight when the first one hit all come back banned).
- ``clear_ban(site)``: a normal page after a ban: the next ban starts from the base backoff again.

The Redis bucket is a GCRA ("virtual scheduling") reservation in one Lua script, using the Redis
server's clock, so any number of workers on any number of machines together send at most ``burst``
requests at once and then one every ``1/rate`` seconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

RATE = "rate"
RETRY_AFTER = "retry_after"
BAN = "ban"


@dataclass(frozen=True)
class Wait:
    seconds: float
    reason: str


# KEYS: tat, pause.  ARGV: interval_us, burst.  Returns {wait_us, reason}.
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local p = redis.call('HMGET', KEYS[2], 'until', 'reason')
if p[1] and tonumber(p[1]) > now then
  return {tonumber(p[1]) - now, p[2] or 'pause'}
end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - burst * interval - now
if wait < 0 then wait = 0 end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {wait, 'rate'}
"""

# KEYS: pause.  ARGV: seconds_us, reason.  Returns the remaining pause in us.
_PAUSE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local current = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
local want = now + tonumber(ARGV[1])
if want > current then
  redis.call('HSET', KEYS[1], 'until', string.format('%.0f', want), 'reason', ARGV[2])
  redis.call('PEXPIREAT', KEYS[1], math.ceil(want / 1000) + 1000)
  return want - now
end
return current - now
"""

# KEYS: pause, level.  ARGV: base_us, max_us, level_ttl_ms.  Returns {pause_us, level}; pause 0 = no escalation.
_BAN_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local p = redis.call('HMGET', KEYS[1], 'until', 'reason')
if p[1] and tonumber(p[1]) > now and p[2] == 'ban' then
  return {0, tonumber(redis.call('GET', KEYS[2]) or '1')}
end
local level = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
local pause = tonumber(ARGV[1]) * (2 ^ (level - 1))
if pause > tonumber(ARGV[2]) then pause = tonumber(ARGV[2]) end
local want = now + pause
local current = tonumber(p[1] or '0')
if want > current then
  redis.call('HSET', KEYS[1], 'until', string.format('%.0f', want), 'reason', 'ban')
  redis.call('PEXPIREAT', KEYS[1], math.ceil(want / 1000) + 1000)
end
return {pause, level}
"""

# KEYS: pause, level. Resets the ban level unless a ban pause is running.
_CLEAR_BAN_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local p = redis.call('HMGET', KEYS[1], 'until', 'reason')
if p[1] and tonumber(p[1]) > now and p[2] == 'ban' then return 0 end
return redis.call('DEL', KEYS[2])
"""


class _Rules:
    def __init__(self, rate: float, burst: int = 1, site_rates: dict[str, float] | None = None,
                 ban_backoff: float = 60.0, ban_backoff_max: float = 3600.0, ban_memory: float = 6 * 3600.0) -> None:
        if rate <= 0:
            raise ValueError(f"the request rate must be positive, got {rate}")
        if burst < 1:
            raise ValueError(f"the burst must be at least 1, got {burst}")
        self.rate = float(rate)
        self.burst = int(burst)
        self.site_rates = {k: float(v) for k, v in (site_rates or {}).items()}
        self.ban_backoff = float(ban_backoff)
        self.ban_backoff_max = float(ban_backoff_max)
        self.ban_memory = float(ban_memory)

    def rate_of(self, site: str) -> float:
        return self.site_rates.get(site, self.rate)


class RedisBudget(_Rules):
    """The budget shared by every worker connected to the same Redis (keys ``<prefix>:<site>:...``)."""

    def __init__(self, server: Any, rate: float, burst: int = 1, prefix: str = "budget", **kwargs: Any) -> None:
        super().__init__(rate, burst, **kwargs)
        self.server = server
        self.prefix = prefix
        self._acquire = server.register_script(_ACQUIRE_LUA)
        self._pause = server.register_script(_PAUSE_LUA)
        self._ban = server.register_script(_BAN_LUA)
        self._clear_ban = server.register_script(_CLEAR_BAN_LUA)

    @classmethod
    def from_url(cls, url: str, rate: float, **kwargs: Any) -> RedisBudget:
        import redis

        server = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10, retry_on_timeout=True)
        return cls(server, rate, **kwargs)

    def _key(self, site: str, what: str) -> str:
        return f"{self.prefix}:{site}:{what}"

    def acquire(self, site: str) -> Wait:
        interval_us = 1_000_000.0 / self.rate_of(site)
        wait_us, reason = self._acquire(keys=[self._key(site, "tat"), self._key(site, "pause")],
                                        args=[interval_us, self.burst])
        return Wait(int(wait_us) / 1e6, reason.decode() if isinstance(reason, bytes) else str(reason))

    def pause(self, site: str, seconds: float, reason: str) -> float:
        remaining = self._pause(keys=[self._key(site, "pause")], args=[int(seconds * 1e6), reason])
        return int(remaining) / 1e6

    def ban(self, site: str) -> tuple[float, int]:
        pause_us, level = self._ban(keys=[self._key(site, "pause"), self._key(site, "ban_level")],
                                    args=[int(self.ban_backoff * 1e6), int(self.ban_backoff_max * 1e6),
                                          int(self.ban_memory * 1000)])
        return int(pause_us) / 1e6, int(level)

    def clear_ban(self, site: str) -> None:
        self._clear_ban(keys=[self._key(site, "pause"), self._key(site, "ban_level")])


class LocalBudget(_Rules):
    """The same budget for a single process (no Redis configured): same rules, process-local state."""

    def __init__(self, rate: float, burst: int = 1, clock: Any = time.monotonic, **kwargs: Any) -> None:
        super().__init__(rate, burst, **kwargs)
        self.clock = clock
        self._lock = threading.Lock()
        self._tat: dict[str, float] = {}
        self._pause_until: dict[str, tuple[float, str]] = {}
        self._ban_level: dict[str, tuple[int, float]] = {}

    def acquire(self, site: str) -> Wait:
        with self._lock:
            now = self.clock()
            until, reason = self._pause_until.get(site, (0.0, ""))
            if until > now:
                return Wait(until - now, reason)
            interval = 1.0 / self.rate_of(site)
            tat = max(self._tat.get(site, 0.0), now) + interval
            self._tat[site] = tat
            return Wait(max(0.0, tat - self.burst * interval - now), RATE)

    def pause(self, site: str, seconds: float, reason: str) -> float:
        with self._lock:
            now = self.clock()
            until, _ = self._pause_until.get(site, (0.0, ""))
            if now + seconds > until:
                self._pause_until[site] = (now + seconds, reason)
                return seconds
            return until - now

    def ban(self, site: str) -> tuple[float, int]:
        with self._lock:
            now = self.clock()
            until, reason = self._pause_until.get(site, (0.0, ""))
            level, seen = self._ban_level.get(site, (0, now))
            if now - seen > self.ban_memory:
                level = 0
            if until > now and reason == BAN:
                return 0.0, max(level, 1)
            level += 1
            self._ban_level[site] = (level, now)
            pause = min(self.ban_backoff_max, self.ban_backoff * 2 ** (level - 1))
            if now + pause > until:
                self._pause_until[site] = (now + pause, BAN)
            return pause, level

    def clear_ban(self, site: str) -> None:
        with self._lock:
            until, reason = self._pause_until.get(site, (0.0, ""))
            if until > self.clock() and reason == BAN:
                return
            self._ban_level.pop(site, None)
