"""Serve a local MyAnimeList replica built from the shared MAL data.

Same URL scheme, HTML structure and JSON shapes as myanimelist.net (2024 layout), for the demo, tests and
benchmarks. Fault options (all off by default) reproduce the live site's defences.

URLs: /anime/ID/SLUG, /anime/ID/SLUG/stats?m=all&show=N, /users.php[?page=N|?show=N], /profile/USER,
/animelist/USER[?status=S], /animelist/USER/load.json?offset=N&status=S, /topanime.php?limit=N,
/robots.txt; counters at /_replica/stats (POST /_replica/reset clears them).
"""

from __future__ import annotations

import argparse

NAME = "replica"
HELP = "serve a local MyAnimeList replica (for tests, the demo and benchmarks)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8000, help="port to listen on; 0 = any free port (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--data", metavar="DIR", default=None,
                        help="folder with anime.csv, anime_with_synopsis.csv, animelists_2023.csv "
                             "(default: $ANIMEREC_SHARED/data/mal or ../shared/data/mal)")
    faults = parser.add_argument_group("fault options (all off by default)")
    faults.add_argument("--rate-limit", type=float, default=0.0, metavar="R",
                        help="requests per second allowed per client; excess gets HTTP 429 with Retry-After")
    faults.add_argument("--burst", type=int, default=1, metavar="N", help="requests a client may burst (default 1)")
    faults.add_argument("--retry-after", type=int, default=None, metavar="S",
                        help="Retry-After seconds on 429 (default: time until the next allowed request)")
    faults.add_argument("--ban-after", type=int, default=0, metavar="K",
                        help="ban a client (HTTP 403) after more than K 429s within --ban-window; 0 = never")
    faults.add_argument("--ban-window", type=float, default=60.0, metavar="S", help="window for --ban-after (60)")
    faults.add_argument("--ban-seconds", type=float, default=60.0, metavar="S", help="how long a ban lasts (60)")
    faults.add_argument("--captcha-rate", type=float, default=0.0, metavar="F",
                        help="fraction of requests answered with the captcha page (HTTP 200, div.display-submit)")
    faults.add_argument("--captcha-on-limit", action="store_true",
                        help="answer over-rate requests with the captcha page instead of 429")
    faults.add_argument("--error-rate", type=float, default=0.0, metavar="F",
                        help="fraction of requests answered with HTTP 500")
    faults.add_argument("--slow", type=float, default=0.0, metavar="S", help="seconds added to responses")
    faults.add_argument("--slow-rate", type=float, default=1.0, metavar="F",
                        help="fraction of responses slowed by --slow (default 1)")
    faults.add_argument("--truncate-rate", type=float, default=0.0, metavar="F",
                        help="fraction of pages whose body is cut in half")
    faults.add_argument("--seed", type=int, default=0, help="seed of the random faults (default 0)")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import sys

    from aiohttp import web

    from crawler.replica import data as replica_data
    from crawler.replica.app import create_app
    from crawler.replica.faults import FaultConfig

    log = logging.getLogger("crawler.replica")
    try:
        faults = FaultConfig(**{name: getattr(args, name) for name in FaultConfig.names()})
        data = replica_data.load(args.data)
    except (ValueError, FileNotFoundError) as exc:
        print(f"animerec replica: {exc}", file=sys.stderr)
        return 2
    summary = data.summary()
    log.info("loaded %d anime, %d users (%d private, %d with more than 300 entries), %d list rows "
             "(%d rows naming anime missing from anime.csv left out)", summary["anime"], summary["users"],
             len(summary["private_users"]), len(summary["users_over_300"]), summary["list_rows"],
             summary["dropped_rows"])

    async def serve() -> None:
        runner = web.AppRunner(create_app(data, faults), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        # One machine-readable line, so a parent process that asked for port 0 learns the address.
        print(f"serving MAL replica on http://{args.host}:{port}", flush=True)
        active = {k: v for k, v in faults.as_dict().items() if v != FaultConfig().as_dict()[k]}
        if active:
            log.info("faults: %s", active)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(serve())
    except OSError as exc:
        print(f"animerec replica: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
