"""The replica's aiohttp application: MAL's URL scheme, plus ``/_replica/stats`` for tests.

A middleware runs every request through the fault gate (ban, rate limit, captcha, 500, slowness,
truncation) and the counters; handlers only render pages.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time

from aiohttp import web

from crawler.replica import pages
from crawler.replica.data import ReplicaData
from crawler.replica.faults import FaultConfig, Gate, draw, retry_after_header
from crawler.replica.stats import ReplicaStats, path_kind

DATA_KEY = web.AppKey("data", ReplicaData)
FAULTS_KEY = web.AppKey("faults", FaultConfig)
GATE_KEY = web.AppKey("gate", Gate)
STATS_KEY = web.AppKey("stats", ReplicaStats)
ONLINE_KEY = web.AppKey("online_counter", itertools.count)

HTML = "text/html"
CLIENT_HEADER = "X-Replica-Client"


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def client_id(request: web.Request) -> str:
    """Who a request counts against: a test/benchmark may name its worker in X-Replica-Client."""
    return request.headers.get(CLIENT_HEADER) or request.remote or "unknown"


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type=HTML, charset="utf-8")


def _int_arg(request: web.Request, name: str, default: int) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return None


def _not_found(request: web.Request) -> web.Response:
    return _html(pages.not_found_page(base_url(request)), status=404)


def _anime(request: web.Request):
    try:
        anime_id = int(request.match_info["anime_id"])
    except ValueError:
        return None
    return request.app[DATA_KEY].anime.get(anime_id)


async def anime_page(request: web.Request) -> web.Response:
    anime = _anime(request)
    if anime is None:
        return _not_found(request)
    return _html(pages.anime_page(request.app[DATA_KEY], base_url(request), anime))


async def anime_stats(request: web.Request) -> web.Response:
    anime = _anime(request)
    show = _int_arg(request, "show", 0)
    if anime is None or show is None or show < 0:
        return _not_found(request)
    return _html(pages.stats_page(request.app[DATA_KEY], base_url(request), anime, show))


async def users_php(request: web.Request) -> web.Response:
    show = _int_arg(request, "show", -1)
    page = _int_arg(request, "page", -1)
    if show is None or page is None:
        return _not_found(request)
    if show < 0 and page >= 0:
        show = page * pages.USERS_PAGE_SIZE
    if show < 0:
        # Like the live page, every plain visit shows the next users "online"; ?page=N (20 users a page)
        # and ?show=N (from the N-th user) are stable views; both wrap around the user list.
        show = next(request.app[ONLINE_KEY]) * pages.USERS_PAGE_SIZE
    return _html(pages.users_page(request.app[DATA_KEY], base_url(request), show))


async def profile(request: web.Request) -> web.Response:
    user = request.app[DATA_KEY].user(request.match_info["user"])
    if user is None:
        return _not_found(request)
    return _html(pages.profile_page(request.app[DATA_KEY], base_url(request), user))


def _status_arg(request: web.Request) -> int | None:
    status = _int_arg(request, "status", 7)
    return status if status in (1, 2, 3, 4, 6, 7) else None


async def animelist(request: web.Request) -> web.Response:
    user = request.app[DATA_KEY].user(request.match_info["user"])
    status = _status_arg(request)
    if user is None or status is None:
        return _not_found(request)
    return _html(pages.animelist_page(request.app[DATA_KEY], base_url(request), user, status))


async def loadjson(request: web.Request) -> web.Response:
    user = request.app[DATA_KEY].user(request.match_info["user"])
    offset = _int_arg(request, "offset", 0)
    status = _status_arg(request)
    if user is None or user.private or offset is None or offset < 0 or status is None:
        return web.Response(text=pages.LOADJSON_ERROR, status=400, content_type="application/json")
    body = pages.loadjson_body(request.app[DATA_KEY], base_url(request), user, offset, status)
    return web.Response(text=body, content_type="application/json")


async def topanime(request: web.Request) -> web.Response:
    limit = _int_arg(request, "limit", 0)
    if limit is None or limit < 0:
        return _not_found(request)
    return _html(pages.top_page(request.app[DATA_KEY], base_url(request), limit))


async def robots(request: web.Request) -> web.Response:
    return web.Response(text=pages.ROBOTS_TXT, content_type="text/plain")


async def image(request: web.Request) -> web.Response:
    return web.Response(body=pages.PLACEHOLDER_GIF, content_type="image/gif")


async def fallback(request: web.Request) -> web.Response:
    return _not_found(request)


async def replica_stats(request: web.Request) -> web.Response:
    snapshot = request.app[STATS_KEY].snapshot()
    snapshot["faults"] = request.app[FAULTS_KEY].as_dict()
    return web.Response(text=json.dumps(snapshot, sort_keys=True), content_type="application/json")


async def replica_reset(request: web.Request) -> web.Response:
    request.app[STATS_KEY].reset()
    request.app[GATE_KEY].reset()
    return web.Response(text='{"reset":true}', content_type="application/json")


@web.middleware
async def fault_middleware(request: web.Request, handler) -> web.StreamResponse:
    if request.path.startswith("/_replica/"):
        return await handler(request)
    app = request.app
    cfg, stats = app[FAULTS_KEY], app[STATS_KEY]
    client, url = client_id(request), request.path_qs
    attempt = stats.attempts(url)
    stats.record_request(client, url, path_kind(request.path))
    now = time.monotonic()

    verdict, seconds = app[GATE_KEY].check(client, now)
    if verdict in ("banned", "ban"):
        stats.record_response(client, url, 403, verdict, now)
        return _html(pages.forbidden_page(base_url(request)), status=403)
    if verdict == "rate_limited":
        if cfg.captcha_on_limit:
            stats.record_response(client, url, 200, "captcha", now)
            return _html(pages.captcha_page(base_url(request)))
        stats.record_response(client, url, 429, "rate_limited", now)
        return web.Response(text="Too Many Requests", status=429,
                            headers={"Retry-After": retry_after_header(seconds)})
    if cfg.captcha_rate and draw(cfg.seed, "captcha", url, attempt) < cfg.captcha_rate:
        stats.record_response(client, url, 200, "captcha", now)
        return _html(pages.captcha_page(base_url(request)))
    if cfg.error_rate and draw(cfg.seed, "error", url, attempt) < cfg.error_rate:
        stats.record_response(client, url, 500, "error", now)
        return _html(pages.error_page(base_url(request)), status=500)
    slowed = cfg.slow > 0 and (cfg.slow_rate >= 1.0 or draw(cfg.seed, "slow", url, attempt) < cfg.slow_rate)
    if slowed:
        await asyncio.sleep(cfg.slow)

    response = await handler(request)
    fault = "slow" if slowed else None
    if (cfg.truncate_rate and isinstance(response, web.Response) and response.body
            and response.content_type != "image/gif"
            and draw(cfg.seed, "truncate", url, attempt) < cfg.truncate_rate):
        body = bytes(response.body)
        response.body = body[: len(body) // 2]
        fault = "truncated"
    stats.record_response(client, url, response.status, fault, now)
    return response


def create_app(data: ReplicaData, faults: FaultConfig | None = None) -> web.Application:
    app = web.Application(middlewares=[fault_middleware])
    faults = faults or FaultConfig()
    app[DATA_KEY] = data
    app[FAULTS_KEY] = faults
    app[GATE_KEY] = Gate(faults)
    app[STATS_KEY] = ReplicaStats()
    app[ONLINE_KEY] = itertools.count()
    app.router.add_get("/anime/{anime_id}", anime_page)
    app.router.add_get("/anime/{anime_id}/{slug}", anime_page)
    app.router.add_get("/anime/{anime_id}/{slug}/stats", anime_stats)
    app.router.add_get("/users.php", users_php)
    app.router.add_get("/profile/{user}", profile)
    app.router.add_get("/animelist/{user}", animelist)
    app.router.add_get("/animelist/{user}/load.json", loadjson)
    app.router.add_get("/topanime.php", topanime)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/images/{tail:.*}", image)
    app.router.add_get("/_replica/stats", replica_stats)
    app.router.add_post("/_replica/reset", replica_reset)
    app.router.add_get("/{tail:.*}", fallback)
    return app
