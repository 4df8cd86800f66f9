"""The parsers on the real MAL pages in ../shared/fixtures/mal/ (2016-2024) and on edge cases made from them.

Expected values were read off the raw fixture HTML/JSON, not off the parsers' output. Edge cases are
derived from the real pages by small, targeted edits (the layout changes MAL made over the years), so
they test the real structure rather than a hand-made imitation of it.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.parsers import (
    PARSERS,
    BlockedPage,
    ListUnavailable,
    NotFoundPage,
    NotThisPage,
    ParseError,
    ServerErrorPage,
    TemplatePage,
    TruncatedPage,
    parse_anime,
    parse_animelist,
    parse_listpage,
    parse_profile,
    parse_stats,
    parse_top,
    parse_users,
)
from crawler.replica.data import shared_dir

ROOT = Path(__file__).resolve().parents[1]
SHARED = shared_dir()
FIXTURES = SHARED / "fixtures" / "mal"

ANIME_2024 = "mal_anime_57181_Ao_no_Hako_2024.html"
ANIME_2016 = "qasimk_anime_1.html"
STATS_2024 = "mal_anime_57181_stats_2024.html"
LOADJSON = "qasimk_loadjson_offset0_158items.json"
LOADJSON_END = "qasimk_loadjson_end_empty.json"
LOADJSON_400 = "qasimk_loadjson_400_forbidden.json"
USERS = "qasimk_users_php.html"
PROFILE = "qasimk_profile_SparkleBunnies.html"
PROFILE_404 = "qasimk_profile_404.html"
TOP = "jikan2018_topanime_limit0.html"
EPISODES_25 = '<span class="dark_text">Episodes:</span>\n  25'

# Which parser each real page belongs to; every other parser must refuse it.
FIXTURE_KINDS = {
    ANIME_2024: "anime",
    ANIME_2016: "anime",
    STATS_2024: "stats",
    LOADJSON: "animelist",
    LOADJSON_END: "animelist",
    USERS: "users",
    PROFILE: "profile",
    TOP: "top",
}


def fixture_text(name: str) -> str:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"real MAL fixture {path} is absent (set ANIMEREC_SHARED to the shared/ folder)")
    return path.read_text(encoding="utf-8")


def replace_once(text: str, old: str, new: str) -> str:
    """Edit a fixture, failing loudly if the fixture no longer contains what the edit targets."""
    assert text.count(old) >= 1, f"fixture does not contain {old!r}"
    return text.replace(old, new, 1)


# --- real pages -------------------------------------------------------------------------------------

def test_anime_2024_layout() -> None:
    anime = parse_anime(fixture_text(ANIME_2024))
    assert anime["anime_id"] == 57181  # from og:url: the 2024 page has no canonical link
    assert anime["title"] == "Ao no Hako"
    assert anime["synopsis"].startswith(
        "Taiki Inomata, a third-year student in junior high, attends Eimei Academy, an integrated school"
    )
    assert "Taiki's crush.\n\nChinatsu is the rising star" in anime["synopsis"]  # &#039; and <br> paragraphs
    assert anime["synopsis"].endswith("[Written by MAL Rewrite]")
    assert anime["genres"] == ["Romance", "Sports"]  # the hidden itemprop=genre copies are not doubled
    assert anime["themes"] == ["School", "Team Sports"]
    assert anime["type"] == "TV"
    assert anime["episodes"] == 25
    assert anime["aired"] == "Oct 3, 2024 to ?"
    assert anime["studios"] == ["Telecom Animation Film"]
    assert anime["score"] == 8.40
    assert anime["members"] == 128442
    assert anime["image_url"] == "https://cdn.myanimelist.net/images/anime/1341/145349.jpg"
    assert anime["demographics"] == ["Shounen"]
    assert set(anime) == {"anime_id", "title", "synopsis", "genres", "themes", "demographics", "type", "episodes",
                          "aired", "studios", "score", "members", "image_url"}


def test_anime_2016_layout() -> None:
    anime = parse_anime(fixture_text(ANIME_2016).encode("utf-8"))  # bytes work as well as str
    assert anime["anime_id"] == 1
    assert anime["title"] == "Cowboy Bebop"
    assert anime["synopsis"].startswith(
        "In the year 2071, humanity has colonized several of the planets and moons of the solar system"
    )
    assert 'referred to as "Cowboys".' in anime["synopsis"]  # &quot; decoded
    assert "travels\u2014Ein" in anime["synopsis"]  # &mdash; decoded
    assert "Background" not in anime["synopsis"] and "Evangelion" not in anime["synopsis"]
    assert anime["genres"] == ["Action", "Adventure", "Comedy", "Drama", "Sci-Fi", "Space"]
    assert anime["themes"] == []  # 2016 pages had no Themes row
    assert anime["type"] == "TV"
    assert anime["episodes"] == 26
    assert anime["aired"] == "Apr 3, 1998 to Apr 24, 1999"
    assert anime["studios"] == ["Sunrise"]
    assert anime["score"] == 8.83
    assert anime["members"] == 415050
    assert anime["image_url"] == "http://cdn.myanimelist.net/images/anime/4/19644.jpg"


def test_anime_id_prefers_the_url_argument() -> None:
    page = fixture_text(ANIME_2016)
    assert parse_anime(page, url="https://myanimelist.net/anime/5/Cowboy_Bebop__Tengoku_no_Tobira")["anime_id"] == 5
    assert parse_anime(page, url="https://myanimelist.net/topanime.php")["anime_id"] == 1  # no id: the page's


def test_stats_friends_view_has_no_members() -> None:
    # The saved page is the logged-in "friends" view: "No friends found with this Anime in their list."
    assert parse_stats(fixture_text(STATS_2024)) == []


def test_loadjson_page() -> None:
    entries = parse_animelist(fixture_text(LOADJSON))
    assert len(entries) == 158
    assert entries[0] == {"anime_id": 11843, "title": "Danshi Koukousei no Nichijou", "score": 0, "status": 1,
                          "episodes_watched": 9}
    assert entries[-1] == {"anime_id": 308, "title": "Zettai Shounen", "score": 0, "status": 6,
                           "episodes_watched": 0}
    by_id = {e["anime_id"]: e for e in entries}
    assert by_id[9253] == {"anime_id": 9253, "title": "Steins;Gate", "score": 10, "status": 2,
                           "episodes_watched": 24}
    assert by_id[320] == {"anime_id": 320, "title": "A Kite", "score": 4, "status": 2, "episodes_watched": 2}
    assert len(by_id) == 158
    assert sum(1 for e in entries if e["score"]) == 93
    assert sorted({e["status"] for e in entries}) == [1, 2, 3, 4, 6]


def test_loadjson_end_and_private() -> None:
    assert parse_animelist(fixture_text(LOADJSON_END)) == []
    with pytest.raises(ListUnavailable, match="invalid request") as info:
        parse_animelist(fixture_text(LOADJSON_400))
    assert info.value.reason == "list_unavailable"


def test_users_php() -> None:
    users = parse_users(fixture_text(USERS))
    names = [u["username"] for u in users]
    assert len(names) == 20
    assert names[:5] == ["Kaxkk", "MrNoname7890", "alkodrak", "Kumatetsu_Rei82", "0ldboy"]
    assert names[-2:] == ["AnimeFreak2205", "WitcherEnvy"]
    assert {"TMZ", "9broken_angeL", "Tom_West"} <= set(names)
    assert users[0]["last_online"] == "2 seconds ago"


def test_profile() -> None:
    profile = parse_profile(fixture_text(PROFILE))
    assert profile == {
        "username": "SparkleBunnies", "last_online": "10 hours ago", "joined": "Jan 6, 2014",
        "watching": 14, "completed": 129, "on_hold": 9, "dropped": 4, "plan_to_watch": 16,
        "total_entries": 172, "rewatched": 3, "episodes": 1388, "days": 21.2, "mean_score": 6.76,
    }


def test_top_anime() -> None:
    rows = parse_top(fixture_text(TOP))
    assert len(rows) == 50
    assert [r["rank"] for r in rows] == list(range(1, 51))
    assert rows[0] == {"rank": 1, "anime_id": 5114, "title": "Fullmetal Alchemist: Brotherhood", "score": 9.25,
                       "type": "TV", "episodes": 64, "members": 1219009}
    assert rows[9]["title"] == "Gintama': Enchousen"  # &#039; decoded
    assert rows[-1] == {"rank": 50, "anime_id": 28957, "title": "Mushishi Zoku Shou: Suzu no Shizuku",
                        "score": 8.7, "type": "Movie", "episodes": 1, "members": 56907}


@pytest.mark.parametrize("name", sorted(FIXTURE_KINDS))
def test_every_other_kind_refuses_a_real_page(name: str) -> None:
    body = fixture_text(name)
    for kind, parser in PARSERS.items():
        if kind == FIXTURE_KINDS[name]:
            continue
        with pytest.raises(NotThisPage):
            parser(body)


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_404_page_is_not_found_for_every_kind(kind: str) -> None:
    with pytest.raises(NotFoundPage) as info:
        PARSERS[kind](fixture_text(PROFILE_404))
    assert info.value.reason == "not_found"


# --- layout variants and edge cases made from the real pages ---------------------------------------

def test_span_synopsis_in_the_2024_layout() -> None:
    page = replace_once(fixture_text(ANIME_2024), '<p itemprop="description">', '<span itemprop="description">')
    anime = parse_anime(page)
    assert anime["synopsis"].startswith("Taiki Inomata, a third-year student")


def test_no_synopsis_placeholder_is_none() -> None:
    page = fixture_text(ANIME_2016)
    start = page.index('<span itemprop="description">')
    end = page.index("</span>", start)
    page = page[:start] + ('<span itemprop="description">No synopsis information has been added to this title. '
                           'Help improve our database by adding a synopsis <a href="/x">here</a>.') + page[end:]
    assert parse_anime(page)["synopsis"] is None


def test_unknown_episodes_and_na_score() -> None:
    page = fixture_text(ANIME_2024)
    page = replace_once(page, EPISODES_25, EPISODES_25.replace("25", "Unknown"))
    page = replace_once(page, '<span itemprop="ratingValue" class="score-label score-8">8.40</span>',
                        '<span class="score-label score-na">N/A</span>')
    anime = parse_anime(page)
    assert anime["episodes"] is None
    assert anime["score"] is None
    assert anime["members"] == 128442


def test_singular_labels_and_large_numbers() -> None:
    page = fixture_text(ANIME_2024)
    page = replace_once(page, '<span class="dark_text">Genres:</span>', '<span class="dark_text">Genre:</span>')
    page = replace_once(page, '<span class="dark_text">Themes:</span>', '<span class="dark_text">Theme:</span>')
    page = replace_once(page, '<span class="dark_text">Studios:</span>', '<span class="dark_text">Studio:</span>')
    page = replace_once(page, "Members:</span>\n    128,442", "Members:</span>\n    3,456,789")
    page = replace_once(page, EPISODES_25, EPISODES_25.replace("25", "1,100"))
    anime = parse_anime(page)
    assert anime["genres"] == ["Romance", "Sports"]
    assert anime["themes"] == ["School", "Team Sports"]
    assert anime["studios"] == ["Telecom Animation Film"]
    assert anime["members"] == 3456789
    assert anime["episodes"] == 1100


def test_no_studios_found_is_empty() -> None:
    page = fixture_text(ANIME_2024)
    studios = ('<a href="/anime/producer/94/Telecom_Animation_Film" title="Telecom Animation Film">'
               "Telecom Animation Film</a>")
    page = replace_once(page, studios, 'None found, <a href="/dbchanges.php?aid=57181&amp;t=producers">add some</a>')
    assert parse_anime(page)["studios"] == []


def test_html_entities_in_title() -> None:
    page = replace_once(fixture_text(ANIME_2024), "<strong>Ao no Hako</strong>",
                        "<strong>Kaguya-sama wa Kokurasetai&#039;s &amp; &quot;Love&quot;</strong>")
    assert parse_anime(page)["title"] == "Kaguya-sama wa Kokurasetai's & \"Love\""


def test_anime_without_any_id_needs_the_url() -> None:
    page = fixture_text(ANIME_2024)
    page = replace_once(page, '<meta property="og:url" content="https://myanimelist.net/anime/57181/Ao_no_Hako">', "")
    page = page.replace("dbchanges.php?aid=57181", "dbchanges.php?x=1")
    with pytest.raises(ParseError, match="no anime id"):
        parse_anime(page)
    assert parse_anime(page, url="http://127.0.0.1:8000/anime/57181/Ao_no_Hako")["anime_id"] == 57181


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_anime_page(cut: float) -> None:
    page = fixture_text(ANIME_2024)
    with pytest.raises(TruncatedPage) as info:
        parse_anime(page[: int(len(page) * cut)])
    assert info.value.reason == "truncated"


def test_page_cut_just_before_its_end_is_truncated() -> None:
    page = fixture_text(ANIME_2016).rstrip()
    assert page.endswith("</html>")
    with pytest.raises(TruncatedPage):
        parse_anime(page[:-7])
    assert parse_anime(page + "\n\n")["anime_id"] == 1  # trailing whitespace is fine


def test_template_text_in_anime_page() -> None:
    page = replace_once(fixture_text(ANIME_2024), "<strong>Ao no Hako</strong>",
                        "<strong>${ item.anime_title }</strong>")
    with pytest.raises(TemplatePage) as info:
        parse_anime(page)
    assert info.value.reason == "template"


def test_stats_all_members_table() -> None:
    # The "All Members" view (stats?m=all) in the markup MAL uses for it (table.table-recently-updated).
    rows = "".join(
        f'<tr><td class="borderClass"><div class="di-t"><div class="di-tc va-m al pl4">'
        f'<a href="/profile/{name}" style="background-image:url(x)"></a></div>'
        f'<div class="di-tc va-m al pl4"><a href="/profile/{name}">{name}</a></div></div></td>'
        f'<td class="borderClass ac">{score}</td><td class="borderClass ac">{status}</td>'
        f'<td class="borderClass ac">{eps}</td><td class="borderClass ac">Nov 3, 2:10 AM</td></tr>'
        for name, score, status, eps in [
            ("Kaxkk", "8", "Watching", "5 / 25"),
            ("Tom_West", "-", "Plan to Watch", "- / 25"),
            ("some-user", "10", "Completed", "25 / 25"),
        ]
    )
    table = ('<table class="table-recently-updated" border="0" cellpadding="0" cellspacing="0" width="100%">'
             '<tr><td class="borderClass fw-b">Member</td><td class="borderClass fw-b ac">Score</td>'
             '<td class="borderClass fw-b ac">Status</td><td class="borderClass fw-b ac">Eps Seen</td>'
             '<td class="borderClass fw-b ac">Activity</td></tr>' + rows + "</table>")
    page = replace_once(fixture_text(STATS_2024), "No friends found with this Anime in their list.", table)
    members = parse_stats(page)
    assert members == [
        {"username": "Kaxkk", "score": 8, "status": 1, "status_text": "Watching", "episodes_watched": 5},
        {"username": "Tom_West", "score": 0, "status": 6, "status_text": "Plan to Watch", "episodes_watched": None},
        {"username": "some-user", "score": 10, "status": 2, "status_text": "Completed", "episodes_watched": 25},
    ]


def test_top_anime_2024_row_layout() -> None:
    # Since ~2020 the title is an h3.anime_ranking_h3 and the score a span.score-label.
    page = fixture_text(TOP)
    start = page.index('<tr class="ranking-list">')
    end = page.rindex("</tr>") + len("</tr>")
    row = (
        '<tr class="ranking-list"><td class="rank ac" valign="top"><span class="lightLink top-anime-rank-text rank1">1'
        '</span></td><td class="title al va-t word-break"><a class="hoverinfo_trigger fl-l ml12 mr8" '
        'href="https://myanimelist.net/anime/52991/Sousou_no_Frieren"><img alt="Anime: Sousou no Frieren"></a>'
        '<div class="detail"><div class="di-ib clearfix"><h3 class="fl-l fs14 fw-b anime_ranking_h3">'
        '<a href="https://myanimelist.net/anime/52991/Sousou_no_Frieren">Sousou no Frieren</a></h3></div><br>'
        '<div class="information di-ib mt4">TV (28 eps)<br>Sep 2023 - Mar 2024<br>1,000,203 members</div></div></td>'
        '<td class="score ac fs14"><div class="js-top-ranking-score-col di-ib al"><span class="text on score-label '
        'score-9">9.30</span></div></td></tr>'
        '<tr class="ranking-list"><td class="rank ac"><span class="lightLink top-anime-rank-text">-</span></td>'
        '<td class="title"><div class="detail"><h3 class="anime_ranking_h3"><a href="/anime/60000/Upcoming">Upcoming'
        '</a></h3><div class="information di-ib mt4">TV (? eps)<br>2025 - <br>12 members</div></div></td>'
        '<td class="score ac fs14"><span class="text on score-label score-na">N/A</span></td></tr>'
    )
    rows = parse_top(page[:start] + row + page[end:])
    assert rows == [
        {"rank": 1, "anime_id": 52991, "title": "Sousou no Frieren", "score": 9.3, "type": "TV", "episodes": 28,
         "members": 1000203},
        {"rank": None, "anime_id": 60000, "title": "Upcoming", "score": None, "type": "TV", "episodes": None,
         "members": 12},
    ]


# --- pages that are not content ---------------------------------------------------------------------

CAPTCHA_PAGE = """<!DOCTYPE html><html><head><title>MyAnimeList.net</title></head><body>
<div id="contentWrapper"><h1 class="h1">Please verify</h1><form method="post" action="/submission/captcha">
<div class="g-recaptcha" data-sitekey="x"></div><div class="display-submit"><input type="submit" value="Submit">
</div></form></div></body></html>"""
RATE_LIMIT_PAGE = ("<html><head><title>429 Too Many Requests</title></head>"
                   "<body><h1>429 Too Many Requests</h1></body></html>")
BAN_PAGE = "<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1><p>banned</p></body></html>"
HUMAN_CHECK_PAGE = "<html><head><title>Are you a human? - MyAnimeList.net</title></head><body></body></html>"


@pytest.mark.parametrize("kind", sorted(PARSERS))
@pytest.mark.parametrize("page", [CAPTCHA_PAGE, RATE_LIMIT_PAGE, BAN_PAGE, HUMAN_CHECK_PAGE, CAPTCHA_PAGE[:-30]],
                         ids=["captcha", "429", "403", "human-check", "captcha-truncated"])
def test_block_pages_are_blocked_for_every_kind(kind: str, page: str) -> None:
    with pytest.raises(BlockedPage) as info:
        PARSERS[kind](page)
    assert info.value.reason == "blocked"


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_server_error_pages_are_retryable_blocks(kind: str) -> None:
    page = ('<!DOCTYPE html><html><head><title>\n500 Internal Server Error - MyAnimeList.net\n</title></head><body>'
            '<div id="contentWrapper"><h1 class="h1">500 Internal Server Error</h1></div></body></html>')
    with pytest.raises(ServerErrorPage) as info:
        PARSERS[kind](page)
    assert isinstance(info.value, BlockedPage) and info.value.reason == "server_error"


def test_titles_that_merely_resemble_block_pages_still_parse() -> None:
    for title in ("Forbidden Love", "403 Days of Summer", "429 Rate", "503 Days", "Captcha Girl", "Not Found Yet"):
        page = replace_once(fixture_text(ANIME_2024), "<strong>Ao no Hako</strong>", f"<strong>{title}</strong>")
        page = replace_once(page, "\nAo no Hako (Blue Box) - MyAnimeList.net", f"\n{title} - MyAnimeList.net")
        assert parse_anime(page)["title"] == title


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_empty_body_is_truncated(kind: str) -> None:
    with pytest.raises(TruncatedPage):
        PARSERS[kind](b"  \n")


def test_every_parse_error_has_a_one_line_reason() -> None:
    for exc in (NotThisPage("anime", "x\ny"), BlockedPage("top", "captcha"), ParseError("users", "bad")):
        assert "\n" not in exc.one_line() and exc.one_line().startswith(exc.reason + ": ")


# --- load.json and the list page -------------------------------------------------------------------

def entry(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"status": 2, "score": 8, "tags": "", "num_watched_episodes": 12,
                               "anime_title": "Steins;Gate", "anime_num_episodes": 24, "anime_id": 9253}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


def test_numeric_title_is_text() -> None:
    body = json.dumps([entry(anime_id=41457, anime_title=86, score=9, status=2, num_watched_episodes=11)])
    assert parse_animelist(body) == [{"anime_id": 41457, "title": "86", "score": 9, "status": 2,
                                      "episodes_watched": 11}]


def test_entities_in_json_titles_are_decoded() -> None:
    body = json.dumps([entry(anime_title="Kaguya-sama wa Kokurasetai&#039;s &amp; Love")])
    assert parse_animelist(body)[0]["title"] == "Kaguya-sama wa Kokurasetai's & Love"


@pytest.mark.parametrize(("fields", "message"), [
    ({"anime_id": ...}, "entry 0 has no anime_id"),
    ({"anime_id": "9253"}, "anime_id must be an integer"),
    ({"anime_id": 0}, "anime_id must be positive"),
    ({"score": 11}, "score must be 0..10"),
    ({"score": True}, "score must be an integer"),
    ({"status": 5}, "status must be one of"),
    ({"num_watched_episodes": ...}, "has no num_watched_episodes"),
    ({"anime_title": None}, "anime_title must be text"),
])
def test_bad_entries_are_rejected_with_the_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        parse_animelist(json.dumps([entry(**fields)]))
    assert info.value.reason == "invalid"


def test_loadjson_template_truncated_and_wrong_shapes() -> None:
    with pytest.raises(TemplatePage):
        parse_animelist(json.dumps([entry(anime_title="${ item.anime_title }")]))
    with pytest.raises(TruncatedPage):
        parse_animelist(json.dumps([entry(), entry()])[:-30])
    with pytest.raises(NotThisPage):
        parse_animelist('{"data": []}')
    with pytest.raises(NotThisPage):
        parse_animelist("hello")


def listpage(items: str | None, rows: str = "") -> str:
    """A list page in MAL's markup: entries in data-items, rows drawn by JavaScript from a template."""
    data = "" if items is None else f' data-items="{html.escape(items, quote=True)}"'
    template = rows or ('<tbody class="list-item"><tr class="list-table-data"><td class="data title">'
                        '<a href="${ item.anime_url }" class="link sort">${ item.anime_title }</a></td>'
                        '<td class="data score">${ item.score }</td></tr></tbody>')
    return ('<!DOCTYPE html><html><head><title>SparkleBunnies\'s Anime List - MyAnimeList.net</title></head>'
            '<body class="ownlist anime"><div class="list-container"><table class="list-table"'
            f' data-items-count="0"{data}><tbody><tr class="list-table-header"><th>Title</th></tr></tbody>'
            f'{template}</table></div><footer></footer></body></html>')


def test_listpage_data_items() -> None:
    items = json.dumps([entry(), entry(anime_id=41457, anime_title=86, score=0, status=6, num_watched_episodes=0),
                        entry(anime_id=1, anime_title='Cowboy "Bebop" & <Friends>', status=1)])
    assert parse_listpage(listpage(items)) == [
        {"anime_id": 9253, "title": "Steins;Gate", "score": 8, "status": 2, "episodes_watched": 12},
        {"anime_id": 41457, "title": "86", "score": 0, "status": 6, "episodes_watched": 0},
        {"anime_id": 1, "title": 'Cowboy "Bebop" & <Friends>', "score": 8, "status": 1, "episodes_watched": 12},
    ]


def test_listpage_from_the_real_loadjson_entries() -> None:
    entries = json.loads(fixture_text(LOADJSON))
    assert parse_listpage(listpage(json.dumps(entries))) == parse_animelist(fixture_text(LOADJSON))


def test_listpage_failures() -> None:
    with pytest.raises(TemplatePage):
        parse_listpage(listpage(None))  # only the JavaScript row template, no data
    with pytest.raises(TemplatePage):
        parse_listpage(listpage('[{"anime_id": 1, "anime_title": "${ item.anime_title }"}]'))
    with pytest.raises(NotThisPage):
        parse_listpage(listpage(None, rows="<tbody><tr><td>classic</td></tr></tbody>"))
    with pytest.raises(TruncatedPage):
        parse_listpage(listpage(json.dumps([entry()]))[:200])
    with pytest.raises(ParseError, match="has no anime_id"):
        parse_listpage(listpage(json.dumps([entry(anime_id=...)])))
    private = ('<html><head><title>Anime List - MyAnimeList.net</title></head><body><div id="content">'
               "Access to this list has been restricted by the owner.</div></body></html>")
    with pytest.raises(ListUnavailable):
        parse_listpage(private)


# --- the CLI ----------------------------------------------------------------------------------------

def test_cli_parse_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    from recommender.cli import main

    fixture_text(ANIME_2016)  # skips when absent
    assert main(["parse", "anime", str(FIXTURES / ANIME_2016)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["anime_id"] == 1 and out["title"] == "Cowboy Bebop" and out["episodes"] == 26

    assert main(["parse", "animelist", str(FIXTURES / LOADJSON), "--compact"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 158


def test_cli_parse_url_option(capsys: pytest.CaptureFixture[str]) -> None:
    from recommender.cli import main

    fixture_text(ANIME_2016)
    url = "https://myanimelist.net/anime/5/Cowboy_Bebop__Tengoku_no_Tobira"
    assert main(["parse", "anime", str(FIXTURES / ANIME_2016), "--url", url]) == 0
    assert json.loads(capsys.readouterr().out)["anime_id"] == 5


@pytest.mark.parametrize(("kind", "name", "reason"), [
    ("anime", PROFILE_404, "not_found"),
    ("anime", PROFILE, "wrong_kind"),
    ("profile", LOADJSON, "wrong_kind"),
    ("animelist", LOADJSON_400, "list_unavailable"),
])
def test_cli_parse_failures_exit_nonzero_with_one_line(kind: str, name: str, reason: str) -> None:
    fixture_text(name)
    proc = subprocess.run(
        [sys.executable, "-m", "recommender.cli", "parse", kind, str(FIXTURES / name)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"animerec parse: {reason}: "), proc.stderr


def test_cli_parse_reads_stdin_and_reports_missing_files(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "recommender.cli", "parse", "animelist", "-"],
        input=json.dumps([entry(anime_title=86)]), capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["title"] == "86"
    proc = subprocess.run(
        [sys.executable, "-m", "recommender.cli", "parse", "anime", str(tmp_path / "missing.html")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 2 and "cannot read" in proc.stderr
