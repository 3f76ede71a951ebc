"""The board's view model and its HTML: what serves where, since when and why, from facts alone."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from modelops.core.board import (
    NOT_REACHABLE,
    BoardInput,
    Commit,
    Evidence,
    LinkStyle,
    RegistryFacts,
    VersionFacts,
    build_board,
    duration,
)
from modelops.core.board_html import render_site
from modelops.core.forge import PullRequest
from modelops.core.state import parse_state

NOW = "2026-11-30T12:00:00Z"
ROLLBACK_SHA = "b" * 40
MERGE_SHA = "a" * 40


def env(version, previous=None, canary=None, quarantined=(), history=()):
    return {
        "version": version,
        "alias": None,
        "previous": previous,
        "canary": canary,
        "quarantined": list(quarantined),
        "history": list(history),
    }


def state(production=None, staging=None):
    environments = {"staging": staging or env(None), "production": production or env(None)}
    for name, raw in environments.items():
        raw["alias"] = name
    return parse_state(
        {"models": {"churn": {"registered_model": "churn-classifier", "environments": environments}}}
    )


# The demo's end state: production back on v1 after an alert rolled v2 back; a v3 PR waits.
DEMO_PRODUCTION = env(
    1,
    previous=None,
    quarantined=[2],
    history=[
        {
            "at": "2026-11-29T10:00:00Z",
            "by": "alice",
            "action": "promote",
            "from": None,
            "to": 1,
            "reason": "first",
        },
        {
            "at": "2026-11-29T11:00:00Z",
            "by": "alice",
            "action": "promote",
            "from": 1,
            "to": 2,
            "reason": "better",
        },
        {
            "at": "2026-11-30T10:00:00Z",
            "by": "relay",
            "action": "rollback",
            "from": 2,
            "to": 1,
            "reason": "ModelErrorRateHigh",
            "ref": "inc-1",
        },
    ],
)
COMMITS = (
    Commit(
        ROLLBACK_SHA,
        "modelops-relay",
        "2026-11-30T10:00:02Z",
        "rollback churn production: v2 → v1",
        "Reason: errors\nQuarantined: v2\nIncident: inc-1\nRolled-back-by: relay",
    ),
    Commit(
        MERGE_SHA, "alice", "2026-11-29T11:05:00Z", "Merge pull request #2 from promote/churn/production/v2"
    ),
)
PRS = (
    PullRequest(
        2, "promote churn v2 → production (from v1)", "", "promote/churn/production/v2", "main", "merged", ""
    ),
    PullRequest(
        3,
        "promote churn v3 → production (from v1)",
        "body",
        "promote/churn/production/v3",
        "main",
        "open",
        "",
    ),
)


def demo_facts(**overrides):
    facts = {
        "state": state(production=DEMO_PRODUCTION),
        "now": NOW,
        "commits": COMMITS,
        "pull_requests": PRS,
        "alert_starts": {"inc-1": "2026-11-30T09:59:30Z"},
    }
    facts.update(overrides)
    return BoardInput(**facts)


def production_cell(board):
    return next(c for c in board.models[0].cells if c.env == "production")


def test_the_grid_shows_the_pin_the_quarantine_and_the_waiting_pr():
    cell = production_cell(build_board(demo_facts()))
    assert cell.version == 1
    assert [q.version for q in cell.quarantined] == [2]
    assert cell.quarantined[0].rollback.url == f"commits/{ROLLBACK_SHA}.html"
    assert [w.url for w in cell.waiting] == ["prs/3.html"]
    assert cell.served_for == "2 h"  # since the rollback put v1 back, not since v1's first promotion


def test_a_quarantined_version_whose_rollback_commit_git_no_longer_has_is_shown_unlinked():
    cell = production_cell(build_board(demo_facts(commits=())))
    assert cell.quarantined[0].version == 2 and cell.quarantined[0].rollback is None


def test_a_canary_shows_its_version_and_traffic():
    production = env(1, canary={"version": 3, "traffic": 10})
    cell = production_cell(build_board(BoardInput(state=state(production=production), now=NOW)))
    assert cell.canary == (3, 10)


def test_without_a_registry_every_cell_says_so():
    board = build_board(demo_facts(registry=RegistryFacts(False, "no registry configured")))
    assert {c.registry for c in board.models[0].cells} == {NOT_REACHABLE}
    assert all(c.registry_ok is None for c in board.models[0].cells)
    assert NOT_REACHABLE in render_site(board)["index.html"]


def test_registry_drift_is_named_per_cell():
    registry = RegistryFacts(True, drift={("churn", "production"): ("production: registry v2, git v1",)})
    board = build_board(demo_facts(registry=registry))
    cell = production_cell(board)
    assert cell.registry_ok is False and "registry v2, git v1" in cell.registry
    staging = next(c for c in board.models[0].cells if c.env == "staging")
    assert staging.registry == "in sync" and staging.registry_ok is True


def test_the_timeline_links_the_rollback_commit_and_the_promotion_pr_and_merge():
    timeline = build_board(demo_facts()).models[0].timeline
    assert [e.kind for e in timeline] == ["rollback", "promote", "promote"]  # newest first
    rollback, promotion = timeline[0], timeline[1]
    assert rollback.by == "relay" and rollback.why == "ModelErrorRateHigh" and rollback.incident == "inc-1"
    assert [link.url for link in rollback.links] == [f"commits/{ROLLBACK_SHA}.html"]
    assert [link.url for link in promotion.links] == ["prs/2.html", f"commits/{MERGE_SHA}.html"]


def test_a_forge_that_lists_only_open_prs_still_links_merged_ones_from_their_merge_commits():
    links = LinkStyle.github("acme/models")
    board = build_board(demo_facts(pull_requests=PRS[1:], links=links))
    promotion = board.models[0].timeline[1]
    assert [link.url for link in promotion.links] == [
        "https://github.com/acme/models/pull/2",
        f"https://github.com/acme/models/commit/{MERGE_SHA}",
    ]
    assert board.commit_pages == ()  # GitHub shows commits; the board does not copy them


def test_links_follow_a_real_fork_to_github_and_the_mlflow_ui():
    links = LinkStyle.github("acme/models", mlflow_ui="https://mlflow.example.com/")
    registry = RegistryFacts(True, versions={"churn": {1: VersionFacts(1, "run1", {"git_commit": "abc"})}})
    board = build_board(demo_facts(links=links, registry=registry))
    cell = production_cell(board)
    assert cell.quarantined[0].rollback.url == f"https://github.com/acme/models/commit/{ROLLBACK_SHA}"
    v1 = next(v for v in board.models[0].versions if v.version == 1)
    assert v1.registry_link.url == "https://mlflow.example.com/#/models/churn-classifier/versions/1"
    assert ("git commit (training)", "abc") in v1.lineage


def test_the_summary_counts_the_last_30_days_only():
    old = {
        "at": "2026-09-01T00:00:00Z",
        "by": "bob",
        "action": "promote",
        "from": None,
        "to": 7,
        "reason": "x",
    }
    staging = env(7, history=[old])
    evidence = [
        Evidence("churn", 3, "production", {"passed": False, "evaluated_at": "2026-11-30T09:00:00Z"}),
        Evidence("churn", 2, "production", {"passed": True, "evaluated_at": "2026-11-29T09:00:00Z"}),
        Evidence("churn", 1, "production", {"passed": True, "evaluated_at": "2026-10-01T09:00:00Z"}),
    ]
    summary = build_board(
        demo_facts(state=state(production=DEMO_PRODUCTION, staging=staging), evidence=evidence)
    ).summary
    assert (summary.promotions, summary.rollbacks) == (2, 1)
    assert summary.alert_to_rollback_seconds == (32.0,)
    assert (summary.gate_passed, summary.gate_blocked) == (1, 1)


def test_soak_progress_appears_only_where_an_environment_declares_a_soak():
    assert all(c.soak is None for c in build_board(demo_facts()).models[0].cells)
    promoted = {
        "at": "2026-11-30T10:00:00Z",
        "by": "bot",
        "action": "promote",
        "from": None,
        "to": 4,
        "reason": "x",
    }
    staging = {**env(4, history=[promoted]), "soak": "4h"}
    production = {**DEMO_PRODUCTION, "upstream": "staging"}
    board = build_board(demo_facts(state=state(production=production, staging=staging)))
    cells = {c.env: c for c in board.models[0].cells}
    assert cells["production"].soak is None
    progress = cells["staging"].soak
    assert progress is not None and progress.percent == 50 and progress.next_env == "production"
    assert "soak 2 h of 4 h toward production (50%)" in render_site(board)["index.html"]


def test_gate_evidence_gets_a_table_and_plots_with_alt_text():
    report = {
        "passed": True,
        "candidate_version": 3,
        "champion_version": 1,
        "primary_metric": "roc_auc",
        "metrics": {"challenger": {"roc_auc": 0.81, "ece": 0.03}, "champion": {"roc_auc": 0.8}},
        "checks": [{"name": "roc_auc.floor", "value": 0.81, "threshold": 0.7, "passed": True}],
        "evaluated_at": "2026-11-30T09:00:00Z",
    }
    plots = {"roc.png": "evidence/churn/v3/production/roc.png"}
    board = build_board(demo_facts(evidence=[Evidence("churn", 3, "production", report, plots)]))
    v3 = next(v for v in board.models[0].versions if v.version == 3)
    gate = v3.gates[0]
    assert gate.table == (("roc_auc.floor", "0.8100 (needs 0.7000)", "pass"),)
    assert "challenger v3 (roc_auc 0.8100) against champion v1 (roc_auc 0.8000)" in gate.plots[0][1]
    assert [link.url for link in v3.open_prs] == ["prs/3.html"]
    page = render_site(board)["models/churn.html"]
    assert 'src="../evidence/churn/v3/production/roc.png"' in page


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append((tag, dict(attrs)))


@pytest.mark.parametrize("links", [LinkStyle.local(), LinkStyle.github("acme/models")])
def test_every_page_is_self_contained_with_landmarks_and_alt_text(links):
    report = {"passed": True, "candidate_version": 3, "evaluated_at": NOW}
    evidence = [Evidence("churn", 3, "production", report, {"roc.png": "evidence/r.png"})]
    site = render_site(build_board(demo_facts(links=links, evidence=evidence)))
    assert {"index.html", "style.css", "board.js", "models/churn.html"} <= set(site)
    for path, text in site.items():
        if not path.endswith(".html"):
            continue
        page = _Page()
        page.feed(text)
        assert {"header", "main", "footer"} <= set(page.tags), path
        assert re.search(r'<html lang="en">', text)
        for tag, attrs in page.attrs:
            for key in ("src", "href"):
                url = attrs.get(key) or ""
                if tag in ("img", "script", "link"):
                    assert "://" not in url, f"{path}: external asset {url}"
            if tag == "img":
                assert (attrs.get("alt") or "").strip(), f"{path}: image without alt text"


def test_the_grid_works_without_javascript_which_only_filters():
    index = render_site(build_board(demo_facts()))["index.html"]
    # The filter controls start hidden; the grid itself is plain HTML.
    assert 'id="filter-box" hidden' in index
    assert 'data-field="version">v1<' in index and 'data-quarantined="2"' in index


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5, "5 s"), (125, "2 min"), (3600, "1 h"), (3660 * 2, "2 h 2 min"), (86400 * 3 + 7200, "3 d 2 h")],
)
def test_durations_read_short(seconds, text):
    assert duration(seconds) == text


def test_drift_verdicts_and_retrains_join_the_timeline_in_time_order():
    from modelops.core.board import DriftVerdict, RetrainRun

    facts = demo_facts(
        drift=[DriftVerdict("churn", "production", "2026-11-30T11:00:00Z", True, ("monthly_charges",))],
        retrains=[RetrainRun("churn", "2026-11-30T11:05:00Z", "proposed")],
    )
    timeline = build_board(facts).models[0].timeline
    assert [e.kind for e in timeline[:3]] == ["retrain", "drift", "rollback"]
    assert timeline[1].why == "monthly_charges" and timeline[0].what == "retrain proposed"
