"""The hostile side of MAL, each behaviour off by default: rate limits, bans, captchas, 500s, slowness,
truncated bodies.

Random faults are drawn from a hash of (seed, fault, URL, how many times that URL was asked before), not
from a shared random stream: the same crawl meets the same faults whatever the request interleaving, and a
retry of a failed URL gets a fresh draw (so a retrying crawler eventually gets every page).
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import asdict, dataclass, fields


@dataclass
class FaultConfig:
    rate_limit: float = 0.0  # requests per second per client; 0 = unlimited
    burst: int = 1  # requests a client may send at once before the rate applies
    retry_after: int | None = None  # Retry-After seconds on 429; None = time until the next token
    ban_after: int = 0  # more than this many 429s within ban_window -> 403 ban; 0 = never ban
    ban_window: float = 60.0
    ban_seconds: float = 60.0  # how long a ban lasts
    captcha_rate: float = 0.0  # fraction of requests answered with the captcha page (HTTP 200)
    captcha_on_limit: bool = False  # answer over-rate requests with the captcha page instead of 429
    error_rate: float = 0.0  # fraction of requests answered with HTTP 500
    slow: float = 0.0  # seconds added to a response
    slow_rate: float = 1.0  # fraction of requests slowed when slow > 0
    truncate_rate: float = 0.0  # fraction of pages whose body is cut in half
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("captcha_rate", "error_rate", "slow_rate", "truncate_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a fraction in [0, 1], not {value}")
        if self.rate_limit < 0 or self.slow < 0 or self.burst < 1:
            raise ValueError("rate_limit and slow must be >= 0 and burst >= 1")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def as_dict(self) -> dict:
        return asdict(self)


def draw(seed: int, fault: str, url: str, attempt: int) -> float:
    """A reproducible number in [0, 1) for one fault decision on one fetch of a URL."""
    digest = hashlib.blake2b(f"{seed}|{fault}|{attempt}|{url}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class _Client:
    __slots__ = ("tokens", "last", "recent_429", "banned_until")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.last = now
        self.recent_429: deque[float] = deque()
        self.banned_until = 0.0


class Gate:
    """Per-client token buckets and bans. Not thread-safe: used from the server's event loop only."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._clients: dict[str, _Client] = {}

    def reset(self) -> None:
        self._clients.clear()

    def check(self, client: str, now: float) -> tuple[str | None, float]:
        """(None, 0) to serve; ("banned", secs left) / ("ban", secs) / ("rate_limited", retry_after)."""
        cfg = self.config
        if cfg.rate_limit <= 0:
            return None, 0.0
        state = self._clients.get(client)
        if state is None:
            state = self._clients[client] = _Client(float(cfg.burst), now)
        if state.banned_until > now:
            return "banned", state.banned_until - now
        state.tokens = min(float(cfg.burst), state.tokens + (now - state.last) * cfg.rate_limit)
        state.last = now
        if state.tokens >= 1.0:
            state.tokens -= 1.0
            return None, 0.0
        wait = (1.0 - state.tokens) / cfg.rate_limit
        if cfg.ban_after > 0:
            recent = state.recent_429
            recent.append(now)
            while recent and recent[0] <= now - cfg.ban_window:
                recent.popleft()
            if len(recent) > cfg.ban_after:
                recent.clear()
                state.banned_until = now + cfg.ban_seconds
                state.tokens = float(cfg.burst)
                return "ban", cfg.ban_seconds
        return "rate_limited", float(cfg.retry_after) if cfg.retry_after is not None else wait


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
