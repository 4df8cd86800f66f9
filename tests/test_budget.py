"""The politeness budget shared by workers: a token bucket per site in Redis, shared pauses, bans."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from crawler.politeness.blocks import classify_block
from crawler.politeness.bucket import LocalBudget, RedisBudget
from crawler.politeness.middleware import parse_retry_after
from pipeline.embedded import LocalRedis as RedisServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_budget(request, redis_server):
    """Budgets of one kind that share state as separate workers would (separate Redis connections)."""
    kind = request.param
    prefix = f"t{time.monotonic_ns()}"
    shared_local: dict[str, LocalBudget] = {}

    def make(rate: float, **kwargs):
        if kind == "redis":
            return RedisBudget(redis_server.client(), rate, prefix=prefix, **kwargs)
        # A local budget is per process: "workers" in one process share the one instance.
        return shared_local.setdefault("b", LocalBudget(rate, **kwargs))

    return make


def max_in_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.parametrize("make_budget", ["redis", "local"], indirect=True)
def test_concurrent_clients_never_exceed_the_rate(make_budget):
    rate, clients, duration = 20.0, 8, 1.6
    sends: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker():
        budget = make_budget(rate)
        while True:
            wait = budget.acquire("example.org")
            assert wait.reason == "rate"
            time.sleep(wait.seconds)
            now = time.monotonic()
            if now > stop_at:
                return
            with lock:
                sends.append(now)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    # Burst 1: one request at once, then one every 1/rate s; +1 for sleep jitter at the window edges.
    assert max_in_window(sends) <= rate + 1, max_in_window(sends)
    assert len(sends) <= rate * duration + 2
    # ...and the budget is spent, not wasted: the clients together do get close to the rate.
    assert len(sends) >= rate * duration * 0.75, len(sends)


@pytest.mark.parametrize("make_budget", ["redis", "local"], indirect=True)
def test_sites_have_separate_buckets_and_burst(make_budget):
    budget = make_budget(2.0, burst=3, site_rates={"slow.example": 0.5})
    waits = [budget.acquire("a.example").seconds for _ in range(4)]
    assert waits[:3] == [0, 0, 0] and waits[3] == pytest.approx(0.5, abs=0.05)
    assert budget.acquire("b.example").seconds == 0  # another site, its own bucket
    slow = [budget.acquire("slow.example").seconds for _ in range(4)]
    assert slow[3] == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize("make_budget", ["redis", "local"], indirect=True)
def test_retry_after_pause_is_shared(make_budget):
    worker_a, worker_b = make_budget(50.0), make_budget(50.0)
    assert worker_b.acquire("site").reason == "rate"
    assert worker_a.pause("site", 0.6, "retry_after") == pytest.approx(0.6, abs=0.05)
    # A shorter pause never shortens a longer one.
    assert worker_b.pause("site", 0.1, "retry_after") == pytest.approx(0.6, abs=0.05)
    wait = worker_b.acquire("site")
    assert wait.reason == "retry_after" and 0.4 < wait.seconds <= 0.6
    assert worker_b.acquire("other-site").reason == "rate"  # pauses are per site
    time.sleep(wait.seconds + 0.02)
    wait = worker_b.acquire("site")
    assert wait.reason == "rate" and wait.seconds < 0.05


@pytest.mark.parametrize("make_budget", ["redis", "local"], indirect=True)
def test_ban_backoff_is_exponential_shared_and_resets(make_budget):
    a = make_budget(50.0, ban_backoff=0.2, ban_backoff_max=0.5)
    b = make_budget(50.0, ban_backoff=0.2, ban_backoff_max=0.5)
    pause, level = a.ban("site")
    assert (pause, level) == (pytest.approx(0.2), 1)
    # Responses already in flight come back banned too: they must not escalate the running pause.
    assert b.ban("site")[0] == 0
    wait = b.acquire("site")
    assert wait.reason == "ban" and wait.seconds == pytest.approx(0.2, abs=0.05)
    time.sleep(0.22)
    assert b.ban("site") == (pytest.approx(0.4), 2)  # banned again right after resuming: doubled
    time.sleep(0.42)
    assert a.ban("site") == (pytest.approx(0.5), 3)  # capped at ban_backoff_max
    time.sleep(0.52)
    a.clear_ban("site")  # a normal page after the pause: the next ban starts from the base again
    assert b.ban("site") == (pytest.approx(0.2), 1)


def test_retry_after_header_forms():
    assert parse_retry_after(b"7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_block_pages_are_recognised_from_content():
    assert classify_block(b'<html><div class="display-submit"><form>') == "captcha"
    assert classify_block("<title>429 Too Many Requests</title>") == "rate_limit"
    assert classify_block("<html><h1>Access denied</h1></html>") == "ban"
    # A title that merely contains a word is content, not a block page.
    assert classify_block("<title>Forbidden Love - MyAnimeList.net</title>") is None
    assert classify_block("<title>Cowboy Bebop - MyAnimeList.net</title><h1>Cowboy Bebop</h1>") is None


# -- the middleware inside a real Scrapy crawl (a subprocess: one reactor per process) -----------------

class _Site(http.server.BaseHTTPRequestHandler):
    """/limited: 429 + Retry-After the first time; /banned: 403 twice; /captcha: captcha page once."""

    hits: dict[str, int] = {}
    lock = threading.Lock()

    def do_GET(self):  # noqa: N802 (http.server's name)
        with self.lock:
            n = self.hits[self.path] = self.hits.get(self.path, 0) + 1
        if self.path == "/limited" and n == 1:
            self.send_response(429)
            self.send_header("Retry-After", "1")
            body = b"<title>429 Too Many Requests</title>"
        elif self.path == "/banned" and n <= 2:
            self.send_response(403)
            body = b"<title>403 Forbidden</title>"
        elif self.path == "/captcha" and n == 1:
            self.send_response(200)
            body = b'<html><body><div class="display-submit"><form></form></div></body></html>'
        else:
            self.send_response(200)
            body = f"<html><title>ok</title><body>{self.path}</body></html>".encode()
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


SPIDER = textwrap.dedent('''
    import json, sys
    import scrapy
    from scrapy.crawler import CrawlerProcess

    base, redis_url, out = sys.argv[1:4]

    class Probe(scrapy.Spider):
        name = "probe"
        async def start(self):
            for path in ("/limited", "/banned", "/captcha", "/plain"):
                yield scrapy.Request(base + path)
        def parse(self, response):
            yield {"path": response.url[len(base):], "status": response.status, "body": response.text[-40:]}

    items = []
    process = CrawlerProcess({
        "DOWNLOADER_MIDDLEWARES": {"crawler.politeness.middleware.PolitenessMiddleware": 950},
        "BUDGET_RATE": 20, "BUDGET_REDIS_URL": redis_url, "BUDGET_KEY_PREFIX": "probe",
        "BUDGET_BAN_BACKOFF": 0.5, "BUDGET_BAN_BACKOFF_MAX": 2,
        "LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False, "ROBOTSTXT_OBEY": False,
    })
    crawler = process.create_crawler(Probe)
    def collect(item, **kwargs):
        items.append(item)
    crawler.signals.connect(collect, signal=scrapy.signals.item_scraped)
    process.crawl(crawler)
    process.start()
    json.dump({"items": items, "stats": {k: v for k, v in crawler.stats.get_stats().items()
                                         if k.startswith(("budget", "retry"))}}, open(out, "w"))
''')


def test_middleware_pauses_for_retry_after_bans_and_captchas(tmp_path, redis_server):
    _Site.hits = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = tmp_path / "probe.py"
    script.write_text(SPIDER)
    out = tmp_path / "out.json"
    try:
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(script), f"http://127.0.0.1:{server.server_port}",
                               redis_server.url, str(out)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
    assert out.exists(), proc.stderr[-3000:]
    result = json.loads(out.read_text())
    items = {item["path"]: item for item in result["items"]}
    # Every page arrives in the end, each as the real page, never as the block page.
    assert set(items) == {"/limited", "/banned", "/captcha", "/plain"}, proc.stderr[-3000:]
    assert all(item["status"] == 200 and "display-submit" not in item["body"] for item in items.values())
    stats = result["stats"]
    assert stats["budget/pauses/retry_after"] == 1
    assert stats["budget/wait_seconds/retry_after"] >= 0.5
    # Two 403s and one captcha; the second 403 may land in the first ban's pause (no escalation).
    assert stats["budget/pauses/ban"] >= 2
    assert stats["budget/wait_seconds/ban"] >= 0.4
    assert stats["budget/waits/rate"] >= 1
    assert _Site.hits["/banned"] == 3 and _Site.hits["/captcha"] == 2 and _Site.hits["/limited"] == 2
    assert elapsed < 45
