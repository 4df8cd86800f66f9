"""The local MAL replica: routes and shapes modelled on the real pages, paging against the CSVs, faults.

Ground truth is read here straight from the CSVs with the csv module, not through the replica's own
loader, so a loader bug cannot hide behind itself.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from parsel import Selector

from crawler.replica.data import default_data_dir, shared_dir

ROOT = Path(__file__).resolve().parents[1]
SHARED = shared_dir()
DATA = default_data_dir()

pytestmark = pytest.mark.skipif(
    not (DATA / "animelists_2023.csv").is_file(),
    reason=f"the shared MAL data is not at {DATA} (set ANIMEREC_SHARED to the shared folder)",
)

BIG_USER = "user0"  # 309 entries (> one load.json page), lists "86", whose title must be a JSON number
PRIVATE_USER = "user105"  # private by the username hash
NUMERIC_TITLE_ANIME = 41457  # "86"


# -- helpers ---------------------------------------------------------------------------------------
def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def get_html(url: str) -> Selector:
    status, _, body = fetch(url)
    assert status == 200, (url, status)
    return Selector(text=body.decode())


def csv_anime() -> dict[int, dict[str, str]]:
    with open(DATA / "anime.csv", newline="", encoding="utf-8") as handle:
        return {int(row["MAL_ID"]): row for row in csv.DictReader(handle)}


def csv_list(user_id: str, known: dict[int, dict[str, str]]) -> list[tuple[int, int, int, int]]:
    """(anime_id, score, status, episodes) of a user, in CSV order, for anime the catalogue has."""
    rows = []
    with open(DATA / "animelists_2023.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["user_id"] == user_id and int(row["anime_id"]) in known:
                rows.append((int(row["anime_id"]), int(row["score"]), int(row["watching_status"]),
                             int(row["watched_episodes"])))
    return rows


def csv_user_ids() -> set[str]:
    with open(DATA / "animelists_2023.csv", newline="", encoding="utf-8") as handle:
        return {row["user_id"] for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def anime_rows() -> dict[int, dict[str, str]]:
    return csv_anime()


@pytest.fixture(scope="module")
def site() -> Iterator:
    from crawler.replica.server import ReplicaServer

    with ReplicaServer() as server:
        yield server


def replica(**faults):
    from crawler.replica.server import ReplicaServer

    return ReplicaServer(**faults)


def all_loadjson(base: str, username: str, status: int = 7) -> list[dict]:
    entries, offset = [], 0
    while True:
        status_code, headers, body = fetch(f"{base}/animelist/{username}/load.json?offset={offset}&status={status}")
        assert status_code == 200 and headers["Content-Type"].startswith("application/json")
        page = json.loads(body)
        assert len(page) <= 300
        if not page:
            return entries
        entries += page
        offset += 300


# -- routes and shapes -----------------------------------------------------------------------------
def test_anime_page_has_the_2024_structure(site, anime_rows) -> None:
    sel = get_html(f"{site.base_url}/anime/1/Cowboy_Bebop")
    row = anime_rows[1]
    assert sel.css("h1.title-name strong::text").get() == row["Name"]
    assert sel.css("p[itemprop=description]").xpath("string()").get().startswith("In the year 2071, humanity")
    labels = [t.strip() for t in sel.css("div.spaceit_pad span.dark_text::text").getall()]
    for label in ("Type:", "Episodes:", "Aired:", "Studios:", "Genres:", "Theme:", "Score:", "Members:"):
        assert label in labels
    assert sel.css("span[itemprop=ratingValue]::text").get() == "8.78"
    assert "1,251,960" in sel.xpath('//div[span[@class="dark_text"]="Members:"]').xpath("string()").get()
    image = sel.css("img[itemprop=image]::attr(data-src)").get()
    assert image and image == sel.css('meta[property="og:image"]::attr(content)').get()
    assert sel.css("link[rel=canonical]::attr(href)").get() == f"{site.base_url}/anime/1/Cowboy_Bebop"
    # /anime/ID serves the same page; an unknown id gets MAL's 404 page.
    assert fetch(f"{site.base_url}/anime/1")[2] == fetch(f"{site.base_url}/anime/1/Cowboy_Bebop")[2]
    status, _, body = fetch(f"{site.base_url}/anime/99999999/Nothing")
    assert status == 404 and Selector(text=body.decode()).css("div.error404 p.message::text").get()


def test_image_is_served_locally(site) -> None:
    sel = get_html(f"{site.base_url}/anime/1/Cowboy_Bebop")
    status, headers, body = fetch(sel.css("img[itemprop=image]::attr(data-src)").get())
    assert status == 200 and headers["Content-Type"] == "image/gif" and body.startswith(b"GIF89a")


def test_stats_member_pages_list_exactly_the_public_members(site, anime_rows) -> None:
    from crawler.replica.data import is_private, username_for

    anime_id = 1
    expected = set()
    with open(DATA / "animelists_2023.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = username_for(row["user_id"])
            if int(row["anime_id"]) == anime_id and not is_private(name):
                expected.add(name)
    seen: list[str] = []
    url = f"{site.base_url}/anime/{anime_id}/Cowboy_Bebop/stats?m=all&show=0"
    pages = 0
    while url:
        sel = get_html(url)
        names = sel.css("table.table-recently-updated a.word-break::text").getall()
        assert len(names) <= 75
        seen += names
        pages += 1
        next_href = sel.xpath('//a[text()="Next"]/@href').get()
        url = site.base_url + next_href if next_href and next_href.startswith("/") else next_href
    assert pages == math.ceil(len(expected) / 75)
    assert len(seen) == len(set(seen)) and set(seen) == expected


def test_users_php_pages_reach_every_user(site) -> None:
    from crawler.replica.data import username_for

    expected = {username_for(uid) for uid in csv_user_ids()}
    seen = set()
    for page in range(math.ceil(len(expected) / 20)):
        names = get_html(f"{site.base_url}/users.php?page={page}").css("td.borderClass div a::text").getall()
        assert len(names) == 20
        seen |= set(names)
    assert seen == expected
    # Plain visits rotate like the live page.
    first = get_html(f"{site.base_url}/users.php").css("td.borderClass div a::text").getall()
    second = get_html(f"{site.base_url}/users.php").css("td.borderClass div a::text").getall()
    assert first != second and len(first) == len(second) == 20


def test_profile_shows_the_list_counts(site, anime_rows) -> None:
    rows = csv_list("0", anime_rows)
    sel = get_html(f"{site.base_url}/profile/{BIG_USER}")
    counts = {
        li.css("a::text").get(): int(li.css("span::text").get().replace(",", ""))
        for li in sel.css("ul.stats-status li")
    }
    assert counts == {
        "Watching": sum(r[2] == 1 for r in rows), "Completed": sum(r[2] == 2 for r in rows),
        "On-Hold": sum(r[2] == 3 for r in rows), "Dropped": sum(r[2] == 4 for r in rows),
        "Plan to Watch": sum(r[2] == 6 for r in rows),
    }
    total = sel.xpath('//ul[contains(@class,"stats-data")]/li[span[1]="Total Entries"]/span[2]/text()').get()
    assert int(total) == len(rows)
    assert fetch(f"{site.base_url}/profile/no_such_user_here")[0] == 404


def test_loadjson_pages_give_exactly_the_users_rows(site, anime_rows) -> None:
    expected = csv_list("0", anime_rows)
    assert len(expected) > 300
    entries = all_loadjson(site.base_url, BIG_USER)
    got = [(e["anime_id"], e["score"], e["status"], e["num_watched_episodes"]) for e in entries]
    assert got == expected
    fixture = json.loads((SHARED / "fixtures" / "mal" / "qasimk_loadjson_offset0_158items.json").read_text())
    assert set(entries[0]) == set(fixture[0])  # the real endpoint's fields
    eighty_six = next(e for e in entries if e["anime_id"] == NUMERIC_TITLE_ANIME)
    assert eighty_six["anime_title"] == 86  # a JSON number, as MAL serves it
    # A status filter returns only that status; past the end is [].
    completed = all_loadjson(site.base_url, BIG_USER, status=2)
    assert completed and all(e["status"] == 2 for e in completed)
    assert len(completed) == sum(r[2] == 2 for r in expected)
    assert fetch(f"{site.base_url}/animelist/{BIG_USER}/load.json?offset=900&status=7")[2] == b"[]"


def test_private_or_missing_list_gives_400(site) -> None:
    from crawler.replica.data import is_private

    assert is_private(PRIVATE_USER)
    for name in (PRIVATE_USER, "no_such_user_here"):
        status, _, body = fetch(f"{site.base_url}/animelist/{name}/load.json?offset=0&status=7")
        assert status == 400
        assert json.loads(body) == {"errors": [{"message": "invalid request"}]}
    assert fetch(f"{site.base_url}/profile/{PRIVATE_USER}")[0] == 200  # the profile stays visible


def test_list_page_holds_the_first_300_entries_in_data_items(site) -> None:
    sel = get_html(f"{site.base_url}/animelist/{BIG_USER}")
    raw = sel.css("table.list-table::attr(data-items)").get()
    items = json.loads(raw)
    first_page = json.loads(fetch(f"{site.base_url}/animelist/{BIG_USER}/load.json?offset=0&status=7")[2])
    assert len(items) == 300 and items == first_page
    assert not sel.css("tr.list-table-data td.data.title a::text").getall()  # rows are drawn by JavaScript
    assert "${ item.anime_title }" in sel.get()
    private = get_html(f"{site.base_url}/animelist/{PRIVATE_USER}")
    assert not private.css("table.list-table") and "restricted" in private.css("div.badresult::text").get()


def test_topanime_pages_of_50(site) -> None:
    first = get_html(f"{site.base_url}/topanime.php?limit=0")
    rows = first.css("tr.ranking-list")
    assert len(rows) == 50
    ranks = [int(r.css("td.rank span::text").get()) for r in rows]
    assert ranks == sorted(ranks) and ranks[0] == 1
    assert first.css("a.next::attr(href)").get() == "?limit=50"
    second = get_html(f"{site.base_url}/topanime.php?limit=50").css("tr.ranking-list td.rank span::text").getall()
    assert int(second[0]) > ranks[-1]


def test_robots_allows_everything(site) -> None:
    status, _, body = fetch(f"{site.base_url}/robots.txt")
    assert status == 200 and body == b"User-agent: *\nDisallow:\n"


def test_pages_are_byte_identical_across_fetches(site) -> None:
    for path in ("/anime/41457/86", "/anime/1/Cowboy_Bebop/stats?m=all&show=0", "/profile/user0",
                 "/animelist/user0", "/animelist/user0/load.json?offset=300&status=7", "/users.php?page=3",
                 "/topanime.php?limit=100"):
        assert fetch(site.base_url + path)[2] == fetch(site.base_url + path)[2], path


def test_stats_endpoint_counts_urls_and_clients(anime_rows) -> None:
    with replica() as server:
        for _ in range(2):
            fetch(f"{server.base_url}/anime/1/Cowboy_Bebop", {"X-Replica-Client": "worker-a"})
        fetch(f"{server.base_url}/profile/user0", {"X-Replica-Client": "worker-b"})
        stats = json.loads(fetch(f"{server.base_url}/_replica/stats")[2])
        assert stats["requests"] == 3
        assert stats["by_kind"] == {"anime": 2, "profile": 1}
        assert stats["urls"] == {"/anime/1/Cowboy_Bebop": 2, "/profile/user0": 1}
        assert stats["duplicate_urls"] == {"/anime/1/Cowboy_Bebop": 2}
        assert stats["clients"]["worker-a"]["requests"] == 2 and stats["clients"]["worker-b"]["served"] == 1
        assert server.stats()["requests"] == 3
        urllib.request.urlopen(urllib.request.Request(f"{server.base_url}/_replica/reset", method="POST"))
        assert server.stats()["requests"] == 0


# -- faults --------------------------------------------------------------------------------------
def test_rate_limit_answers_429_with_retry_after() -> None:
    with replica(rate_limit=2.0, burst=2) as server:
        statuses = [fetch(f"{server.base_url}/robots.txt") for _ in range(5)]
        assert [s for s, _, _ in statuses[:2]] == [200, 200]
        limited = [(s, h) for s, h, _ in statuses[2:] if s == 429]
        assert limited and all(int(h["Retry-After"]) >= 1 for _, h in limited)
        time.sleep(1.0)
        assert fetch(f"{server.base_url}/robots.txt")[0] == 200
        stats = server.stats()
        assert stats["rate_limited"] == len(limited)
        assert stats["clients"]["127.0.0.1"]["max_per_second"] <= 2 + 2  # burst + one second of rate
        # Clients are counted apart.
        assert fetch(f"{server.base_url}/robots.txt", {"X-Replica-Client": "other"})[0] == 200


def test_sustained_excess_gets_a_403_ban_that_lifts() -> None:
    with replica(rate_limit=1.0, burst=1, ban_after=2, ban_window=10, ban_seconds=1.0) as server:
        statuses = [fetch(f"{server.base_url}/robots.txt")[0] for _ in range(6)]
        assert statuses[:4] == [200, 429, 429, 403] and statuses[4:] == [403, 403]
        assert server.stats()["bans"] == 1
        time.sleep(1.1)
        assert fetch(f"{server.base_url}/robots.txt")[0] == 200


def test_captcha_page_is_served_with_200() -> None:
    with replica(captcha_rate=1.0) as server:
        status, _, body = fetch(f"{server.base_url}/anime/1/Cowboy_Bebop")
        assert status == 200 and Selector(text=body.decode()).css("div.display-submit form")
        assert server.stats()["captchas"] == 1
    with replica(rate_limit=1.0, burst=1, captcha_on_limit=True) as server:
        fetch(f"{server.base_url}/robots.txt")
        status, _, body = fetch(f"{server.base_url}/anime/1/Cowboy_Bebop")
        assert status == 200 and b"display-submit" in body


def test_error_rate_is_seeded_and_retries_get_fresh_draws() -> None:
    paths = [f"/anime/{anime_id}" for anime_id in (1, 5, 6, 7, 8, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
                                                   26, 27, 28, 29, 30, 31, 32, 33, 43, 44, 45, 46, 47, 48)]
    runs = []
    for _ in range(2):
        with replica(error_rate=0.5, seed=7) as server:
            runs.append([fetch(server.base_url + p)[0] for p in paths])
    assert runs[0] == runs[1]  # same seed, same faults
    assert 5 <= runs[0].count(500) <= 25 and set(runs[0]) == {200, 500}
    with replica(error_rate=0.5, seed=7) as server:
        failing = paths[runs[0].index(500)]
        assert any(fetch(server.base_url + failing)[0] == 200 for _ in range(20))
        assert server.stats()["errors"] >= 1


def test_truncated_pages_are_cut_prefixes() -> None:
    with replica() as clean, replica(truncate_rate=1.0) as cut:
        full = fetch(f"{clean.base_url}/animelist/user0/load.json?offset=0&status=7")[2]
        status, _, part = fetch(f"{cut.base_url}/animelist/user0/load.json?offset=0&status=7")
        assert status == 200 and 0 < len(part) < len(full)
        # Bodies name the server they came from; apart from that the cut one is a prefix.
        assert full.replace(str(clean.port).encode(), str(cut.port).encode()).startswith(part)
        with pytest.raises(json.JSONDecodeError):
            json.loads(part)
        assert cut.stats()["truncated"] == 1


def test_slow_responses() -> None:
    with replica(slow=0.3) as server:
        started = time.monotonic()
        assert fetch(f"{server.base_url}/robots.txt")[0] == 200
        assert time.monotonic() - started >= 0.3
        assert server.stats()["slowed"] == 1


def test_bad_fault_options_are_refused() -> None:
    from crawler.replica.server import ReplicaServer

    with pytest.raises(ValueError, match="error_rate"):
        ReplicaServer(error_rate=1.5)
    with pytest.raises(TypeError, match="unknown"):
        ReplicaServer(rate_limt=3)


def test_cli_serves_on_a_free_port() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "recommender.cli", "replica", "--port", "0", "--rate-limit", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("serving MAL replica on http://127.0.0.1:"), line
        base = line.split()[-1]
        assert fetch(f"{base}/robots.txt")[0] == 200
        assert json.loads(fetch(f"{base}/_replica/stats")[2])["faults"]["rate_limit"] == 50.0
    finally:
        process.terminate()
        process.wait(10)


# -- the parsers read the replica's pages as the CSVs have them --------------------------------------
def test_parsers_agree_with_the_csv(site, anime_rows) -> None:
    parsers = pytest.importorskip("crawler.parsers", reason="the parsers (crawler/parsers) are not written yet")
    unknown_score = next(i for i, r in anime_rows.items() if r["Score"] == "Unknown")
    unknown_episodes = next(i for i, r in anime_rows.items() if r["Episodes"] == "Unknown")
    for anime_id in (1, NUMERIC_TITLE_ANIME, 29978, unknown_score, unknown_episodes):
        row = anime_rows[anime_id]
        url = f"{site.base_url}/anime/{anime_id}"
        parsed = parsers.parse_anime(fetch(url)[2], url)
        labels = [g.strip() for g in row["Genders"].split(",") if g.strip() != "Unknown"]
        assert parsed["anime_id"] == anime_id
        assert parsed["title"] == row["Name"]
        assert parsed["type"] == row["Type"]
        assert parsed["episodes"] == (int(row["Episodes"]) if row["Episodes"] != "Unknown" else None)
        assert parsed["score"] == (float(row["Score"]) if row["Score"] != "Unknown" else None)
        assert parsed["members"] == int(row["Members"])
        assert parsed["aired"] == row["Aired"]
        assert parsed["studios"] == ([] if row["Studios"] == "Unknown" else row["Studios"].split(", "))
        # The 2020 data has one genre list; the page splits it into Genres/Themes/Demographic.
        assert set(parsed["genres"]) | set(parsed["themes"]) | set(parsed["demographics"]) == set(labels)
        assert parsed["image_url"]

    expected = csv_list("0", anime_rows)
    entries = []
    for offset in (0, 300, 600):
        entries += parsers.parse_animelist(
            fetch(f"{site.base_url}/animelist/{BIG_USER}/load.json?offset={offset}&status=7")[2])
    assert [(e["anime_id"], e["score"], e["status"], e["episodes_watched"]) for e in entries] == expected
    assert next(e for e in entries if e["anime_id"] == NUMERIC_TITLE_ANIME)["title"] == "86"
    listpage = parsers.parse_listpage(fetch(f"{site.base_url}/animelist/{BIG_USER}")[2])
    assert listpage == entries[:300]

    users = parsers.parse_users(fetch(f"{site.base_url}/users.php?page=0")[2])
    assert len(users) == 20
    stats = parsers.parse_stats(fetch(f"{site.base_url}/anime/1/Cowboy_Bebop/stats?m=all&show=0")[2])
    assert len(stats) == 75 and stats[0]["username"] == "user0"
    profile = parsers.parse_profile(fetch(f"{site.base_url}/profile/{BIG_USER}")[2])
    assert profile["username"] == BIG_USER
    assert profile.get("total_entries") == len(expected)
    top = parsers.parse_top(fetch(f"{site.base_url}/topanime.php?limit=0")[2])
    assert len(top) == 50
    with pytest.raises(parsers.ParseError):
        parsers.parse_animelist(fetch(f"{site.base_url}/animelist/{PRIVATE_USER}/load.json?offset=0&status=7")[2])


def test_parsers_keep_titles_as_served(site, anime_rows) -> None:
    from crawler.parsers import parse_anime, parse_animelist

    title = anime_rows[30155]["Name"]
    assert "  " in title
    url = f"{site.base_url}/anime/30155"
    assert parse_anime(fetch(url)[2], url)["title"] == title
    # user13's list holds 36204, "Tokimeki Restaurant☆☆☆  MIRACLE6 Movie".
    entries = parse_animelist(fetch(f"{site.base_url}/animelist/user13/load.json?offset=0&status=7")[2])
    assert any(e["anime_id"] == 36204 for e in entries)
    assert all(e["title"] == anime_rows[e["anime_id"]]["Name"] for e in entries)
