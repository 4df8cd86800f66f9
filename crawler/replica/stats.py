"""Request counters of the replica, served at ``/_replica/stats``.

Tests and benchmarks read them to check crawler politeness (no client above the rate, ``max_per_second``)
and efficiency (no URL served twice, ``duplicate_urls``). Counting happens on the event loop thread;
`snapshot` copies under a lock so another thread (a test) can read it safely.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict, deque


def path_kind(path: str) -> str:
    """A coarse name for the page type of a path, for per-kind counts."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return "home"
    head = parts[0]
    if head == "anime":
        return "anime_stats" if len(parts) >= 4 and parts[3] == "stats" else "anime"
    if head == "animelist":
        return "loadjson" if len(parts) >= 3 and parts[2] == "load.json" else "animelist"
    return {
        "profile": "profile", "users.php": "users", "topanime.php": "topanime", "robots.txt": "robots",
        "images": "image",
    }.get(head, "other")


class ClientStats:
    __slots__ = ("requests", "served", "rate_limited", "forbidden", "captchas", "window", "max_per_second")

    def __init__(self) -> None:
        self.requests = 0
        self.served = 0
        self.rate_limited = 0
        self.forbidden = 0
        self.captchas = 0
        self.window: deque[float] = deque()
        self.max_per_second = 0

    def as_dict(self) -> dict:
        return {"requests": self.requests, "served": self.served, "rate_limited": self.rate_limited,
                "forbidden": self.forbidden, "captchas": self.captchas, "max_per_second": self.max_per_second}


class ReplicaStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.started = time.time()
            self.requests = 0
            self.by_kind: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()
            self.faults: Counter[str] = Counter()
            self.bans = 0
            self.clients: defaultdict[str, ClientStats] = defaultdict(ClientStats)
            self.url_requests: Counter[str] = Counter()
            self.url_served: Counter[str] = Counter()

    def attempts(self, url: str) -> int:
        """How many times this URL was asked for before (draws a fresh fault decision per retry)."""
        return self.url_requests[url]

    def record_request(self, client: str, url: str, kind: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_kind[kind] += 1
            self.url_requests[url] += 1
            self.clients[client].requests += 1

    def record_response(self, client: str, url: str, status: int, fault: str | None, now: float) -> None:
        """`fault` names what the replica did instead of serving the page (None: served in full)."""
        with self._lock:
            self.by_status[status] += 1
            stats = self.clients[client]
            if fault:
                self.faults[fault] += 1
            if fault == "rate_limited":
                stats.rate_limited += 1
                return
            if fault in ("banned", "ban"):
                stats.forbidden += 1
                if fault == "ban":
                    self.bans += 1
                return
            if fault == "captcha":
                stats.captchas += 1
            # Anything that got past the rate limiter counts towards the client's rate.
            stats.served += 1
            window = stats.window
            window.append(now)
            while window and window[0] <= now - 1.0:
                window.popleft()
            stats.max_per_second = max(stats.max_per_second, len(window))
            if fault is None:
                self.url_served[url] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "uptime": round(time.time() - self.started, 3),
                "requests": self.requests,
                "by_kind": dict(sorted(self.by_kind.items())),
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "rate_limited": self.faults["rate_limited"],
                "forbidden": self.faults["banned"] + self.faults["ban"],
                "bans": self.bans,
                "captchas": self.faults["captcha"],
                "errors": self.faults["error"],
                "truncated": self.faults["truncated"],
                "slowed": self.faults["slow"],
                "clients": {c: s.as_dict() for c, s in sorted(self.clients.items())},
                "urls": dict(self.url_served),
                "duplicate_urls": {u: n for u, n in self.url_served.items() if n > 1},
                "url_requests": dict(self.url_requests),
            }
