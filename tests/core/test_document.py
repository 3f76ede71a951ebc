"""models.yaml is edited in round-trip mode: untouched bytes stay identical, comments survive."""

from __future__ import annotations

import difflib
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelops.core.document import ModelsDocument, edits_commute
from modelops.errors import BadInput
from tests.core.template import template_text

AT = "2026-11-21T10:00:00Z"
COMMENTED = template_text()

TWO_MODELS = COMMENTED.replace(
    "models:\n  churn:",
    """models:
  # A second model, to prove edits stay inside their own block.
  fraud:
    registered_model: fraud-detector  # trailing comment
    owners: [carol]
    environments:
      staging:
        version: 4
        run_id: null
        alias: staging
        previous: 3
        canary: null
        quarantined: []
        history: []
      production:
        version: 3
        run_id: null
        alias: production
        previous: null
        canary: null
        quarantined: [2]
        history: []
  churn:""",
)


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_the_repository_models_yaml_round_trips_byte_for_byte():
    doc = ModelsDocument(COMMENTED)
    assert doc.dump() == COMMENTED
    doc.check_round_trip()


def test_a_promotion_changes_only_that_environments_lines():
    doc = ModelsDocument(TWO_MODELS)
    doc.promote(
        "churn", "production", 7, at=AT, by="alice", reason="evaluation passed", ref="#12", run_id="abc"
    )
    after = doc.dump()
    changes = changed_lines(TWO_MODELS, after)
    assert changes == [
        "-        version: null",
        "-        run_id: null",
        "+        version: 7",
        "+        run_id: abc",
        "-        history: []",
        "+        history:",
        "+          - {at: '2026-11-21T10:00:00Z', by: alice, action: promote, from: null, to: 7, reason: evaluation passed, ref: '#12'}",
    ]
    # Every comment of the file is still there.
    for line in TWO_MODELS.splitlines():
        if line.strip().startswith("#"):
            assert line in after.splitlines()


def test_a_rollback_returns_to_previous_quarantines_and_records_the_incident():
    doc = ModelsDocument(TWO_MODELS)
    plan = doc.rollback("fraud", "staging", at=AT, by="relay", reason="errors", ref="inc-1")
    assert plan is not None and (plan.from_version, plan.to_version) == (4, 3)
    state = ModelsDocument(doc.dump()).state()
    staging = state.model("fraud").env("staging")
    assert (staging.version, staging.previous, staging.quarantined) == (3, None, (4,))
    assert staging.history[-1].ref == "inc-1" and staging.history[-1].action == "rollback"
    assert "quarantined: [4]" in doc.dump()


def test_a_rollback_asked_again_by_the_same_incident_changes_nothing():
    doc = ModelsDocument(TWO_MODELS)
    assert doc.rollback("fraud", "staging", at=AT, by="relay", reason="errors", ref="inc-1") is not None
    once = doc.dump()
    assert doc.rollback("fraud", "staging", at=AT, by="relay", reason="errors", ref="inc-1") is None
    assert doc.dump() == once


def test_a_rollback_of_a_version_an_earlier_incident_quarantined_changes_nothing():
    doc = ModelsDocument(TWO_MODELS)
    doc.rollback("fraud", "staging", at=AT, by="relay", reason="errors", ref="inc-1")
    once = doc.dump()
    assert (
        doc.rollback("fraud", "staging", at=AT, by="relay", reason="again", ref="inc-2", bad_version=4)
        is None
    )
    assert doc.dump() == once


def test_a_running_canary_is_what_a_rollback_undoes_first():
    doc = ModelsDocument(TWO_MODELS)
    doc.start_canary("fraud", "production", 5, 10, at=AT, by="alice", reason="canary")
    plan = doc.rollback("fraud", "production", at=AT, by="relay", reason="errors")
    assert plan is not None and (plan.from_version, plan.to_version) == (5, 3)
    prod = ModelsDocument(doc.dump()).state().model("fraud").env("production")
    assert prod.version == 3 and prod.canary is None and 5 in prod.quarantined


def test_history_keeps_only_the_most_recent_entries():
    doc = ModelsDocument(COMMENTED)
    for version in range(1, 16):
        doc.promote("churn", "staging", version, at=AT, by="ci", reason=f"v{version}")
    history = ModelsDocument(doc.dump()).state().model("churn").env("staging").history
    assert len(history) == 10
    assert [h.to for h in history] == list(range(6, 16))


@st.composite
def edits(draw: st.DrawFn) -> list[tuple[str, ...]]:
    steps = []
    for _ in range(draw(st.integers(1, 8))):
        model = draw(st.sampled_from(["churn", "fraud"]))
        env = draw(st.sampled_from(["staging", "production"]))
        kind = draw(st.sampled_from(["promote", "canary", "rollback"]))
        steps.append(
            (
                kind,
                model,
                env,
                str(draw(st.integers(1, 60))),
                draw(st.text(string.ascii_letters, max_size=12)),
            )
        )
    return steps


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits())
def test_random_edits_change_only_the_edited_environments_and_stay_valid(steps):
    doc = ModelsDocument(TWO_MODELS)
    touched: set[tuple[str, str]] = set()
    for kind, model, env, version, reason in steps:
        state = ModelsDocument(doc.dump()).state()
        environment = state.model(model).env(env)
        v = int(version)
        try:
            if kind == "promote" and v not in environment.quarantined:
                doc.promote(model, env, v, at=AT, by="prop", reason=reason)
            elif (
                kind == "canary" and environment.version not in (None, v) and v not in environment.quarantined
            ):
                doc.start_canary(model, env, v, 10, at=AT, by="prop", reason=reason)
            elif kind == "rollback":
                doc.rollback(model, env, at=AT, by="prop", reason=reason)
            else:
                continue
        except Exception as exc:  # a refused rollback is a Denied, never a partial edit
            assert type(exc).__name__ == "Denied"
            continue
        touched.add((model, env))
    after = doc.dump()
    reloaded = ModelsDocument(after)
    assert reloaded.problems() == []
    reloaded.check_round_trip()
    # Lines outside the touched environment blocks are byte-identical, in order.
    assert _outside(TWO_MODELS, touched) == _outside(after, touched)


def _outside(text: str, touched: set[tuple[str, str]]) -> list[str]:
    """The file's lines minus the blocks of touched environments."""
    kept, model, skipping = [], None, False
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        if indent == 2 and line.strip().endswith(":") and not line.strip().startswith("#"):
            model = line.strip()[:-1]
        if indent == 6 and line.strip().endswith(":"):
            skipping = (model, line.strip()[:-1]) in touched
            if skipping:
                continue
        elif indent <= 6 and line.strip():
            skipping = False
        if not skipping:
            kept.append(line)
    return kept


def test_a_file_the_editor_would_reformat_is_refused_before_any_edit():
    odd = COMMENTED.replace("    owners: [alice, bob]", "    owners:   [alice,   bob]")
    with pytest.raises(Exception, match=r"models.yaml:\d+: formatting the round-trip editor cannot preserve"):
        ModelsDocument(odd).check_round_trip()


def _staging_quarantined_v3_production_pins_it(override: bool) -> ModelsDocument:
    doc = ModelsDocument(template_text())
    doc.root["models"]["churn"]["environments"]["staging"]["quarantined"].append(3)
    doc.promote(
        "churn", "production", 3, at="2026-01-01T00:00:00Z", by="alice", reason="r", override=override
    )
    return ModelsDocument(doc.dump())


def test_a_pin_quarantined_in_another_environment_is_invalid_without_a_recorded_override():
    doc = _staging_quarantined_v3_production_pins_it(override=False)
    assert doc.problems() == []  # every other command still reads it (a rollback must)
    problems = doc.pin_problems()
    assert [p.path for p in problems] == ["models.churn.environments.production.version"]
    assert "quarantined in another environment" in problems[0].message


def test_a_recorded_override_lets_a_human_pin_a_version_quarantined_elsewhere():
    doc = _staging_quarantined_v3_production_pins_it(override=True)
    assert doc.problems() == [] and doc.pin_problems() == []
    assert doc.state().model("churn").env("production").history[-1].override is True


def _v3_in_both_then_rolled_back_in_production() -> ModelsDocument:
    doc = ModelsDocument(template_text())
    for env, version in (("staging", 2), ("production", 2), ("staging", 3), ("production", 3)):
        doc.promote("churn", env, version, at="2026-01-01T00:00:00Z", by="ci", reason="r")
    doc.rollback(
        "churn", "production", at="2026-01-02T00:00:00Z", by="relay", reason="incident", bad_version=3
    )
    return ModelsDocument(doc.dump())


def test_a_pin_older_than_another_environments_quarantine_is_shown_not_refused():
    """A production rollback must not fail `validate` on every pull request while staging still pins it."""
    doc = _v3_in_both_then_rolled_back_in_production()
    assert doc.pin_problems() == []
    [warning] = doc.pin_warnings()
    assert warning.path == "models.churn.environments.staging.version"
    assert "pinned before production quarantined it at 2026-01-02T00:00:00Z" in warning.message
    assert "modelops rollback --model churn --env staging" in warning.message


def test_a_pin_made_after_another_environments_quarantine_is_refused():
    doc = _v3_in_both_then_rolled_back_in_production()
    doc.promote("churn", "staging", 2, at="2026-01-03T00:00:00Z", by="ci", reason="r")
    doc.promote("churn", "staging", 3, at="2026-01-04T00:00:00Z", by="ci", reason="r")
    doc = ModelsDocument(doc.dump())
    assert [p.path for p in doc.pin_problems()] == ["models.churn.environments.staging.version"]
    assert doc.pin_warnings() == []


def test_a_crlf_models_yaml_keeps_its_line_endings_and_only_the_edited_lines_change(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_bytes(template_text().encode("utf-8").replace(b"\n", b"\r\n"))
    before = path.read_bytes()
    doc = ModelsDocument.load(path)
    doc.check_round_trip()
    doc.promote("churn", "production", 3, at="2026-01-01T00:00:00Z", by="alice", reason="better")
    after = doc.dump().encode("utf-8")
    assert after.count(b"\n") == after.count(b"\r\n")  # every line still ends in CRLF
    lines = difflib.ndiff(before.decode().splitlines(), after.decode().splitlines())
    changed = [line for line in lines if line[:1] in "+-"]
    assert changed and len(changed) <= 6, changed


def test_errors_in_a_throw_away_worktree_name_where_the_file_came_from(tmp_path):
    worktree = tmp_path / "modelops-wt-123"
    worktree.mkdir()
    (worktree / "models.yaml").write_text("models: [\n", encoding="utf-8")
    with pytest.raises(BadInput) as raised:
        ModelsDocument.load(worktree / "models.yaml", shown_as="origin/main:models.yaml")
    assert str(raised.value).startswith("origin/main:models.yaml")
    assert "modelops-wt-" not in str(raised.value)


# -- concurrent edits -------------------------------------------------------------------------------


def _edited(text: str, edit: str) -> str:
    doc = ModelsDocument(text)
    if edit == "roll back churn":
        doc.promote("churn", "production", 2, at=AT, by="a", reason="r")
        doc.promote("churn", "production", 3, at=AT, by="a", reason="r")
        doc.rollback("churn", "production", at=AT, by="a", reason="r")
    elif edit == "promote fraud":
        doc.promote("fraud", "production", 4, at=AT, by="b", reason="r")
    elif edit == "promote churn staging":
        doc.promote("churn", "staging", 5, at=AT, by="b", reason="r")
    return doc.dump()


def test_edits_of_different_models_commute_and_the_merge_must_keep_both() -> None:
    base = TWO_MODELS
    ours, theirs = _edited(base, "roll back churn"), _edited(base, "promote fraud")
    both = _edited(theirs, "roll back churn")  # what a re-apply on their tip gives
    assert edits_commute(base, ours, theirs, both)
    assert not edits_commute(base, ours, theirs, theirs), "a merge that lost our edit"
    assert not edits_commute(base, ours, theirs, ours), "a merge that lost theirs"


def test_edits_of_the_same_model_never_commute_even_in_another_environment() -> None:
    base = TWO_MODELS
    ours, theirs = _edited(base, "roll back churn"), _edited(base, "promote churn staging")
    assert not edits_commute(base, ours, theirs, _edited(theirs, "roll back churn"))


def test_an_edit_outside_the_models_never_commutes() -> None:
    base = TWO_MODELS
    ours = _edited(base, "roll back churn")
    theirs = base.replace("storage_uri_prefix: ", "storage_uri_prefix: s3://elsewhere/#", 1)
    assert theirs != base
    assert not edits_commute(base, ours, theirs, _edited(theirs, "roll back churn"))


def test_a_file_with_anchors_or_that_does_not_read_is_never_judged_commuting() -> None:
    base = TWO_MODELS
    ours, theirs = _edited(base, "roll back churn"), _edited(base, "promote fraud")
    merged = _edited(theirs, "roll back churn")
    assert edits_commute(base, ours, theirs, merged)
    anchored = merged.replace("owners: [carol]", "owners: &owners [carol]", 1)
    assert anchored != merged
    assert not edits_commute(base, ours, theirs, anchored)
    assert not edits_commute(base, ours, theirs, merged + "\n  broken: [\n")
