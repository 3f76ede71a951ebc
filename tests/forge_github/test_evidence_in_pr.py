"""The evidence a reviewer sees on GitHub: the ROC and calibration curves as Mermaid charts that GitHub
renders in the PR body, the body within GitHub's 65,536 characters, and the full report linked."""

from __future__ import annotations

import re

import numpy as np

from modelops.adapters.evidence import curves, render_markdown
from modelops.adapters.github_forge import GitHubForge
from modelops.core.promotion import PR_BODY_MAX_CHARS, PromotionPlan, pr_body
from tests.forge_github.double import HEAD, REPOSITORY, GitHubDouble

PULLS = f"/repos/{REPOSITORY}/pulls"
PLAN = PromotionPlan("churn", "production", 7, 100, 6, 6, None)
RUN = "https://github.com/acme/models/actions/runs/42 (the run's evidence artifact)"


def report(slices: int = 3) -> dict:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 400)
    champion = np.clip(0.3 * y + 0.7 * rng.random(400), 0, 1)
    challenger = np.clip(0.4 * y + 0.6 * rng.random(400), 0, 1)
    return {
        "model": "churn",
        "candidate_version": 7,
        "champion_version": 6,
        "passed": True,
        "slices": [
            {
                "column": "plan",
                "value": f"value-{i}",
                "rows": 40,
                "positives": 9,
                "champion": 0.8,
                "challenger": 0.82,
            }
            for i in range(slices)
        ],
        "curves": curves(y, [("champion v6", champion), ("challenger v7", challenger)]),
    }


def opened_body(github: GitHubDouble, forge: GitHubForge, body: str) -> str:
    github.expect("POST", PULLS).respond_with_json(github.pull(12), status=201)
    forge.open(
        head=HEAD, base="main", title="Promote churn v7 to production", body=body, labels=[], reviewers=[]
    )
    [created] = [s for s in github.seen() if (s.method, s.path) == ("POST", PULLS)]
    return str(created.body["body"])


def charts(text: str) -> list[str]:
    return re.findall(r"```mermaid\nxychart-beta\n(.*?)```", text, flags=re.S)


def test_the_pr_body_github_receives_draws_roc_and_calibration_as_mermaid_charts(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    body = pr_body(
        PLAN, report_markdown=render_markdown(report()), lineage={}, owners=("alice",), full_report=RUN
    )

    received = opened_body(github, forge, body)

    roc, calibration = charts(received)
    assert 'title "ROC on the golden set"' in roc and roc.count("    line [") == 3  # chance + two models
    assert 'title "Calibration' in calibration and calibration.count("    line [") == 3
    assert "line 2 champion v6, line 3 challenger v7" in received
    assert f"Full report: {RUN}" in received
    assert len(received) <= PR_BODY_MAX_CHARS


def test_a_report_too_long_for_github_is_cut_between_charts_and_links_the_full_report(
    github: GitHubDouble, forge: GitHubForge
) -> None:
    huge = render_markdown(report(slices=3000))
    assert len(huge) > PR_BODY_MAX_CHARS

    received = opened_body(
        github, forge, pr_body(PLAN, report_markdown=huge, lineage={}, owners=("alice",), full_report=RUN)
    )

    assert len(received) <= PR_BODY_MAX_CHARS
    assert received.count("```") % 2 == 0, "a chart was cut in half"
    assert len(charts(received)) == 2, "the curves come before the long tables, so they are kept"
    assert "Cut to fit a pull request body (65,536 characters)" in received
    assert f"Full report: {RUN}" in received and "### Checklist" in received
