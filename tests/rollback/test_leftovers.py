"""A writer killed part-way (kill -9) leaves a registered worktree and a temp folder; the next run cleans up."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from modelops.adapters.git import Git
from tests.relay.sandbox import git, make_git_sandbox

HANG = """
import sys, time
from pathlib import Path
from modelops.adapters.git import Git

def change(worktree: Path) -> str:
    print(worktree, flush=True)
    time.sleep(600)
    return "never"

Git(Path(sys.argv[1])).land("main", change)
"""


def test_the_next_run_removes_what_a_killed_writer_left(tmp_path: Path) -> None:
    sandbox = make_git_sandbox(tmp_path)
    writer = subprocess.Popen(
        [sys.executable, "-c", HANG, str(sandbox.clone)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    left = Path(writer.stdout.readline().strip())
    writer.send_signal(signal.SIGKILL)
    writer.wait(30)
    listed = git("worktree", "list", "--porcelain", cwd=sandbox.clone)
    assert left.is_dir() and str(left) in listed  # what kill -9 leaves behind

    def note(worktree: Path) -> str:
        (worktree / "NOTE").write_text("after the crash\n")
        return "a note"

    Git(sandbox.clone).land("main", note)
    assert not left.exists()
    assert git("worktree", "list", "--porcelain", cwd=sandbox.clone).count("worktree ") == 1
    assert "a note" in sandbox.origin_log()[0]
