"""train.yml trains what changed: one `changes` job decides, every other job is a leg per model."""

from __future__ import annotations

from tests.workflows.workflow_files import WORKFLOWS_DIR, load

TRAIN = load(WORKFLOWS_DIR / "train.yml")
JOBS = TRAIN["jobs"]
MATRIX = "${{ fromJSON(needs.changes.outputs.matrix) }}"


def test_the_changes_job_asks_modelops_which_models_to_train() -> None:
    changes = JOBS["changes"]
    [step] = [s for s in changes["steps"] if "modelops train-matrix" in s.get("run", "")]
    assert '--base "$BASE_SHA"' in step["run"] and '--github-output "$GITHUB_OUTPUT"' in step["run"]
    assert step["env"]["BASE_SHA"] == "${{ github.event.before || github.sha }}"
    assert step["env"]["MODEL_INPUT"] == "${{ inputs.model }}", "a dispatch trains the model it names"
    assert set(changes["outputs"]) == {"matrix", "any"}
    checkout = changes["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0, "the push's base commit must be in the clone"


def test_every_other_job_is_one_leg_per_model_and_skipped_when_none_changed() -> None:
    for job_id in ("train", "propose-staging", "propose-production"):
        job = JOBS[job_id]
        assert "changes" in ([job["needs"]] if isinstance(job["needs"], str) else job["needs"]), job_id
        assert job["if"].startswith("needs.changes.outputs.any == 'true'"), job_id
        assert job["strategy"]["matrix"] == MATRIX, job_id
        assert job["strategy"]["fail-fast"] is False, f"{job_id}: one model's failure must not stop another's"
        assert job["env"]["MODEL"] == "${{ matrix.model }}", job_id


def test_each_model_queues_behind_its_own_training_never_behind_another_s() -> None:
    assert JOBS["train"]["concurrency"] == {"group": "train-${{ matrix.model }}", "cancel-in-progress": False}
    # The workflow's own group is per run: a group shared by runs would let a newer push replace a
    # pending one, and a push's base would then skip that push's changes.
    assert TRAIN["concurrency"]["group"] == "train-${{ github.run_id }}"


def test_a_leg_proposes_only_its_own_model_s_passed_candidate() -> None:
    for job_id in ("propose-staging", "propose-production"):
        steps = JOBS[job_id]["steps"]
        [fetch] = [s for s in steps if s.get("uses", "").startswith("actions/download-artifact@")]
        assert fetch["with"]["name"] == "evidence-${{ matrix.model }}-${{ github.run_id }}"
        [propose] = [s for s in steps if "modelops propose" in s.get("run", "")]
        assert propose["if"] == "steps.candidate.outputs.gate == 'passed'"
        assert propose["env"]["VERSION"] == "${{ steps.candidate.outputs.version }}"
    [upload] = [s for s in JOBS["train"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["name"] == "evidence-${{ matrix.model }}-${{ github.run_id }}"
    assert {"train.json", "evaluation.json"} <= set(upload["with"]["path"].split())


def _env_flag(run: str, command: str) -> str:
    [line] = [line for line in run.splitlines() if f"modelops {command}" in line]
    words = line.split()
    return words[words.index("--env") + 1]


def test_the_candidate_is_judged_against_the_pin_its_first_pull_request_replaces() -> None:
    """As in retrain.yml: against production, the staging PR was refused whenever the pins differed."""
    [evaluate] = [s for s in JOBS["train"]["steps"] if "modelops evaluate" in s.get("run", "")]
    [first] = [s for s in JOBS["propose-staging"]["steps"] if "modelops propose" in s.get("run", "")]
    assert _env_flag(evaluate["run"], "evaluate") == _env_flag(first["run"], "propose") == "staging"
    retrain = load(WORKFLOWS_DIR / "retrain.yml")["jobs"]["propose-staging"]
    [proposal] = [s for s in retrain["steps"] if "modelops propose" in s.get("run", "")]
    assert _env_flag(proposal["run"], "propose") == "staging"
