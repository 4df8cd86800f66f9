"""Downloader middleware rendering marked requests in headless Chromium, off the reactor.

Requests carrying ``meta["browser"]`` (see :mod:`crawler.browser.request`) are loaded by a pool of
long-lived browsers driven from a dedicated thread pool, so the Twisted reactor keeps downloading the
plain-HTTP requests (and other pages render) while Selenium blocks; unmarked requests pass through.

Settings (defaults in brackets):

- ``BROWSER_ENABLED`` [True]: install the middleware. Browsers start lazily, on the first marked request,
  so a crawl without marked requests never starts Chromium.
- ``BROWSER_DRIVER_PATH`` ["/usr/bin/chromedriver"], ``BROWSER_BINARY`` ["/usr/bin/chromium"]: Debian's
  chromium-driver and chromium. Selenium Manager is never used.
- ``BROWSER_ARGS`` [[]]: extra Chromium flags, added to the container-safe base flags of
  :data:`crawler.browser.driver.BASE_ARGS`.
- ``BROWSER_LOCAL_ONLY`` [False]: add ``--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 ,
  EXCLUDE localhost`` so Chromium resolves nothing but loopback (tests, CI, the demo).
- ``BROWSER_POOL_SIZE`` [1]: browsers (and render threads) per worker process; each costs ~1 GB RSS.
- ``BROWSER_RESTART_EVERY`` [200]: pages rendered before a browser is replaced (bounds memory creep);
  a browser that crashed is always replaced, and the page retried once on the new one.
- ``BROWSER_WAIT_TIMEOUT`` [20]: seconds to wait for the request's ``wait_for`` selector.
- ``BROWSER_PAGE_LOAD_TIMEOUT`` [30]: seconds for the page load itself.
- ``BROWSER_USER_AGENT`` [None]: the browser's User-Agent (``None``: Chromium's own).

Status codes: the HTTP status comes from the Navigation Timing API (``responseStatus``); a captcha,
ban or rate-limit page recognised from its content (:func:`crawler.politeness.blocks.classify_block`)
overrides it with 403/429, so the politeness budget and the retry middleware treat it as such. The
response carries the flag ``"browser"`` and, for block pages, ``"blocked:<reason>"``.

Failures become Twisted errors that Scrapy's RetryMiddleware retries: a ``wait_for`` selector that never
appears on a normal page -> ``TimeoutError``; a browser that crashes twice or an unreachable site ->
``ConnectionLost`` / ``ConnectError``.

Stats: ``browser/pages``, ``browser/render_seconds``, ``browser/starts``, ``browser/restarts/scheduled``,
``browser/restarts/crash``, ``browser/wait_timeouts``, ``browser/blocked/<reason>``.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import error as net_error
from twisted.internet import reactor, threads
from twisted.python.threadpool import ThreadPool

from crawler.browser.driver import BrowserConfig, build_driver
from crawler.browser.request import get_marker
from crawler.politeness.blocks import STATUS_OF_BLOCK, classify_block

logger = logging.getLogger(__name__)

# Messages of WebDriverExceptions that mean the browser (not the page) is gone.
_CRASH_MARKERS = ("invalid session id", "session deleted", "chrome not reachable", "tab crashed",
                  "target window already closed", "disconnected", "no such window", "connection refused",
                  "max retries exceeded", "failed to establish a new connection")
_NET_ERROR = re.compile(r"net::ERR_[A-Z_]+")
_STATUS_JS = ("const e = performance.getEntriesByType('navigation')[0];"
              "return e && e.responseStatus ? e.responseStatus : null;")


@dataclass
class RenderResult:
    url: str
    html: str
    status: int
    blocked: str | None
    script_result: Any = None
    screenshot: bytes | None = None
    wait_timed_out: bool = False


class BrowserSlot:
    """One browser, used by one render thread at a time, replaced after a crash or N pages."""

    def __init__(self, config: BrowserConfig, restart_every: int, stats: Any = None) -> None:
        self.config = config
        self.restart_every = restart_every
        self.stats = stats
        self.driver: Any = None
        self.pages = 0
        self._browser_pids: list[int] = []

    def _inc(self, key: str, value: float = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, value)

    def ensure(self) -> Any:
        if self.driver is not None and self.restart_every and self.pages >= self.restart_every:
            logger.info("restarting the browser after %d pages", self.pages)
            self._inc("browser/restarts/scheduled")
            self.quit()
        if self.driver is None:
            started = time.monotonic()
            self.driver = build_driver(self.config)
            self._browser_pids = _child_pids(self.driver.service.process.pid)
            self.pages = 0
            self._inc("browser/starts")
            logger.debug("browser started in %.2fs", time.monotonic() - started)
        return self.driver

    def quit(self) -> None:
        driver, self.driver = self.driver, None
        if driver is None:
            return
        process = getattr(getattr(driver, "service", None), "process", None)
        if process is not None and process.poll() is not None:
            # chromedriver is dead: driver.quit() would only retry a dead socket; kill the orphaned browser.
            _kill_pids(self._browser_pids)
            return
        try:
            driver.quit()
        except Exception:  # a crashed browser may not quit cleanly
            logger.debug("error while quitting the browser", exc_info=True)
            _kill_pids(self._browser_pids)

    def render(self, url: str, marker: dict[str, Any], default_timeout: float) -> RenderResult:
        from selenium.common.exceptions import TimeoutException, WebDriverException

        for attempt in (1, 2):
            driver = self.ensure()
            try:
                return self._render_once(driver, url, marker, default_timeout)
            except TimeoutException:
                raise
            except (WebDriverException, urllib3.exceptions.HTTPError, ConnectionError) as exc:
                message = (getattr(exc, "msg", None) or str(exc)).lower()
                if not any(m in message for m in _CRASH_MARKERS):
                    raise
                logger.warning("browser crashed while rendering %s (%s); restarting it (attempt %d)",
                               url, message.splitlines()[0][:120], attempt)
                self._inc("browser/restarts/crash")
                self.quit()
        raise net_error.ConnectionLost(f"the browser crashed twice while rendering {url}")

    def _render_once(self, driver: Any, url: str, marker: dict[str, Any], default_timeout: float) -> RenderResult:
        from selenium.common.exceptions import TimeoutException, WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            driver.get(url)
        except TimeoutException as exc:
            raise net_error.TimeoutError(f"page load of {url} timed out") from exc
        except WebDriverException as exc:
            # Navigation errors (DNS, refused, reset) come as "unknown error: net::ERR_...".
            match = _NET_ERROR.search(exc.msg or str(exc))
            if not match:
                raise
            raise net_error.ConnectError(string=f"Chromium could not load {url}: {match.group(0)}") from exc
        self.pages += 1
        current = driver.current_url
        if current.startswith("chrome-error://"):
            raise net_error.ConnectError(string=f"Chromium could not load {url} (network error page)")
        wait_timed_out = False
        if marker.get("wait_for"):
            timeout = marker.get("timeout") or default_timeout
            try:
                WebDriverWait(driver, timeout).until(
                    ec.presence_of_element_located((By.CSS_SELECTOR, marker["wait_for"]))
                )
            except TimeoutException:
                wait_timed_out = True
        html = driver.page_source
        blocked = classify_block(html)
        status = driver.execute_script(_STATUS_JS) or 200
        if blocked:
            status = STATUS_OF_BLOCK[blocked] if status < 400 else status
        elif wait_timed_out and status < 400:
            raise net_error.TimeoutError(
                f"{marker['wait_for']!r} did not appear on {url} within {marker.get('timeout') or default_timeout}s"
            )
        script_result = driver.execute_script(marker["script"]) if marker.get("script") and not blocked else None
        screenshot = driver.get_screenshot_as_png() if marker.get("screenshot") else None
        return RenderResult(url=driver.current_url, html=html, status=int(status), blocked=blocked,
                            script_result=script_result, screenshot=screenshot, wait_timed_out=wait_timed_out)


def _child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc): the browser processes chromedriver started."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields and int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _kill_pids(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class BrowserMiddleware:
    def __init__(self, config: BrowserConfig, pool_size: int = 1, restart_every: int = 200,
                 wait_timeout: float = 20.0, stats: Any = None) -> None:
        if pool_size < 1:
            raise ValueError("BROWSER_POOL_SIZE must be at least 1")
        self.config = config
        self.wait_timeout = wait_timeout
        self.stats = stats
        self.slots: queue.Queue[BrowserSlot] = queue.Queue()
        self._all_slots = [BrowserSlot(config, restart_every, stats) for _ in range(pool_size)]
        for slot in self._all_slots:
            self.slots.put(slot)
        self.threadpool = ThreadPool(minthreads=0, maxthreads=pool_size, name="browser")
        self._started = False
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BrowserMiddleware:
        settings = crawler.settings
        if not settings.getbool("BROWSER_ENABLED", True):
            raise NotConfigured("BROWSER_ENABLED is off")
        mw = cls(
            BrowserConfig.from_settings(settings),
            pool_size=settings.getint("BROWSER_POOL_SIZE", 1),
            restart_every=settings.getint("BROWSER_RESTART_EVERY", 200),
            wait_timeout=settings.getfloat("BROWSER_WAIT_TIMEOUT", 20.0),
            stats=crawler.stats,
        )
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def _start_pool(self) -> None:
        with self._lock:
            if not self._started:
                self.threadpool.start()
                reactor.addSystemEventTrigger("before", "shutdown", self.close)
                self._started = True

    def render(self, url: str, marker: dict[str, Any]) -> RenderResult:
        """Render one page synchronously (in the calling thread) on a free browser of the pool."""
        slot = self.slots.get()
        try:
            return slot.render(url, marker, self.wait_timeout)
        finally:
            self.slots.put(slot)

    async def process_request(self, request: Request, spider: Any = None) -> HtmlResponse | None:
        marker = get_marker(request)
        if marker is None:
            return None
        if self._closed:
            raise net_error.ConnectionLost("the browser pool is closed")
        self._start_pool()
        started = time.monotonic()
        result: RenderResult = await maybe_deferred_to_future(
            threads.deferToThreadPool(reactor, self.threadpool, self.render, request.url, marker)
        )
        self._inc("browser/pages")
        self._inc("browser/render_seconds", round(time.monotonic() - started, 3))
        flags = ["browser"]
        if result.blocked:
            self._inc(f"browser/blocked/{result.blocked}")
            flags.append(f"blocked:{result.blocked}")
            logger.warning("%s page served instead of %s", result.blocked, request.url)
        if result.wait_timed_out:
            self._inc("browser/wait_timeouts")
        if result.script_result is not None:
            request.meta["browser_script_result"] = result.script_result
        if result.screenshot is not None:
            request.meta["browser_screenshot"] = result.screenshot
        return HtmlResponse(url=result.url, status=result.status, body=result.html.encode("utf-8"),
                            encoding="utf-8", request=request, flags=flags)

    def _inc(self, key: str, value: float = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, value)

    def spider_closed(self, spider: Any = None) -> None:
        self.close()

    def close(self) -> None:
        """Quit every browser and stop the render threads; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        for slot in self._all_slots:
            slot.quit()
        if self._started:
            self.threadpool.stop()
