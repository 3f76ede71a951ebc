"""Every pinned action is a release that runs on Node 24: GitHub-hosted runners dropped Node 20.

The table is what each upstream tag says: its commit, and `runs.using: node24` in that commit's
action.yml (checked by reading the tag in a snapshot of the action's repository). To update an action,
take the new tag's commit from upstream, confirm its action.yml says node24, and change the row here
and the pin in every file that uses it.
"""

from __future__ import annotations

import pytest

from tests.workflows.workflow_files import action_paths, raw_uses, workflow_paths

# action -> (commit of the release tag, release); each commit's action.yml says `using: node24`.
NODE24_RELEASES = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/create-github-app-token": ("1b10c78c7865c340bc4f6099eb2f838309f1e8c3", "v3.1.1"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "actions/setup-python": ("ece7cb06caefa5fff74198d8649806c4678c61a1", "v6.3.0"),
    "aws-actions/configure-aws-credentials": ("e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3"),
    "marocchino/sticky-pull-request-comment": ("5770ad5eb8f42dd2c4f34da00c94c5381e49af88", "v3.0.5"),
    "actions/configure-pages": ("45bfe0192ca1faeb007ade9deae92b16b8254a0d", "v6.0.0"),
    # Composite; inside, it uses actions/upload-artifact v7.0.0 (above).
    "actions/upload-pages-artifact": ("fc324d3547104276b827a68afc52ff2a11cc49c9", "v5.0.0"),
    "actions/deploy-pages": ("cd2ce8fcbc39b97be8ca5fce6e763baed58fa128", "v5.0.0"),
}

PINS = [
    (f"{path.name}:{line}", ref, comment)
    for path in [*workflow_paths(), *action_paths()]
    for line, ref, comment in raw_uses(path)
    if not ref.startswith("./")
]


@pytest.mark.parametrize(("where", "ref", "comment"), PINS, ids=[p[0] for p in PINS])
def test_every_pinned_action_is_a_node24_release(where: str, ref: str, comment: str) -> None:
    action, sha = ref.split("@")
    assert action in NODE24_RELEASES, f"{where}: {action} has no verified Node 24 release in this table"
    assert (sha, comment) == NODE24_RELEASES[action], f"{where}: pin {action} to its Node 24 release"


def test_the_app_token_is_minted_with_the_client_id_not_the_deprecated_app_id() -> None:
    # create-github-app-token v3 deprecates `app-id`; every run would carry a warning.
    for path in workflow_paths():
        text = path.read_text("utf-8")
        assert "app-id:" not in text, f"{path.name}: use client-id: ${{{{ vars.MODELOPS_APP_CLIENT_ID }}}}"
