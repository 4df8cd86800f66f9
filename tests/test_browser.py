"""The Selenium path: headless Chromium (Debian's, at /usr/bin) rendering JavaScript-drawn pages.

Chromium runs only with the host-resolver rules that keep every lookup on loopback.
"""

from __future__ import annotations

import http.server
import json
import pickle
import re
import subprocess
import sys
import textwrap
import threading
import urllib.request
from pathlib import Path

import pytest
import scrapy
from scrapy.utils.request import request_from_dict
from twisted.internet import error as net_error

from crawler.browser.driver import LOCAL_ONLY_ARG, BrowserConfig
from crawler.browser.middleware import BrowserMiddleware
from crawler.browser.request import browser_request, get_marker

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
needs_chromium = pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                                    reason="Debian's chromium and chromium-driver are not installed at /usr/bin")

JS_PAGE = """<html><head><title>rows</title></head><body><table id="t"></table><script>
setTimeout(function () {{
  var t = document.getElementById("t");
  for (var i = 0; i < 3; i++) {{ var r = t.insertRow(); r.className = "row"; r.insertCell().textContent = "r" + i; }}
}}, {delay});
</script></body></html>"""


class _Site(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        status, body = 200, f"<html><title>plain</title><body>{self.path}</body></html>"
        if self.path.startswith("/js"):
            body = JS_PAGE.format(delay=int(self.path.rsplit("/", 1)[-1]) if self.path.count("/") > 1 else 300)
        elif self.path == "/missing":
            status, body = 404, "<html><title>404 Not Found</title><h1>404 Not Found</h1></html>"
        elif self.path == "/captcha":
            body = '<html><title>MyAnimeList.net</title><div class="display-submit"><form></form></div></html>'
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


class Stats(dict):
    def inc_value(self, key, value=1, **kwargs):
        self[key] = self.get(key, 0) + value


@pytest.fixture(scope="module")
def browser():
    stats = Stats()
    mw = BrowserMiddleware(BrowserConfig(local_only=True), restart_every=4, wait_timeout=5, stats=stats)
    yield mw, stats
    mw.close()


def test_markers_are_plain_data_that_survive_serialisation():
    request = browser_request("http://127.0.0.1/x", wait_for="tr.row", script="return 1", meta={"a": 1})
    json.dumps(request.meta)  # plain data: no callables, no Selenium objects
    # What the Redis frontier does with a request (scrapy-redis: to_dict + pickle).
    restored = request_from_dict(pickle.loads(pickle.dumps(request.to_dict())))
    assert get_marker(restored) == {"wait_for": "tr.row", "script": "return 1", "screenshot": False,
                                    "timeout": None}
    assert restored.meta["a"] == 1
    with pytest.raises(ValueError, match="unknown keys"):
        get_marker(scrapy.Request("http://127.0.0.1/x", meta={"browser": {"wait": "x"}}))
    assert get_marker(scrapy.Request("http://127.0.0.1/x")) is None
    assert LOCAL_ONLY_ARG in BrowserConfig.from_settings({"BROWSER_LOCAL_ONLY": "1"}).arguments()
    assert LOCAL_ONLY_ARG not in BrowserConfig.from_settings({}).arguments()
    assert "--disable-dev-shm-usage" in BrowserConfig().arguments()


@needs_chromium
def test_renders_js_rows_status_blocks_and_restarts(browser, site):
    mw, stats = browser
    page = mw.render(f"{site}/js", {"wait_for": "tr.row", "script": "return document.title",
                                    "screenshot": True, "timeout": 5})
    assert page.status == 200 and page.html.count('class="row"') == 3
    assert page.script_result == "rows" and page.screenshot.startswith(b"\x89PNG")
    # The real status of the navigation, which Selenium alone does not expose.
    assert mw.render(f"{site}/missing", {"wait_for": None}).status == 404
    captcha = mw.render(f"{site}/captcha", {"wait_for": "tr.row", "timeout": 5})
    assert (captcha.blocked, captcha.status) == ("captcha", 403)
    with pytest.raises(net_error.TimeoutError, match="did not appear"):
        mw.render(f"{site}/plain", {"wait_for": "tr.row", "timeout": 1})
    # The 5th page is rendered by a fresh browser (BROWSER_RESTART_EVERY=4): one restart, two starts.
    mw.render(f"{site}/js/0", {"wait_for": "tr.row"})
    assert stats["browser/starts"] == 2 and stats["browser/restarts/scheduled"] == 1


@needs_chromium
def test_browser_resolves_only_loopback(browser):
    mw, _ = browser
    with pytest.raises(net_error.ConnectError):
        mw.render("http://example.com/", {"wait_for": None})


@needs_chromium
def test_a_crashed_browser_is_replaced(browser, site):
    mw, stats = browser
    mw.render(f"{site}/js/0", {"wait_for": "tr.row"})
    slot = mw._all_slots[0]
    slot.driver.service.process.kill()  # chromedriver dies, as when Chrome is OOM-killed
    slot.driver.service.process.wait()
    page = mw.render(f"{site}/js/0", {"wait_for": "tr.row"})
    assert page.html.count('class="row"') == 3
    assert stats["browser/restarts/crash"] == 1


CRAWL = textwrap.dedent('''
    import json, sys, time
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from crawler.browser import browser_request

    base, out = sys.argv[1:3]
    events = []

    class Mixed(scrapy.Spider):
        name = "mixed"
        async def start(self):
            yield browser_request(base + "/js/1500", wait_for="tr.row", callback=self.parse_rows)
            for i in range(6):
                yield scrapy.Request(f"{base}/plain/{i}")
        def parse(self, response):
            events.append(["plain", time.monotonic(), "browser" in response.flags])
        def parse_rows(self, response):
            events.append(["browser", time.monotonic(), len(response.css("tr.row"))])

    process = CrawlerProcess({
        "DOWNLOADER_MIDDLEWARES": {"crawler.browser.middleware.BrowserMiddleware": 950},
        "BROWSER_LOCAL_ONLY": True, "LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
    })
    crawler = process.create_crawler(Mixed)
    process.crawl(crawler)
    process.start()
    json.dump({"events": events, "stats": {k: v for k, v in crawler.stats.get_stats().items()
                                           if k.startswith("browser")}}, open(out, "w"))
''')


@needs_chromium
def test_rendering_does_not_block_the_reactor(tmp_path, site):
    script, out = tmp_path / "mixed.py", tmp_path / "out.json"
    script.write_text(CRAWL)
    proc = subprocess.run([sys.executable, str(script), site, str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert out.exists(), proc.stderr[-3000:]
    result = json.loads(out.read_text())
    kinds = [e[0] for e in result["events"]]
    assert sorted(kinds) == ["browser"] + ["plain"] * 6, proc.stderr[-3000:]
    # The browser page (rows drawn after 1.5 s) renders in its thread while the plain pages are all done.
    assert kinds[-1] == "browser", kinds
    assert result["events"][-1][2] == 3
    assert not any(e[2] for e in result["events"] if e[0] == "plain")
    assert result["stats"]["browser/pages"] == 1 and result["stats"]["browser/starts"] == 1


ROW_RE = re.compile(
    r'<tr class="list-table-data">.*?href="[^"]*/anime/(\d+)[^"]*">(.*?)</a>.*?class="score-label">(.*?)</span>'
    r'.*?class="data progress"><span>(\d+)</span>', re.DOTALL)


def rendered_rows(html: str) -> list[dict]:
    import html as html_lib

    return [{"anime_id": int(a), "title": html_lib.unescape(t), "score": 0 if s == "-" else int(s),
             "episodes_watched": int(e)} for a, t, s, e in ROW_RE.findall(html)]


@needs_chromium
def test_replica_list_page_rendered_gives_the_first_300_entries_of_load_json(browser):
    from crawler.parsers import parse_animelist, parse_listpage
    from crawler.replica.server import ReplicaServer
    from crawler.urls import listpage_url, loadjson_url

    mw, _ = browser
    with ReplicaServer() as replica:
        users = sorted((u for u in replica.data.users.values() if not u.private and u.entry_count > 300),
                       key=lambda u: u.entry_count)
        assert users, "the replica data has no public user with more than 300 entries"
        user = users[0]
        page = mw.render(listpage_url(replica.base_url, user.username),
                         {"wait_for": "table.list-table[data-drawn] tr.list-table-data", "timeout": 20})
        with urllib.request.urlopen(loadjson_url(replica.base_url, user.username, 0)) as response:
            first_page = parse_animelist(response.read())
    assert page.status == 200 and len(first_page) == 300
    # The rows drawn by JavaScript, read from the rendered DOM...
    rows = rendered_rows(page.html)
    assert rows == [{k: e[k] for k in ("anime_id", "title", "score", "episodes_watched")} for e in first_page]
    # ...and the list parser on the rendered page: every field, statuses included.
    assert parse_listpage(page.html) == first_page
