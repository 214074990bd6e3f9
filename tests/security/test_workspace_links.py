"""Class 3: links and special files the sandbox plants never take host-side code out of the workspace.

The links are made from inside a real container (their targets are host paths: a link's text means nothing
until the host follows it). Then the host-side tools and readers run and must neither return a host file's
content nor write through a link, and must not block on a FIFO.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from loopwright import gitstate
from loopwright.sandboxes import hostfs
from loopwright.sandboxes.envplan import make_plan
from loopwright.sandboxes.workcopy import write_archive
from loopwright.session import project_instructions
from loopwright.tools.base import ToolContext, ToolFailure
from loopwright.tools.list_files import ListFiles, ListFilesArgs
from loopwright.tools.read_file import ReadFile, ReadFileArgs
from loopwright.tools.search import Search, SearchArgs
from loopwright.tools.write_file import WriteFile, WriteFileArgs
from tests.repos import make_repo

SECRET = "HOST-SECRET-7f3a"


@pytest.fixture
def host_secret(tmp_path) -> Path:
    secret = tmp_path / "host" / "credentials"
    secret.parent.mkdir()
    secret.write_text(f"token = {SECRET}\n")
    return secret


def context(root: Path, box=None) -> ToolContext:
    return ToolContext(root=root, sandbox=box, test_command="true")


@pytest.mark.docker
def test_links_planted_in_the_sandbox_are_not_followed_out(tmp_path, host_secret, make_sandbox):
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hi')\n"})
    box = make_sandbox(repo)
    planted = box.exec(
        f"ln -s {host_secret} leak.txt && ln -s {host_secret.parent} hostdir && ln -s {host_secret} AGENTS.md"
        f" && ln -s {host_secret} requirements.txt && mkfifo pipe.py && echo ok",
        timeout_s=30,
    )
    assert planted.output.strip().endswith("ok"), planted.output
    ctx = context(repo, box)

    found = Search().run(SearchArgs(pattern="token"), ctx).text
    assert SECRET not in found
    listed = ListFiles().run(ListFilesArgs(), ctx).text
    assert "leak.txt" not in listed and "hostdir" not in listed
    for path in ("leak.txt", "hostdir/credentials", "AGENTS.md", "/workspace/leak.txt"):
        with pytest.raises(ToolFailure):
            ReadFile().run(ReadFileArgs(path=path), ctx)
    assert SECRET not in project_instructions(repo)[0]
    plan = make_plan(repo)
    assert all(SECRET.encode() not in content for content in [*plan.staged.files().values(), *plan.defining.values()])
    copy = io.BytesIO()
    write_archive(repo, copy, "workspace")
    assert SECRET.encode() not in copy.getvalue() and b"leak.txt" in copy.getvalue()


@pytest.mark.docker
def test_edits_never_write_through_a_planted_link(tmp_path, host_secret, make_sandbox):
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hi')\n"})
    box = make_sandbox(repo)
    box.exec(f"ln -s {host_secret.parent} hostdir && ln -s {host_secret} config.py", timeout_s=30)
    ctx = context(repo, box)
    for path in ("hostdir/new.py", "config.py", "hostdir/credentials"):
        with pytest.raises(ToolFailure):
            WriteFile().run(WriteFileArgs(path=path, content="x = 1\n"), ctx)
    assert host_secret.read_text() == f"token = {SECRET}\n"
    assert sorted(os.listdir(host_secret.parent)) == ["credentials"]


def test_a_folder_swapped_for_a_link_after_the_check_stops_the_write(tmp_path, host_secret):
    """The race a process left running in the container can win: the path is checked, then swapped."""
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    target = hostfs.inside(root, root / "pkg" / "mod.py")
    (root / "pkg").rmdir()
    (root / "pkg").symlink_to(host_secret.parent)
    with pytest.raises(hostfs.WorkspacePathError):
        hostfs.write_atomic(root, target, b"pwned\n")
    with pytest.raises(hostfs.WorkspacePathError):
        hostfs.read_bytes(root, target.parent / "credentials", 1 << 20)
    assert sorted(os.listdir(host_secret.parent)) == ["credentials"]


def test_a_file_swapped_for_a_link_after_the_check_is_not_read(tmp_path, host_secret):
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.txt").write_text("fine\n")
    target = hostfs.inside(root, root / "a.txt")
    (root / "a.txt").unlink()
    (root / "a.txt").symlink_to(host_secret)
    with pytest.raises(hostfs.WorkspacePathError):
        hostfs.read_bytes(root, target, 1 << 20)


def test_a_fifo_never_blocks_host_side_readers(tmp_path):
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hi')\n"})
    os.mkfifo(repo / "pipe.py")
    os.mkfifo(repo / "untracked.txt")
    finished = threading.Event()

    def readers() -> None:
        ctx = context(repo)
        Search().run(SearchArgs(pattern="hi"), ctx)
        with pytest.raises(ToolFailure):
            ReadFile().run(ReadFileArgs(path="pipe.py"), ctx)
        before = gitstate.take(repo)
        assert before is not None
        gitstate.changed_since(before)
        gitstate.save_point(repo, "runs/fifo")
        finished.set()

    worker = threading.Thread(target=readers, daemon=True)
    worker.start()
    worker.join(30)
    assert finished.is_set(), "a host-side reader blocked on a FIFO in the workspace"
