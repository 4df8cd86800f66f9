"""Render the replica's bodies: string templates that keep the structure of the real 2024 MAL pages.

Only what scrapers rely on is reproduced (element names, classes, itemprops, label texts, paging links);
the site chrome is reduced to a shell. Every renderer is a pure function of the data and the site's base
URL, so the same data always gives byte-identical bodies. Absolute links use the base URL the request
came in on (MAL links to itself absolutely), so a crawler following them stays on the replica.
"""

from __future__ import annotations

import json
from html import escape

from crawler.replica.data import (
    PAGE_SIZE_LOADJSON,
    STATUS_NAMES,
    Anime,
    ReplicaData,
    User,
    duration_minutes,
    mal_date_string,
)

STATS_PAGE_SIZE = 75
USERS_PAGE_SIZE = 20
TOP_PAGE_SIZE = 50
STATUS_CLASSES = {1: "watching", 2: "completed", 3: "on_hold", 4: "dropped", 6: "plan_to_watch"}


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _n(number: int) -> str:
    return f"{number:,}"


def shell(base: str, title: str, body: str, *, description: str = "", canonical: str = "",
          og: str = "", body_class: str = "page-common") -> str:
    """The page frame shared by every HTML page (head, header, contentWrapper, footer)."""
    canonical_link = f'<link rel="canonical" href="{_e(canonical)}" />\n' if canonical else ""
    return (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
        '    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html lang="en" xmlns:og="http://ogp.me/ns#" xmlns:fb="http://www.facebook.com/2008/fbml">\n'
        "<head>\n"
        f"<title>\n{_e(title)} - MyAnimeList.net\n</title>\n"
        f'<meta name="description" content="{_e(description)}" />\n'
        '<meta name="keywords" content="anime, myanimelist, anime news, manga" />\n'
        '<meta property="og:locale" content="en_US"><meta property="og:site_name" content="MyAnimeList.net">'
        f"{og}\n{canonical_link}"
        "</head>\n"
        f'<body onload=" " class="{body_class}">\n'
        '<div id="myanimelist">\n'
        f'<div id="headerSmall"><a href="{base}/" class="link-mal-logo">MyAnimeList.net</a></div>\n'
        f"{body}\n"
        '<div id="footer-block"><div class="footer-link-icon-block"></div>'
        '<div id="copyright">MyAnimeList.net is a property of MyAnimeList Co., Ltd. ©2024 All Rights Reserved.'
        "</div></div>\n"
        "</div>\n</body>\n</html>\n"
    )


def _info_block(label: str, inner: str) -> str:
    return f'<div class="spaceit_pad">\n  <span class="dark_text">{label}:</span>\n  {inner}\n  </div>\n'


def _links(base: str, kind: str, names: list[str], empty: str) -> str:
    if not names:
        return empty
    return ",       ".join(
        f'<a href="/anime/{kind}/{_e(n.replace(" ", "_"))}" title="{_e(n)}">{_e(n)}</a>' for n in names
    )


def _genre_block(label: str, names: list[str]) -> str:
    if not names:
        return ""
    plural = label + "s" if len(names) > 1 and label != "Demographic" else label
    spans = ",         ".join(
        f'<span itemprop="genre" style="display: none">{_e(n)}</span>'
        f'<a href="/anime/genre/{_e(n.replace(" ", "_"))}" title="{_e(n)}">{_e(n)}</a>' for n in names
    )
    return (f'      <div class="spaceit_pad">\n              <span class="dark_text">{plural}:</span>\n'
            f"                    {spans}    </div>\n")


def synopsis_html(anime: Anime) -> str:
    if not anime.synopsis:
        return ("No synopsis information has been added to this title. Help improve our database by adding a "
                f'synopsis <a href="/dbchanges.php?aid={anime.anime_id}&amp;t=synopsis">here</a>.')
    return "<br />\n".join(_e(line) for line in anime.synopsis.split("\n"))


def anime_page(data: ReplicaData, base: str, anime: Anime) -> str:
    url = base + anime.url_path
    image = base + anime.image_path
    score = f"{anime.score:.2f}" if anime.score is not None else "N/A"
    score_class = f"score-{int(anime.score)}" if anime.score is not None else "score-na"
    if anime.score is not None:
        score_inner = (
            f'<span itemprop="ratingValue" class="score-label {score_class}">{score}</span><sup>1</sup> '
            f'(scored by <span itemprop="ratingCount" style="display: none">{anime.scored_by}</span>'
            f"{_n(anime.scored_by)} users)\n"
            '      <meta itemprop="bestRating" content="10">\n    <meta itemprop="worstRating" content="1">'
        )
    else:
        score_inner = f'<span class="score-label {score_class}">N/A</span><sup>1</sup>'
    type_inner = (f'<a href="{base}/topanime.php?type={_e(anime.type.lower())}">{_e(anime.type)}</a>'
                  if anime.type else "Unknown")
    status_text = {1: "Currently Airing", 2: "Finished Airing", 3: "Not yet aired"}[anime.airing_status]
    info = "".join([
        _info_block("Type", type_inner),
        _info_block("Episodes", str(anime.episodes) if anime.episodes is not None else "Unknown"),
        _info_block("Status", status_text),
        _info_block("Aired", _e(anime.aired or "Not available")),
        _info_block("Premiered", f'<a href="{base}/anime/season">{_e(anime.premiered)}</a>'
                    if anime.premiered else "?"),
        _info_block("Producers", _links(base, "producer", anime.producers, "None found, add some")),
        _info_block("Licensors", _links(base, "producer", anime.licensors, "None found, add some")),
        _info_block("Studios", _links(base, "producer", anime.studios, "None found, add some")),
        _info_block("Source", _e(anime.source or "Unknown")),
        _genre_block("Genre", anime.genres),
        _genre_block("Theme", anime.themes),
        _genre_block("Demographic", anime.demographics),
        _info_block("Duration", _e(anime.duration or "Unknown")),
        _info_block("Rating", _e(anime.rating or "None")),
    ])
    stats = (
        '<div itemprop="aggregateRating" itemscope itemtype="http://schema.org/AggregateRating" '
        'class="spaceit_pad po-r js-statistics-info di-ib" data-id="info1">\n'
        f'  <span class="dark_text">Score:</span>\n  {score_inner}\n</div>\n'
        '<div class="spaceit_pad po-r js-statistics-info di-ib" data-id="info2">\n'
        f'  <span class="dark_text">Ranked:</span>\n  {"#" + str(anime.ranked) if anime.ranked else "N/A"}'
        "<sup>2</sup>\n</div>\n"
        f'<div class="spaceit_pad">\n  <span class="dark_text">Popularity:</span>\n  #{anime.popularity}\n</div>\n'
        f'<div class="spaceit_pad">\n  <span class="dark_text">Members:</span>\n    {_n(anime.members)}\n</div>\n'
        f'<div class="spaceit_pad">\n  <span class="dark_text">Favorites:</span>\n  {_n(anime.favorites)}\n</div>\n'
    )
    alt_titles = ""
    if anime.japanese:
        alt_titles += _info_block("Japanese", _e(anime.japanese))
    if anime.english:
        alt_titles += _info_block("English", _e(anime.english))
    english_h = f'<br><p class="title-english title-inherit">{_e(anime.english)}</p>' if anime.english else ""
    body = (
        '<div id="contentWrapper" itemscope itemtype="http://schema.org/TVSeries"><div><div class="h1 edit-info">\n'
        '      <div class="h1-title"><div itemprop="name"><h1 class="title-name h1_bold_none">'
        f"<strong>{_e(anime.title)}</strong></h1>{english_h}</div></div></div></div>"
        '<div id="content" >\n<table border="0" cellpadding="0" cellspacing="0" width="100%">\n<tr>\n'
        '<td class="borderClass" width="225" style="border-width: 0 1px 0 0;" valign="top">'
        '<div class="leftside" style="width: 225px">\n<div style="text-align: center;">\n'
        f'  <a href="{url}/pics">\n      <img class="lazyload" data-src="{image}" alt="{_e(anime.title)}" '
        'class="ac" itemprop="image">\n    </a>\n  </div>\n'
        f"<h2>Alternative Titles</h2>{alt_titles}<br />\n<h2>Information</h2>\n{info}<br />\n"
        f"<h2>Statistics</h2>\n{stats}</div></td>"
        '<td valign="top" style="padding-left: 5px;"><div class="rightside js-scrollfix-bottom-rel">\n'
        '<div id="horiznav_nav" style="margin: 5px 0 10px 0;"><ul>'
        f'<li><a href="{url}" class="horiznav_active">Details</a></li>'
        f'<li><a href="{url}/stats">Stats</a></li></ul></div>\n'
        '<table border="0" cellspacing="0" cellpadding="0" width="100%"><tr><td valign="top" class="pb24">'
        '<div><h2 id="synopsis">Synopsis</h2></div>'
        f'<p itemprop="description">{synopsis_html(anime)}</p>'
        "</td></tr></table></div></td></tr></table></div></div><!-- end of contentWrapper -->"
    )
    og = (f'<meta property="og:title" content="{_e(anime.title)}"><meta property="og:type" content="video.tv_show">'
          f'<meta property="og:image" content="{image}"><meta property="og:url" content="{url}">'
          f'<meta property="og:description" content="{_e(anime.synopsis or "")}">')
    title = f"{anime.title} ({anime.english})" if anime.english else anime.title
    return shell(base, title, body, canonical=url, og=og,
                 description=f"Looking for information on the anime {title}? Find out more with MyAnimeList.")


def stats_page(data: ReplicaData, base: str, anime: Anime, show: int) -> str:
    url = base + anime.url_path
    rows = data.members(anime.anime_id)
    page = rows[show:show + STATS_PAGE_SIZE]
    summary = "".join(
        f'<div class="spaceit_pad"><span class="dark_text">{name}:</span> {_n(count)}</div>'
        for name, count in anime.status_counts.items()
    ) + f'<div class="spaceit_pad"><span class="dark_text">Total:</span> {_n(anime.members)}</div>'
    member_rows = []
    for i in page:
        user = data.user_by_index[int(data.row_user[i])]
        score = int(data.entry_score[i])
        total = anime.episodes if anime.episodes is not None else "?"
        member_rows.append(
            '<tr>\n<td class="borderClass"><div class="di-tc va-m al pl4">'
            f'<a href="{base}/profile/{_e(user.username)}" class="word-break">{_e(user.username)}</a></div></td>\n'
            f'<td class="borderClass ac">{score if score else "-"}</td>\n'
            f'<td class="borderClass ac">{STATUS_NAMES.get(int(data.entry_status[i]), "")}</td>\n'
            f'<td class="borderClass ac">{int(data.entry_eps[i])} / {total}</td>\n</tr>\n'
        )
    paging = []
    if show > 0:
        paging.append(f'<div class="fl-l"><a href="{url}/stats?m=all&amp;show={max(0, show - STATS_PAGE_SIZE)}'
                      '#members">Previous</a></div>')
    if show + STATS_PAGE_SIZE < len(rows):
        paging.append(f'<div class="fl-r"><a href="{url}/stats?m=all&amp;show={show + STATS_PAGE_SIZE}'
                      '#members">Next</a></div>')
    members = (
        '<table border="0" cellspacing="0" cellpadding="0" width="100%" class="table-recently-updated">\n'
        '<tr class="table-header"><td class="borderClass fw-b">Member</td><td class="borderClass fw-b ac">Score'
        '</td><td class="borderClass fw-b ac">Status</td><td class="borderClass fw-b ac">Eps Seen</td></tr>\n'
        + "".join(member_rows) + "</table>\n"
        if member_rows else "No members found with this Anime in their list.\n"
    )
    body = (
        '<div id="contentWrapper" itemscope itemtype="http://schema.org/TVSeries"><div><div class="h1 edit-info">'
        '<div class="h1-title"><div itemprop="name"><h1 class="title-name h1_bold_none">'
        f"<strong>{_e(anime.title)}</strong></h1></div></div></div></div><div id=\"content\" >\n"
        f'<h2 id="summary_stats">Summary Stats</h2>{summary}<br>\n'
        '<a name="members" id="members"></a><div><span style="float: right; font-weight: normal; font-size: 11px;">'
        f'<a href="{url}/stats?m=all#members">All Members</a></span><h2>Recently Updated By</h2></div>\n'
        f'{members}<div class="mauto clearfix pt24" style="width:760px;">{"".join(paging)}</div>\n'
        "</div></div><!-- end of contentWrapper -->"
    )
    return shell(base, f"{anime.title} - Statistics", body, canonical=f"{url}/stats",
                 description=f"See scores, popularity and other stats for the anime {anime.title} on MyAnimeList.")


def users_page(data: ReplicaData, base: str, start: int) -> str:
    users = data.online_order
    count = len(users)
    shown = [users[(start + k) % count] for k in range(min(USERS_PAGE_SIZE, count))] if count else []
    cells = []
    for k, user in enumerate(shown):
        name = _e(user.username)
        cells.append(
            '<td align="center"  class="borderClass">\n'
            f'            <div style="margin-bottom: 7px;"><a href="/profile/{name}">{name}</a></div>\n'
            f'            <div class="picSurround"><a href="/profile/{name}">'
            f'<img src="{base}/images/questionmark_50.gif" border="0"></a></div>\n'
            f'            <div class="spaceit_pad lightLink"><small>{2 + k * 3} seconds ago</small></div>\n'
            "            </td>"
        )
    rows = "</tr><tr>".join("".join(cells[i:i + 5]) for i in range(0, len(cells), 5))
    body = (
        '<div id="contentWrapper"><div><h1 class="h1">Users</h1></div><div id="content">\n'
        '<table border="0" cellpadding="0" cellspacing="0" width="100%">\n<tr>\n'
        '<td valign="top" width="68%" style="padding-right: 15px;">\n'
        '<div class="normal_header" style="font-size: 14px;">Recently Online Users</div>\n'
        f'<table border="0" cellpadding="10" cellspacing="0" width="100%"><tr>{rows}</tr></table>\n'
        "</td></tr></table></div></div><!-- end of contentWrapper -->"
    )
    return shell(base, "Users", body, canonical=f"{base}/users.php")


def profile_page(data: ReplicaData, base: str, user: User) -> str:
    name = _e(user.username)
    rows = data.rows(user)
    statuses = data.entry_status[rows]
    counts = {s: int((statuses == s).sum()) for s in STATUS_CLASSES}
    scores = data.entry_score[rows]
    scored = scores[scores > 0]
    mean = f"{float(scored.mean()):.2f}" if len(scored) else "0.00"
    episodes = int(data.entry_eps[rows].sum())
    minutes = sum(int(data.entry_eps[i]) * duration_minutes(data.anime[int(data.entry_anime[i])].duration)
                  for i in rows)
    status_items = "".join(
        f'<li class="clearfix mb12"><a href="{base}/animelist/{name}?status={s}" '
        f'class="di-ib fl-l lh10 circle anime {cls}">{STATUS_NAMES[s]}</a>'
        f'<span class="di-ib fl-r lh10">{_n(counts[s])}</span></li>'
        for s, cls in STATUS_CLASSES.items()
    )
    data_items = (
        f'<li class="clearfix mb12"><span class="di-ib fl-l fn-grey2">Total Entries</span>'
        f'<span class="di-ib fl-r">{_n(len(rows))}</span></li>'
        '<li class="clearfix mb12"><span class="di-ib fl-l fn-grey2">Rewatched</span>'
        '<span class="di-ib fl-r">0</span></li>'
        '<li class="clearfix mb12"><span class="di-ib fl-l fn-grey2">Episodes</span>'
        f'<span class="di-ib fl-r">{_n(episodes)}</span></li>'
    )
    body = (
        '<div id="contentWrapper" ><div><h1 class="h1"><span class="di-ib po-r">\n'
        f"  {name}'s Profile\n  </span></h1></div><div id=\"content\">\n"
        '<div class="content-container"><div class="container-left"><div class="user-profile">\n'
        f'<div class="user-image mb8"><img src="{base}/images/questionmark_50.gif"></div>\n'
        '<div class="user-button clearfix mb12">'
        f'<a class="btn-profile-submit fl-l" href="{base}/animelist/{name}">Anime List</a></div>\n'
        '</div></div><div class="container-right"><div class="user-statistics mb24" id="statistics">'
        '<h2>Statistics</h2><div class="user-statistics-stats mt16"><div class="stats anime">'
        "<h5>Anime Stats</h5>\n"
        '<div class="stat-score di-t w100 pt8">'
        f'<div class="di-tc al pl8 fs12 fw-b"><span class="fn-grey2 fw-n">Days: </span>{minutes / 1440:.1f}</div>'
        f'<div class="di-tc ar pr8 fs12 fw-b"><span class="fn-grey2 fw-n">Mean Score: </span>{mean}</div></div>\n'
        f'<div class="mt12 ml8 mr8 clearfix"><ul class="stats-status fl-l">{status_items}</ul>'
        f'<ul class="stats-data fl-r">{data_items}</ul></div>\n'
        "</div></div></div></div></div></div></div><!-- end of contentWrapper -->"
    )
    og = (f'<meta property="og:title" content=" {name}&#039;s Profile - MyAnimeList.net ">'
          f'<meta property="og:url" content="{base}/profile/{name}">')
    return shell(base, f"{user.username}'s Profile", body, canonical=f"{base}/profile/{name}", og=og,
                 description=f"Check out {user.username}'s anime and manga lists, stats, favorites and more.")


def list_entry(data: ReplicaData, base: str, row: int) -> dict:
    """One load.json entry, with the fields and value conventions of MAL's endpoint."""
    anime = data.anime[int(data.entry_anime[row])]
    title: str | int = anime.title
    # MAL serves an all-digit title ("86") as a JSON number; leading zeros would not survive, so keep those.
    if anime.title.isdigit() and str(int(anime.title)) == anime.title:
        title = int(anime.title)
    aired = (anime.aired or "").split(" to ")
    rating = anime.rating.split(" - ")[0] if anime.rating else ""
    return {
        "status": int(data.entry_status[row]),
        "score": int(data.entry_score[row]),
        "tags": "",
        "is_rewatching": 0,
        "num_watched_episodes": int(data.entry_eps[row]),
        "anime_title": title,
        "anime_num_episodes": anime.episodes or 0,
        "anime_airing_status": anime.airing_status,
        "anime_id": anime.anime_id,
        "anime_studios": None,
        "anime_licensors": None,
        "anime_season": None,
        "has_episode_video": False,
        "has_promotion_video": False,
        "has_video": False,
        "video_url": f"{anime.url_path}/video",
        "anime_url": anime.url_path,
        "anime_image_path": base + anime.image_path,
        "is_added_to_list": False,
        "anime_media_type_string": anime.type or "Unknown",
        "anime_mpaa_rating_string": rating,
        "start_date_string": None,
        "finish_date_string": None,
        "anime_start_date_string": mal_date_string(aired[0]) if aired[0] else None,
        "anime_end_date_string": mal_date_string(aired[1]) if len(aired) > 1 else None,
        "days_string": None,
        "storage_string": "",
        "priority_string": "Low",
    }


def list_entries(data: ReplicaData, base: str, user: User, offset: int, status: int,
                 limit: int = PAGE_SIZE_LOADJSON) -> list[dict]:
    rows = data.rows(user, status)[offset:offset + limit] if offset >= 0 else []
    return [list_entry(data, base, int(r)) for r in rows]


def loadjson_body(data: ReplicaData, base: str, user: User, offset: int, status: int) -> str:
    # Compact separators, \uXXXX and escaped slashes, like PHP's json_encode.
    body = json.dumps(list_entries(data, base, user, offset, status), separators=(",", ":"))
    return body.replace("/", "\\/")


LOADJSON_ERROR = '{"errors":[{"message":"invalid request"}]}'

# Rows are drawn from data-items by script, as on MAL; the x-template shows the `${ item.* }` text a
# scraper sees if it reads the page without running JavaScript.
_LIST_SCRIPT = """<script type="text/x-template" id="list-row-template">
<tbody class="list-item"><tr class="list-table-data"><td class="data number"></td>
<td class="data title clearfix"><a class="link sort" href="${ item.anime_url }">${ item.anime_title }</a></td>
<td class="data score"><span class="score-label">${ item.score }</span></td>
<td class="data type">${ item.anime_media_type_string }</td>
<td class="data progress"><span>${ item.num_watched_episodes }</span></td></tr></tbody></script>
<script type="text/javascript">
(function () {
  var table = document.querySelector("table.list-table");
  var items = JSON.parse(table.getAttribute("data-items"));
  var cells = ["number", "title", "score", "type", "progress"];
  items.forEach(function (item, i) {
    var body = document.createElement("tbody");
    body.className = "list-item";
    var tr = document.createElement("tr");
    tr.className = "list-table-data";
    cells.forEach(function (name) {
      var td = document.createElement("td");
      td.className = "data " + name;
      if (name === "number") { td.textContent = String(i + 1); }
      if (name === "title") {
        var a = document.createElement("a");
        a.className = "link sort";
        a.href = item.anime_url;
        a.textContent = String(item.anime_title);
        td.appendChild(a);
      }
      if (name === "score") { td.innerHTML = '<span class="score-label">' + (item.score || "-") + "</span>"; }
      if (name === "type") { td.textContent = item.anime_media_type_string; }
      if (name === "progress") { td.innerHTML = "<span>" + item.num_watched_episodes + "</span>"; }
      tr.appendChild(td);
    });
    body.appendChild(tr);
    table.appendChild(body);
  });
  table.setAttribute("data-drawn", String(items.length));
})();
</script>"""


def animelist_page(data: ReplicaData, base: str, user: User, status: int) -> str:
    name = _e(user.username)
    if user.private:
        body = ('<div id="contentWrapper"><div id="content"><div class="badresult">'
                "Access to this list has been restricted by the owner.</div></div></div>")
        return shell(base, f"{user.username}'s Anime List", body, body_class="ownlist anime")
    items = list_entries(data, base, user, 0, status)
    data_items = _e(json.dumps(items, separators=(",", ":"), ensure_ascii=False))
    body = (
        f'<div class="header"><div class="header-title"><div class="di-ib">Viewing {name}\'s Anime List</div>'
        "</div></div>\n"
        f'<div class="list-block"><div class="list-unit all_anime"><div class="list-status-title">'
        f'<span class="text">{"ALL ANIME" if status == 7 else STATUS_NAMES.get(status, "").upper()}</span></div>\n'
        f'<table class="list-table" data-items="{data_items}"><tbody><tr class="list-table-header">'
        '<th class="header-title number">#</th><th class="header-title title">Anime Title</th>'
        '<th class="header-title score">Score</th><th class="header-title type">Type</th>'
        '<th class="header-title progress">Progress</th></tr></tbody></table></div></div>\n'
        f"{_LIST_SCRIPT}"
    )
    return shell(base, f"{user.username}'s Anime List", body, canonical=f"{base}/animelist/{name}",
                 body_class="ownlist anime")


def top_page(data: ReplicaData, base: str, limit: int) -> str:
    ranked = data.top[limit:limit + TOP_PAGE_SIZE]
    rows = []
    for anime in ranked:
        url = base + anime.url_path
        eps = anime.episodes if anime.episodes is not None else "?"
        aired = (anime.aired or "").split(" to ")
        rows.append(
            '<tr class="ranking-list">\n    <td class="rank ac" valign="top">\n'
            f'    <span class="lightLink top-anime-rank-text rank1">{anime.ranked}</span>\n  </td>\n'
            '    <td class="title al va-t word-break">\n'
            f'    <a class="hoverinfo_trigger fl-l ml12 mr8" href="{url}" id="#area{anime.anime_id}" '
            f'rel="#info{anime.anime_id}">\n      <img width="50" height="70" alt="Anime: {_e(anime.title)}" '
            f'class="lazyload" border="0" data-src="{base}{anime.image_path}">\n    </a>\n'
            f'    <div class="detail"><div id="area{anime.anime_id}">\n'
            f'  <div id="info{anime.anime_id}" rel="a{anime.anime_id}" class="hoverinfo"></div>\n</div>\n'
            f'<div class="di-ib clearfix"><a class="hoverinfo_trigger fl-l fs14 fw-b" href="{url}" '
            f'id="#area{anime.anime_id}" rel="#info{anime.anime_id}">{_e(anime.title)}</a></div><br>'
            f'<div class="information di-ib mt4">\n        {_e(anime.type or "Unknown")} ({eps} eps)<br>\n'
            f"        {_e(aired[0] or '?')} - {_e(aired[-1] if len(aired) > 1 else aired[0] or '?')}<br>\n"
            f"        {_n(anime.members)} members\n      </div></div>\n  </td>\n"
            '    <td class="score ac fs14"><div class="js-top-ranking-score-col di-ib al">'
            '<i class="icon-score-star mr4 on"></i>'
            f'<span class="text on">{f"{anime.score:.2f}" if anime.score is not None else "N/A"}</span></div>\n'
            "  </td>\n</tr>\n"
        )
    links = []
    if limit > 0:
        links.append(f'<a href="?limit={max(0, limit - TOP_PAGE_SIZE)}" class="link-blue-box prev">'
                     f"Prev {TOP_PAGE_SIZE}</a>")
    if limit + TOP_PAGE_SIZE < len(data.top):
        links.append(f'<a href="?limit={limit + TOP_PAGE_SIZE}" class="link-blue-box next">'
                     f"Next {TOP_PAGE_SIZE}</a>")
    body = (
        '<div id="contentWrapper"><div><h1 class="h1">Top Anime</h1></div><div id="content">\n'
        '<div class="pb12"><h2 class="fs18 fw-b ff-avenir mt24 top-rank-header2">'
        f'<span class="fl-r di-ib icon-top-ranking-page">{"".join(links)}</span>Top Anime Series</h2>'
        '<table border="0" cellpadding="0" cellspacing="0" width="100%" class="top-ranking-table">'
        '<tr class="table-header"><td class="rank">Rank</td><td class="title">Title</td>'
        '<td class="score">Score</td></tr>\n'
        + "".join(rows) + "</table></div></div></div><!-- end of contentWrapper -->"
    )
    return shell(base, "Top Anime", body, canonical=f"{base}/topanime.php")


def not_found_page(base: str) -> str:
    body = (
        '<div id="contentWrapper" >\n          <div>\n            <h1 class="h1">404 Not Found</h1>'
        '          </div>\n          <div id="content">\n\n  <div class="error404" title="This page doesn\'t exist.">\n'
        f'    <a href="{base}/" class="btn-home"></a>\n'
        '    <p class="message">This page doesn\'t exist.</p>\n  </div>\n\n</div></div>'
    )
    return shell(base, "404 Not Found", body, body_class="page-common error404-page")


def captcha_page(base: str) -> str:
    """MAL's bot check, served with HTTP 200 in place of the asked page."""
    body = (
        '<div id="contentWrapper"><div><h1 class="h1">Are you a human?</h1></div><div id="content">'
        '<p class="message">We have detected unusual activity from your network. Please verify that you are not '
        "a robot to continue.</p>"
        '<div class="display-submit"><form method="post" action="/submission/captcha">'
        '<div class="g-recaptcha" data-sitekey="replica"></div>'
        '<input type="submit" class="inputButton btn-form-submit" value="Submit"></form></div>'
        "</div></div>"
    )
    return shell(base, "Are you a human?", body)


def forbidden_page(base: str) -> str:
    body = ('<div id="contentWrapper"><div><h1 class="h1">403 Forbidden</h1></div><div id="content">'
            '<p class="message">Access to this site has been blocked because of excessive requests.</p></div></div>')
    return shell(base, "403 Forbidden", body)


def error_page(base: str) -> str:
    body = ('<div id="contentWrapper"><div><h1 class="h1">500 Internal Server Error</h1></div>'
            '<div id="content"><p class="message">Something went wrong. Please try again later.</p></div></div>')
    return shell(base, "500 Internal Server Error", body)


ROBOTS_TXT = "User-agent: *\nDisallow:\n"

# A 1x1 transparent GIF: every picture on the replica.
PLACEHOLDER_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
