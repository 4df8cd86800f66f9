"""Parse a saved MAL page or JSON body and print the result as JSON.

KIND is one of: anime, stats, users, profile, animelist (a load.json body), listpage (the list
page's data-items), top. A page that is not of that kind, a 404 page, a captcha or ban page, a
truncated body or unrendered template text exits with status 1 and a one-line reason on stderr.

Examples:
  animerec parse anime ../shared/fixtures/mal/qasimk_anime_1.html
  animerec parse animelist list.json --url https://myanimelist.net/animelist/USER/load.json
  curl -s http://127.0.0.1:8000/topanime.php | animerec parse top -
"""

from __future__ import annotations

import argparse
import sys

NAME = "parse"
HELP = "parse a saved MAL page or load.json body and print it as JSON"
KINDS = ("anime", "stats", "users", "profile", "animelist", "listpage", "top")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", metavar="KIND", choices=KINDS, help="page kind: " + ", ".join(KINDS))
    parser.add_argument("file", metavar="FILE", help="the saved body ('-' reads standard input)")
    parser.add_argument("--url", help="the URL the body came from (gives anime_id when the page lacks it)")
    parser.add_argument("--compact", action="store_true", help="print JSON on one line")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from crawler.parsers import PARSERS, ParseError

    try:
        body = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"animerec parse: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        result = PARSERS[args.kind](body, url=args.url)
    except ParseError as exc:
        print(f"animerec parse: {exc.one_line()}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout, ensure_ascii=False, indent=None if args.compact else 2)
    sys.stdout.write("\n")
    return 0
