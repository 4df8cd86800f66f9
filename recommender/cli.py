"""The one `animerec` entry point.

Every subcommand is a module in ``crawler/commands/`` or ``recommender/commands/`` that defines
``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``. Modules are discovered, so
adding a command never touches this file. Heavy imports belong inside ``run`` so that
``animerec --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

COMMAND_PACKAGES = ("crawler.commands", "recommender.commands")
# The order a user meets the commands in: the demo first, then the loop it runs.
ORDER = ("demo", "replica", "crawl", "parse", "train", "recommend", "evaluate", "bench")


def discover_commands() -> dict[str, ModuleType]:
    commands: dict[str, ModuleType] = {}
    for package_name in COMMAND_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{package_name}.{info.name}")
            commands[module.NAME] = module
    rank = {name: i for i, name in enumerate(ORDER)}
    return dict(sorted(commands.items(), key=lambda kv: (rank.get(kv[0], len(ORDER)), kv[0])))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="animerec",
        description="Crawl MyAnimeList into MongoDB and turn it into anime recommendations.",
        epilog="Run 'animerec COMMAND --help' for a command's options. "
        "MONGO_URI selects the store; unset, a local embedded store is started.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in discover_commands().items():
        cmd = sub.add_parser(name, help=module.HELP, description=module.__doc__ or module.HELP,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(cmd)
        cmd.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
