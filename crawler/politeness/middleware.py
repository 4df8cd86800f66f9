"""Downloader middleware spending the politeness budget shared by all workers.

Before each request it takes a send slot from the site's token bucket (waiting on the reactor's clock,
never blocking it); after each response it turns 429 into a pause for every worker (honouring
Retry-After, which Scrapy itself ignores) and a 403 or a captcha/ban page into a shared pause with
exponential backoff, then retries the request. Scrapy's DOWNLOAD_DELAY, concurrency limits and
AutoThrottle are per process; this budget is what keeps N workers together under one rate.

Settings (defaults in brackets):

- ``BUDGET_ENABLED`` [True].
- ``BUDGET_RATE`` [0.5]: requests per second per site, for all workers together.
- ``BUDGET_BURST`` [1]: requests that may go at once after a quiet spell.
- ``BUDGET_SITE_RATES`` [{}]: per-site overrides, ``{"myanimelist.net": 0.3}``.
- ``BUDGET_REDIS_URL`` [None, then ``REDIS_URL``]: the shared Redis; without one, an in-process bucket
  with the same rules is used (fine for a single worker).
- ``BUDGET_KEY_PREFIX`` ["budget"]: Redis key prefix (keys ``<prefix>:<site>:tat|pause|ban_level``).
- ``BUDGET_RETRY_AFTER_DEFAULT`` [30]: pause in seconds for a 429 without a usable Retry-After.
- ``BUDGET_RETRY_AFTER_MAX`` [3600]: longest Retry-After honoured.
- ``BUDGET_BAN_STATUSES`` [[403]]: statuses that mean "banned".
- ``BUDGET_BAN_BACKOFF`` [60] and ``BUDGET_BAN_BACKOFF_MAX`` [3600]: first ban pause and its cap, in seconds.
- ``BUDGET_DETECT_BLOCK_PAGES`` [True]: also recognise captcha/ban/rate-limit pages served with HTTP 200.
- ``BUDGET_MAX_RETRIES`` [10]: retries of one request after 429s and bans (then the response is passed on).
- ``BUDGET_LATE_TOLERANCE`` [0.25]: a send slot this process wakes up for later than this fraction of the
  interval (busy reactor) is given up for a new one (stat ``budget/late_slots``).

Where the token is spent: here, in ``process_request``, unless the request's scheme is served by
:class:`crawler.politeness.handler.BudgetDownloadHandler` (recommended: it waits *after* Scrapy's
per-domain queue, right before sending); browser-rendered requests always spend here.

Requests with ``meta["budget_exempt"] = True`` skip the bucket. The site is the request's host.

Stats: ``budget/wait_seconds/<reason>`` (``rate``, ``retry_after``, ``ban``) and ``budget/waits/<reason>``,
``budget/pauses/retry_after``, ``budget/pauses/ban``, ``budget/ban_level_max``, and retries under
``budget/retry/...``.
"""

from __future__ import annotations

import email.utils
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import NotConfigured
from scrapy.http import Response, TextResponse
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import reactor, task, threads

from crawler.politeness.blocks import classify_block
from crawler.politeness.bucket import RATE, RETRY_AFTER, LocalBudget, RedisBudget

logger = logging.getLogger(__name__)


def site_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def parse_retry_after(value: str | bytes | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); ``None`` when unusable."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


async def sleep(seconds: float) -> None:
    """Wait on the reactor's clock (works with any reactor, blocks nothing)."""
    await maybe_deferred_to_future(task.deferLater(reactor, seconds, lambda: None))


HANDLER_PATH = "crawler.politeness.handler.BudgetDownloadHandler"
_BUDGET_ATTR = "_politeness_budget"


def budget_for(crawler: Crawler) -> Any:
    """The crawler's one budget (Redis or local), shared by the middleware and the download handler."""
    budget = getattr(crawler, _BUDGET_ATTR, None)
    if budget is not None:
        return budget
    s = crawler.settings
    rules = dict(rate=s.getfloat("BUDGET_RATE", 0.5), burst=s.getint("BUDGET_BURST", 1),
                 site_rates=s.getdict("BUDGET_SITE_RATES"),
                 ban_backoff=s.getfloat("BUDGET_BAN_BACKOFF", 60.0),
                 ban_backoff_max=s.getfloat("BUDGET_BAN_BACKOFF_MAX", 3600.0))
    url = s.get("BUDGET_REDIS_URL") or s.get("REDIS_URL")
    if url:
        budget = RedisBudget.from_url(url, prefix=s.get("BUDGET_KEY_PREFIX", "budget"), **rules)
        budget.server.ping()  # fail at start-up with a clear error, not on the first request
        logger.info("politeness budget: %.3g req/s per site shared through Redis %s", rules["rate"], url)
    else:
        budget = LocalBudget(**rules)
        logger.info("politeness budget: %.3g req/s per site, this process only (no Redis)", rules["rate"])
    setattr(crawler, _BUDGET_ATTR, budget)
    return budget


async def spend(budget: Any, site: str, stats: Any = None, use_threads: bool = True,
                late_tolerance: float = 0.25, max_late_retries: int = 3) -> None:
    """Wait (on the reactor) until ``site`` may be sent one request by this worker.

    A reserved slot that this process wakes up for too late (the reactor was busy parsing or writing)
    is given up and a new one taken: sending late would put this request right next to the following
    one, sent on time by another worker, and a strict site counts that as a burst.
    ``late_tolerance`` is the fraction of the interval allowed.
    """

    def inc(key: str, value: float = 1) -> None:
        if stats is not None:
            stats.inc_value(key, value)

    late_retries = 0
    while True:
        asked = time.monotonic()
        if use_threads:
            wait = await maybe_deferred_to_future(threads.deferToThread(budget.acquire, site))
        else:
            wait = budget.acquire(site)
        if wait.seconds > 0:
            inc(f"budget/wait_seconds/{wait.reason}", round(wait.seconds, 3))
            inc(f"budget/waits/{wait.reason}")
            if wait.reason != RATE:
                logger.info("%s is paused (%s) for %.1fs more; waiting", site, wait.reason, wait.seconds)
            await sleep(wait.seconds)
        if wait.reason != RATE:
            continue
        late = time.monotonic() - (asked + wait.seconds)
        if late > late_tolerance / budget.rate_of(site) and late_retries < max_late_retries:
            late_retries += 1
            inc("budget/late_slots")
            continue
        return


class PolitenessMiddleware:
    def __init__(self, budget: Any, stats: Any = None, retry_after_default: float = 30.0,
                 retry_after_max: float = 3600.0, ban_statuses: tuple[int, ...] = (403,),
                 detect_block_pages: bool = True, max_retries: int = 10, use_threads: bool = True) -> None:
        self.budget = budget
        self.stats = stats
        self.retry_after_default = retry_after_default
        self.retry_after_max = retry_after_max
        self.ban_statuses = frozenset(ban_statuses)
        self.detect_block_pages = detect_block_pages
        self.max_retries = max_retries
        # Redis round trips go to the reactor's thread pool; the local bucket is just a lock and arithmetic.
        self.use_threads = use_threads
        self._banned_sites: set[str] = set()
        self.crawler: Crawler | None = None
        self.late_tolerance = 0.25
        self.handler_spends: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PolitenessMiddleware:
        s = crawler.settings
        if not s.getbool("BUDGET_ENABLED", True):
            raise NotConfigured("BUDGET_ENABLED is off")
        budget = budget_for(crawler)
        mw = cls(budget, stats=crawler.stats,
                 retry_after_default=s.getfloat("BUDGET_RETRY_AFTER_DEFAULT", 30.0),
                 retry_after_max=s.getfloat("BUDGET_RETRY_AFTER_MAX", 3600.0),
                 ban_statuses=tuple(int(x) for x in s.getlist("BUDGET_BAN_STATUSES", [403])),
                 detect_block_pages=s.getbool("BUDGET_DETECT_BLOCK_PAGES", True),
                 max_retries=s.getint("BUDGET_MAX_RETRIES", 10),
                 use_threads=isinstance(budget, RedisBudget))
        mw.crawler = crawler
        mw.late_tolerance = s.getfloat("BUDGET_LATE_TOLERANCE", 0.25)
        handlers = {**s.getdict("DOWNLOAD_HANDLERS_BASE"), **s.getdict("DOWNLOAD_HANDLERS")}
        # With the budget download handler the token is taken right before the bytes go out (after
        # Scrapy's per-domain queue); otherwise here, before that queue.
        mw.handler_spends = {scheme for scheme, path in handlers.items() if path == HANDLER_PATH}
        return mw

    async def _call(self, fn: Any, *args: Any) -> Any:
        if self.use_threads:
            return await maybe_deferred_to_future(threads.deferToThread(fn, *args))
        return fn(*args)

    def _inc(self, key: str, value: float = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, value)

    async def process_request(self, request: Request, spider: Any = None) -> None:
        if request.meta.get("budget_exempt"):
            return None
        # Browser-rendered requests never reach a download handler: they always spend here.
        if urlsplit(request.url).scheme in self.handler_spends and not request.meta.get("browser"):
            return None
        await spend(self.budget, site_of(request.url), self.stats, self.use_threads, self.late_tolerance)
        return None

    def _block_reason(self, response: Response) -> str | None:
        for flag in response.flags:
            if flag.startswith("blocked:"):
                return flag.split(":", 1)[1]
        if self.detect_block_pages and response.status == 200 and isinstance(response, TextResponse):
            return classify_block(response.body)
        return None

    async def process_response(self, request: Request, response: Response, spider: Any = None) -> Request | Response:
        if request.meta.get("budget_exempt"):
            return response
        site = site_of(request.url)
        block = self._block_reason(response)
        if response.status == 429 or block == "rate_limit":
            header = response.headers.get(b"Retry-After")
            seconds = parse_retry_after(header)
            if seconds is None:
                seconds = self.retry_after_default
            seconds = min(seconds, self.retry_after_max)
            paused = await self._call(self.budget.pause, site, seconds, RETRY_AFTER)
            self._inc("budget/pauses/retry_after")
            logger.warning("429 from %s: every worker pauses %s for %.1fs (Retry-After: %s)", request.url, site,
                           paused, header.decode("latin-1") if header else "absent")
            return self._retry(request, response, "429")
        if response.status in self.ban_statuses or block in ("ban", "captcha"):
            why = block or f"http_{response.status}"
            pause, level = await self._call(self.budget.ban, site)
            self._banned_sites.add(site)
            if pause > 0:
                self._inc("budget/pauses/ban")
                if self.stats is not None:
                    self.stats.max_value("budget/ban_level_max", level)
                logger.warning("%s (%s) at %s: every worker pauses %s for %.1fs (ban level %d)", why,
                               response.status, request.url, site, pause, level)
            return self._retry(request, response, why)
        if site in self._banned_sites:
            self._banned_sites.discard(site)
            await self._call(self.budget.clear_ban, site)
        return response

    def _retry(self, request: Request, response: Response, reason: str) -> Request | Response:
        if self.crawler is None or self.crawler.spider is None:
            raise RuntimeError("PolitenessMiddleware must be built with from_crawler to retry requests")
        retry = get_retry_request(request, spider=self.crawler.spider, reason=reason,
                                  max_retry_times=self.max_retries, stats_base_key="budget/retry")
        return retry if retry is not None else response
