"""The delivery board as a static site: HTML and CSS, no external assets, JavaScript only to filter.

Pure: `render_site(board)` returns {relative path: text}; the flow writes the files. Every page has
landmarks (header, nav, main, footer), a skip link, tables with captions and header scopes, text
beside every colour, and alt text on every plot. Narrow screens get one card per model instead of a
table row.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from modelops.core.board import (
    NOT_REACHABLE,
    Board,
    Cell,
    Commit,
    GateView,
    Link,
    ModelView,
    TimelineEntry,
    VersionView,
    duration,
)
from modelops.core.forge import PullRequest

STYLE = """\
:root{--fg:#1b1b1b;--muted:#4a4a4a;--bg:#fff;--line:#c8c8c8;--ok:#0b5d27;--ok-bg:#e3f3e8;
--bad:#9b1116;--bad-bg:#fbe9e9;--warn:#6b4100;--warn-bg:#fff1d6;--link:#0645ad;--head:#f2f2f2}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--link)}
a:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem}
.skip:focus{left:.5rem}
header,main,footer,nav{padding:0 1rem;max-width:80rem;margin:0 auto}
header h1{margin:.8rem 0 .2rem;font-size:1.6rem}
.meta,footer{color:var(--muted);font-size:.9rem}
nav ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3rem 1rem}
h2{font-size:1.25rem;margin:1.4rem 0 .5rem}
h3{font-size:1.1rem;margin:1.2rem 0 .4rem}
.summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:.5rem;margin:0;padding:0}
.summary div{border:1px solid var(--line);border-radius:6px;padding:.5rem .7rem}
.summary dt{color:var(--muted);font-size:.85rem}
.summary dd{margin:0;font-size:1.3rem;font-weight:600}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}
caption{text-align:left;color:var(--muted);padding:.3rem 0}
th,td{border:1px solid var(--line);padding:.45rem .55rem;text-align:left;vertical-align:top}
thead th{background:var(--head)}
.grid tbody th{white-space:nowrap}
.pin{font-size:1.15rem;font-weight:700}
.tag{display:inline-block;border-radius:4px;padding:0 .35rem;font-size:.85rem;margin:.1rem 0}
.ok{color:var(--ok);background:var(--ok-bg)}
.bad{color:var(--bad);background:var(--bad-bg)}
.warn{color:var(--warn);background:var(--warn-bg)}
.none{color:var(--muted);background:var(--head)}
.cell p{margin:.15rem 0}
.bar{height:.5rem;background:var(--head);border:1px solid var(--line);border-radius:3px;overflow:hidden}
.bar span{display:block;height:100%;background:var(--ok)}
ol.timeline{list-style:none;padding:0;margin:0}
ol.timeline li{border-left:3px solid var(--line);padding:.2rem 0 .6rem .8rem;margin-left:.3rem}
ol.timeline li.rollback{border-color:var(--bad)}
ol.timeline li.promote,ol.timeline li.canary{border-color:var(--ok)}
figure{margin:.5rem 0;display:inline-block;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid var(--line)}
pre{white-space:pre-wrap;word-break:break-word;background:var(--head);padding:.6rem;border-radius:4px}
.filter{margin:.5rem 0;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.filter input,.filter select{font:inherit;padding:.3rem .4rem}
@media (max-width:40rem){
 .grid thead{position:absolute;left:-9999px}
 .grid,.grid tbody,.grid tr,.grid th,.grid td{display:block;width:100%}
 .grid tr{border:1px solid var(--line);border-radius:6px;margin-bottom:.8rem}
 .grid td,.grid tbody th{border:0;border-top:1px solid var(--line)}
 .grid td::before{content:attr(data-label);display:block;font-weight:600;color:var(--muted)}
}
"""

SCRIPT = """\
(function(){
  var box=document.getElementById('filter-box');if(!box)return;box.hidden=false;
  var text=document.getElementById('filter'),only=document.getElementById('only');
  var rows=[].slice.call(document.querySelectorAll('tbody tr[data-model]'));
  var count=document.getElementById('filter-count');
  function apply(){
    var q=text.value.trim().toLowerCase(),o=only.value,shown=0;
    rows.forEach(function(r){
      var hit=r.getAttribute('data-model').indexOf(q)>=0&&(!o||r.getAttribute('data-flags').indexOf(o)>=0);
      r.hidden=!hit;if(hit)shown++;
    });
    count.textContent=shown+' of '+rows.length+' models';
  }
  text.addEventListener('input',apply);only.addEventListener('change',apply);apply();
})();
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _href(url: str, depth: int) -> str:
    """Site-relative links climb out of sub-directories; absolute links and fragments stay."""
    if depth == 0 or url.startswith(("#", "/")) or "://" in url:
        return url
    return "../" * depth + url


def _a(link: Link, depth: int) -> str:
    return f'<a href="{_e(_href(link.url, depth))}">{_e(link.text)}</a>'


def model_page(name: str) -> str:
    return f"models/{quote(name, safe='')}.html"


def _page(title: str, body: str, depth: int, board: Board, nav: str = "") -> str:
    up = "../" * depth
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n"
        f'<link rel="stylesheet" href="{up}style.css">\n</head>\n<body>\n'
        '<a class="skip" href="#main">Skip to the content</a>\n'
        f'<header><h1>{_e(title)}</h1><p class="meta">Built {_e(board.generated_at)} from git'
        + (" and the registry" if board.registry_reachable else f"; {NOT_REACHABLE}")
        + (f'. <a href="{up}index.html">Back to the board</a>' if depth else ".")
        + "</p></header>\n"
        + (f'<nav aria-label="On this page">{nav}</nav>\n' if nav else "")
        + f'<main id="main">\n{body}\n</main>\n'
        "<footer><p>Generated by <code>modelops board</code>. Git is the source of truth: "
        "models.yaml says what serves; the registry and the cluster follow it.</p></footer>\n"
        + (f'<script src="{up}board.js"></script>\n' if depth == 0 else "")
        + "</body>\n</html>\n"
    )


def _flags(cell: Cell) -> list[str]:
    flags = []
    if cell.canary:
        flags.append("canary")
    if cell.quarantined:
        flags.append("quarantined")
    if cell.waiting:
        flags.append("waiting")
    if cell.registry_ok is False:
        flags.append("drift")
    return flags


def _cell_html(cell: Cell, depth: int) -> str:
    parts = []
    if cell.version is None:
        parts.append('<p class="pin">unpinned</p>')
    else:
        parts.append(f'<p class="pin" data-field="version">v{cell.version}</p>')
        if cell.previous is not None:
            parts.append(f"<p>rollback target v{cell.previous}</p>")
    if cell.canary:
        version, traffic = cell.canary
        parts.append(
            f'<p><span class="tag warn" data-field="canary">canary v{version} at {traffic}%</span></p>'
        )
    if cell.version is not None:
        parts.append(f"<p>served {_e(cell.served_for)}</p>")
    if cell.soak is not None:
        soak = cell.soak
        toward = f" toward {_e(soak.next_env)}" if soak.next_env else ""
        parts.append(
            f"<p>soak {_e(duration(soak.served_hours * 3600))} of {_e(duration(soak.hours * 3600))}{toward} "
            f'({soak.percent}%)</p><div class="bar" aria-hidden="true"><span style="width:{soak.percent}%">'
            "</span></div>"
        )
    css = "none" if cell.registry_ok is None else ("ok" if cell.registry_ok else "bad")
    label = cell.registry if cell.registry_ok is None else f"registry {cell.registry}"
    parts.append(f'<p><span class="tag {css}" data-field="registry">{_e(label)}</span></p>')
    if cell.quarantined:
        items = ", ".join(
            (
                f'<a href="{_e(_href(q.rollback.url, depth))}" data-quarantined="{q.version}">v{q.version}</a>'
                if q.rollback
                else f'<span data-quarantined="{q.version}">v{q.version}</span>'
            )
            for q in cell.quarantined
        )
        parts.append(f'<p><span class="tag bad">quarantined</span> {items}</p>')
    if cell.waiting:
        prs = "; ".join(
            f'<a href="{_e(_href(link.url, depth))}" data-field="waiting">{_e(link.text)}</a>'
            for link in cell.waiting
        )
        parts.append(f"<p>waiting for review: {prs}</p>")
    return "".join(parts)


def _grid(board: Board, models: tuple[ModelView, ...], depth: int, caption: str) -> str:
    head = "".join(f'<th scope="col">{_e(env)}</th>' for env in board.environments)
    rows = []
    for model in models:
        by_env = {c.env: c for c in model.cells}
        flags = sorted({f for c in model.cells for f in _flags(c)})
        cells = "".join(
            f'<td class="cell" data-label="{_e(env)}" data-env="{_e(env)}">'
            + (_cell_html(by_env[env], depth) if env in by_env else "<p>not deployed here</p>")
            + "</td>"
            for env in board.environments
        )
        link = _href(model_page(model.name), depth) if depth == 0 else f"#{_e(model.name)}-versions"
        rows.append(
            f'<tr data-model="{_e(model.name.lower())}" data-flags="{" ".join(flags)}">'
            f'<th scope="row"><a href="{_e(link)}">{_e(model.name)}</a><br>'
            f"<small>{_e(model.registered_model)}</small></th>{cells}</tr>"
        )
    return (
        f'<div class="scroll"><table class="grid"><caption>{_e(caption)}</caption>'
        f'<thead><tr><th scope="col">Model</th>{head}</tr></thead><tbody>'
        + "\n".join(rows)
        + "</tbody></table></div>"
    )


def _summary(board: Board) -> str:
    s = board.summary
    med = s.alert_to_rollback_median
    count = len(s.alert_to_rollback_seconds)
    lead = (
        f"{duration(med)} (median of {count} rollback{'s' if count != 1 else ''})"
        if med is not None
        else "no alert with a known start"
    )
    items = [
        ("promotions", str(s.promotions)),
        ("rollbacks", str(s.rollbacks)),
        ("alert → rollback commit", lead),
        ("gate passed", str(s.gate_passed)),
        ("gate blocked", str(s.gate_blocked)),
    ]
    body = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in items)
    return (
        f'<section aria-labelledby="summary-h"><h2 id="summary-h">The last {s.days} days</h2>'
        f'<dl class="summary">{body}</dl></section>'
    )


def render_index(board: Board) -> str:
    registry = (
        ""
        if board.registry_reachable
        else f'<p><span class="tag none">{NOT_REACHABLE}</span> {_e(board.registry_detail)}</p>'
    )
    body = (
        _summary(board)
        + '<section aria-labelledby="grid-h"><h2 id="grid-h">What serves where</h2>'
        + registry
        + '<div class="filter" id="filter-box" hidden><label for="filter">Filter models</label>'
        '<input id="filter" type="search" autocomplete="off">'
        '<label for="only">Show</label><select id="only"><option value="">all</option>'
        '<option value="canary">with a canary</option><option value="quarantined">with quarantines</option>'
        '<option value="waiting">with PRs waiting</option><option value="drift">registry drift</option>'
        '</select><output id="filter-count" aria-live="polite"></output></div>'
        + _grid(
            board, board.models, 0, f"{len(board.models)} models × {len(board.environments)} environments"
        )
        + "</section>"
    )
    return _page(board.title, body, 0, board)


def _timeline(entries: tuple[TimelineEntry, ...], depth: int) -> str:
    if not entries:
        return "<p>No history yet.</p>"
    items = []
    for e in entries:
        links = " · ".join(_a(link, depth) for link in e.links)
        incident = f" · incident <code>{_e(e.incident)}</code>" if e.incident else ""
        where = f" in {_e(e.env)}" if e.env else ""
        items.append(
            f'<li class="{_e(e.kind)}"><p><strong>{_e(e.what)}</strong>{where}</p>'
            f"<p>{_e(e.at)} by {_e(e.by)}: {_e(e.why)}</p>"
            + (f"<p>{links}{incident}</p>" if links or incident else "")
            + "</li>"
        )
    return '<ol class="timeline">' + "".join(items) + "</ol>"


def _gate(gate: GateView, version: int, depth: int) -> str:
    verdict = '<span class="tag ok">passed</span>' if gate.passed else '<span class="tag bad">blocked</span>'
    against = f"champion v{gate.against}" if gate.against is not None else "no champion (floors only)"
    rows = "".join(
        f'<tr><th scope="row">{_e(name)}</th><td>{_e(value)}</td>'
        f'<td><span class="tag {"ok" if ok == "pass" else "bad"}">{_e(ok)}</span></td></tr>'
        for name, value, ok in gate.table
    )
    table = (
        f"<table><caption>Gate checks for v{version} in {_e(gate.env)}</caption>"
        '<thead><tr><th scope="col">check</th><th scope="col">value</th><th scope="col">verdict</th></tr>'
        f"</thead><tbody>{rows}</tbody></table>"
        if rows
        else ""
    )
    failed = "<ul>" + "".join(f"<li>{_e(f)}</li>" for f in gate.failed) + "</ul>" if gate.failed else ""
    plots = "".join(
        f'<figure><img src="{_e(_href(path, depth))}" alt="{_e(alt)}" width="440" height="440" loading="lazy">'
        f"<figcaption>{_e(alt)}</figcaption></figure>"
        for path, alt in gate.plots
    )
    return (
        f"<h4>Gate in {_e(gate.env)}: {verdict}</h4><p>Against {_e(against)}, evaluated "
        f"{_e(gate.evaluated_at)}.</p>{failed}{table}{plots}"
    )


def _version(model: ModelView, v: VersionView, depth: int) -> str:
    where = ", ".join(v.where) or "not deployed"
    lineage = (
        "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd><code>{_e(val)}</code></dd>" for k, val in v.lineage) + "</dl>"
        if v.lineage
        else "<p>No lineage (registry not reachable or version not registered).</p>"
    )
    prs = (
        "<p>Waiting for review: " + "; ".join(_a(link, depth) for link in v.open_prs) + "</p>"
        if v.open_prs
        else ""
    )
    registry = f"<p>{_a(v.registry_link, depth)}</p>" if v.registry_link else ""
    gates = "".join(_gate(g, v.version, depth) for g in v.gates) or "<p>No gate evidence found.</p>"
    return (
        f'<section id="{_e(model.name)}-v{v.version}" aria-labelledby="{_e(model.name)}-v{v.version}-h">'
        f'<h3 id="{_e(model.name)}-v{v.version}-h">v{v.version}</h3><p>{_e(where)}</p>{prs}{registry}'
        f"<h4>Lineage</h4>{lineage}{gates}</section>"
    )


def render_model(board: Board, model: ModelView) -> str:
    depth = 1
    owners = ", ".join(model.owners) or "none listed"
    nav = (
        '<ul><li><a href="#timeline-h">Timeline</a></li>'
        + "".join(
            f'<li><a href="#{_e(model.name)}-v{v.version}">v{v.version}</a></li>' for v in model.versions
        )
        + "</ul>"
    )
    body = (
        f"<p>Registered model <code>{_e(model.registered_model)}</code>; owners {_e(owners)}.</p>"
        + _grid(board, (model,), depth, f"{model.name} in each environment")
        + '<section aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline</h2>'
        + _timeline(model.timeline, depth)
        + "</section>"
        + f'<section id="{_e(model.name)}-versions" aria-labelledby="versions-h">'
        '<h2 id="versions-h">Versions</h2>'
        + "".join(_version(model, v, depth) for v in model.versions)
        + "</section>"
    )
    return _page(f"{model.name}: {board.title}", body, depth, board, nav)


def render_commit(board: Board, commit: Commit) -> str:
    body = (
        f"<h2>{_e(commit.subject)}</h2><dl><dt>commit</dt><dd><code>{_e(commit.sha)}</code></dd>"
        f"<dt>author</dt><dd>{_e(commit.author)}</dd><dt>date</dt><dd>{_e(commit.at)}</dd></dl>"
        + (f"<pre>{_e(commit.body)}</pre>" if commit.body.strip() else "")
    )
    return _page(f"commit {commit.sha[:10]}", body, 1, board)


def render_pr(board: Board, pr: PullRequest) -> str:
    reviews = (
        "".join(f"<li>{_e(r.user)}: {_e(r.state)} {_e(r.at)}</li>" for r in pr.reviews) or "<li>none</li>"
    )
    body = (
        f"<h2>#{pr.number} {_e(pr.title)}</h2><dl><dt>state</dt><dd>{_e(pr.state)}</dd>"
        f"<dt>branch</dt><dd><code>{_e(pr.head)}</code> → <code>{_e(pr.base)}</code></dd>"
        f"<dt>labels</dt><dd>{_e(', '.join(pr.labels) or 'none')}</dd>"
        f"<dt>reviewers</dt><dd>{_e(', '.join(pr.reviewers) or 'none')}</dd>"
        + (f"<dt>merge commit</dt><dd><code>{_e(pr.merge_commit)}</code></dd>" if pr.merge_commit else "")
        + f"</dl><h3>Reviews</h3><ul>{reviews}</ul><h3>Description</h3><pre>{_e(pr.body)}</pre>"
    )
    return _page(f"PR #{pr.number}", body, 1, board)


def render_site(board: Board) -> dict[str, str]:
    """Every file of the site, by path relative to its root."""
    site = {"index.html": render_index(board), "style.css": STYLE, "board.js": SCRIPT}
    for model in board.models:
        site[model_page(model.name)] = render_model(board, model)
    for commit in board.commit_pages:
        site[f"commits/{commit.sha}.html"] = render_commit(board, commit)
    for pr in board.pr_pages:
        site[f"prs/{pr.number}.html"] = render_pr(board, pr)
    return site
