"""The generated overlays on disk: write applications/<model>/{base,overlays} from a checkout's
models.yaml, or say which files differ.

The render, promotion and rollback flows call `render_into(repo)` right after editing models.yaml, so
the commit that moves a pin also moves what Argo CD syncs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from modelops.context import MODELS_FILE
from modelops.core.document import ModelsDocument
from modelops.core.render import APPLICATIONS_DIR, is_generated_path, plan, render_overlays
from modelops.files import write_atomically


@dataclass(frozen=True)
class RenderResult:
    changed: list[str]
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    checked: bool = False

    @property
    def clean(self) -> bool:
        return not self.changed

    def as_dict(self) -> dict[str, object]:
        return {"changed": self.changed, "removed": self.removed, "unchanged": self.unchanged}


def existing_generated_files(repo: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    apps = repo / APPLICATIONS_DIR
    if not apps.is_dir():
        return found
    for path in sorted(apps.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(repo).as_posix()
        if not is_generated_path(relative):
            continue
        try:
            found[relative] = path.read_text("utf-8")
        except (UnicodeDecodeError, OSError):
            found[relative] = "\0unreadable"
    return found


def _prune_empty_dirs(repo: Path, removed: list[str]) -> None:
    stop = repo / APPLICATIONS_DIR
    for relative in removed:
        parent = (repo / relative).parent
        while parent != stop and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


def render_into(repo: Path, check: bool = False, doc: ModelsDocument | None = None) -> RenderResult:
    """Bring `repo`'s generated files in line with its models.yaml (or, with check, only say what differs).

    A flow that has just written models.yaml from `doc` passes it, instead of parsing the file again."""
    doc = doc or ModelsDocument.load(repo / MODELS_FILE)
    rendered = render_overlays(doc.state(), doc.storage_uri_prefix())
    diff = plan(rendered, existing_generated_files(repo))
    if not check:
        for relative in diff.write:
            write_atomically(repo / relative, rendered[relative])
        for relative in diff.delete:
            (repo / relative).unlink()
        _prune_empty_dirs(repo, list(diff.delete))
    return RenderResult(
        changed=list(diff.changed), removed=list(diff.delete), unchanged=diff.unchanged, checked=check
    )
