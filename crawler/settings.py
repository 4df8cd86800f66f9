"""Scrapy settings for the MAL crawler. Defaults are polite to the real site; every knob can be set
from the environment (below) or per run with ``-s NAME=VALUE`` / ``animerec crawl -s NAME=VALUE``.
"""

from __future__ import annotations

import os

BOT_NAME = "animerec"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# Where to crawl: the real site by default, the local replica in the demo and tests.
MAL_BASE_URL = os.environ.get("MAL_BASE_URL", "https://myanimelist.net")
MONGO_URI = os.environ.get("MONGO_URI")

# Politeness for the real site. MAL publishes no limits; bursts get 429 and abuse gets 403 bans for hours.
USER_AGENT = os.environ.get("MAL_USER_AGENT", "animerec/0.1 (anime recommendation research crawler)")
ROBOTSTXT_OBEY = True
DOWNLOAD_DELAY = float(os.environ.get("MAL_DOWNLOAD_DELAY", "2.0"))
DOWNLOAD_DELAY_JITTER = 0.5
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30

# The politeness budget, shared by all workers through Redis when REDIS_URL is set (else per process):
# a token bucket per site taken right before each send, 429 pauses everyone for Retry-After, a 403 or a
# captcha page pauses everyone with exponential backoff. See crawler/politeness/middleware.py.
BUDGET_RATE = float(os.environ.get("MAL_CRAWL_RATE", "0.5"))  # requests/s per site, all workers together
DOWNLOADER_MIDDLEWARES = {
    "crawler.politeness.middleware.PolitenessMiddleware": 940,
    # Requests marked with crawler.browser.browser_request() are rendered by headless Chromium.
    "crawler.browser.middleware.BrowserMiddleware": 950,
}
DOWNLOAD_HANDLERS = {
    "http": "crawler.politeness.handler.BudgetDownloadHandler",
    "https": "crawler.politeness.handler.BudgetDownloadHandler",
}
# Chromium resolves only 127.0.0.1/localhost (tests, the demo, CI: no traffic may leave the machine).
BROWSER_LOCAL_ONLY = os.environ.get("BROWSER_LOCAL_ONLY", "0") == "1"

# With REDIS_URL set (animerec crawl --redis), workers share one scrapy-redis frontier: see crawler/frontier.
ADDONS = {"crawler.frontier.addon.FrontierAddon": 0}
REDIS_URL = os.environ.get("REDIS_URL")

# 5xx and timeouts are retried by Scrapy's retry middleware; 429 after Retry-After by the budget.
RETRY_ENABLED = True
RETRY_TIMES = 5
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]

# Items: validated and bulk-upserted into MongoDB (see pipeline/pipelines.py for its settings).
ITEM_PIPELINES = {"pipeline.pipelines.MongoPipeline": 300}
MONGO_BATCH_SIZE = 100

# Discovery (users spider): how many users.php polls, top-anime pages and stats pages per anime.
USERS_PHP_PAGES = int(os.environ.get("USERS_PHP_PAGES", "3"))
USERS_PHP_FIRST_PAGE = int(os.environ.get("USERS_PHP_FIRST_PAGE", "0"))
USERS_TOP_PAGES = int(os.environ.get("USERS_TOP_PAGES", "1"))
USERS_STATS_PAGES = int(os.environ.get("USERS_STATS_PAGES", "2"))
# Lists fetched more recently than this are not fetched again (0: always re-fetch).
ANIMELIST_MAX_AGE_HOURS = float(os.environ.get("ANIMELIST_MAX_AGE_HOURS", "168"))

# STATS_FILE=path: the final stats of the run as JSON (used by `animerec crawl` and the tests).
EXTENSIONS = {"crawler.extensions.StatsFile": 900}
STATS_FILE = os.environ.get("STATS_FILE")

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
TELNETCONSOLE_ENABLED = False
