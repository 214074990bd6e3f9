"""`loopwright resume`: a PR bot run picked up in a clone, for real (git remotes, the CLI, a pty session)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from loopwright import trajectory as trajectory_module
from loopwright.messages import Message
from loopwright.pullbranch import repository_key
from loopwright.resume import ResumeError, resume
from loopwright.trajectory import FORMAT, PullRun, Trajectory, TrajectoryData, runs_dir
from tests.github_payloads import pr_comment
from tests.repos import git
from tests.test_github_action import FIX_ADD, REPOSITORY, Remote, github, handle_event, make_remote, serve_pull
from tests.test_interactive import PROMPT_READY, styled, turn

__all__ = ["github"]  # the local GitHub-shaped server, a fixture used here by name


def clone(remote: Remote, where: Path) -> Path:
    git(where.parent, "clone", "-q", "--branch", "main", str(remote.path), str(where))
    git(where, "config", "user.email", "dev@example.com")
    git(where, "config", "user.name", "Dev")
    return where


def pull_run(remote: Remote, **changes: object) -> PullRun:
    fields: dict[str, object] = dict(
        repository=REPOSITORY, clone_url=str(remote.path), number=1, base_ref="main", head_ref="feature",
        head_repository=REPOSITORY, head_sha=remote.head_sha, request="make test_add pass",
    )
    return PullRun.model_validate({**fields, **changes})


def write_run(path: Path, pull: PullRun | None, **changes: object) -> Path:
    data = TrajectoryData(
        run_id="20250101-000000-abcdef", task="You are working on pull request #1", model="scripted", repo="/runner/work", started_at="2025-01-01T00:00:00+00:00",
        messages=[Message.system("the runner's prompt"), Message.user("Task: make test_add pass"), Message(role="assistant", content="Fixed add().")],
        summary={"reason": "submitted", "changed_files": ["calc.py"], "tests_passed": True, "submitted_summary": "add() now adds"},
        pull_request=pull, **changes,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data.model_dump_json())
    return path


def snapshot(repo: Path) -> dict[str, object]:
    """The person's side of a clone: every file's bytes, the status, HEAD, local branches and config."""
    files = {}
    for folder, subfolders, names in os.walk(repo):
        subfolders[:] = [name for name in subfolders if name != ".git"]
        for name in names:
            path = Path(folder, name)
            files[str(path.relative_to(repo))] = hashlib.sha1(path.read_bytes()).hexdigest()
    return {
        "files": files,
        "status": git(repo, "status", "--porcelain", "--ignored"),
        "head": git(repo, "symbolic-ref", "-q", "HEAD"),
        "branches": git(repo, "for-each-ref", "refs/heads"),
        "config": (repo / ".git" / "config").read_text(),
    }


def loopwright(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loopwright", *args], capture_output=True, text=True, timeout=120)


def assert_one_line_refusal(proc: subprocess.CompletedProcess, message: str) -> None:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout == ""


# -- bad input: one line, a non-zero exit, nothing of the person's touched ---------------------------------------


def make_untracked_readme(repo: Path) -> None:
    (repo / "README.md").write_text("my own notes\n")


def make_ignored_readme(repo: Path) -> None:
    (repo / ".git" / "info" / "exclude").write_text("README.md\n")
    (repo / "README.md").write_text("my own notes, ignored\n")


def make_diverged_feature(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "mine.txt").write_text("local work\n")
    git(repo, "add", "mine.txt")
    git(repo, "commit", "-q", "-m", "my own feature work")
    git(repo, "checkout", "-q", "main")


@pytest.mark.parametrize(
    "case, message",
    [
        ("other repository", "the run was made on someone/else, which is not a remote of"),
        ("newer format", f"trajectory format 99 is newer than this loopwright reads (up to {FORMAT}); update loopwright"),
        ("malformed json", "not a loopwright trajectory"),
        ("invalid field", "not a loopwright trajectory (pull_request.head_sha"),
        ("empty folder", "no trajectory (*.json) in this folder"),
        ("two in a folder", "2 trajectories in this folder"),
        ("no pull request", "not a pull-request run"),
        ("hostile branch name", "is not a valid branch name"),
        ("previous-branch shorthand", "is not a valid branch name"),
        ("untracked file in the way", "would overwrite uncommitted changes in README.md"),
        ("ignored file in the way", "would overwrite uncommitted changes in README.md"),
        ("diverged local branch", "your branch feature and feature on origin have diverged"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(tmp_path, case, message):
    remote = make_remote(tmp_path)
    repo = clone(remote, tmp_path / "clone")
    runs = tmp_path / "artifact"
    target = runs / "run.json"
    if case == "other repository":
        write_run(target, pull_run(remote, repository="someone/else", clone_url="https://github.com/someone/else.git"))
    elif case == "newer format":
        write_run(target, pull_run(remote))
        target.write_text(json.dumps({**json.loads(target.read_text()), "version": 99, "messages": "changed shape"}))
    elif case == "malformed json":
        runs.mkdir()
        target.write_text('{"version": 2, "run_id": ')
    elif case == "invalid field":
        write_run(target, pull_run(remote))
        target.write_text(target.read_text().replace(remote.head_sha, "HEAD; rm -rf ~"))
    elif case == "empty folder":
        (runs / "nested").mkdir(parents=True)
        target = runs
    elif case == "two in a folder":
        write_run(runs / "a" / "one.json", pull_run(remote))
        write_run(runs / "b" / "two.json", pull_run(remote))
        target = runs
    elif case == "no pull request":
        write_run(target, None)
    elif case == "hostile branch name":
        write_run(target, pull_run(remote, head_ref="--upload-pack=touch /tmp/pwned"))
    elif case == "previous-branch shorthand":  # `git check-ref-format --branch` expands it to a real branch's name
        write_run(target, pull_run(remote, head_ref="@{-1}"))
        git(repo, "checkout", "-q", "-b", "other")
        git(repo, "checkout", "-q", "-")
    else:
        write_run(target, pull_run(remote))
        {"untracked file in the way": make_untracked_readme, "ignored file in the way": make_ignored_readme, "diverged local branch": make_diverged_feature}[case](repo)
    before = snapshot(repo)
    proc = loopwright("resume", str(target), "--repo", str(repo), "--model", "scripted:/no/script.json", "--sandbox", "local")
    assert_one_line_refusal(proc, message)
    assert snapshot(repo) == before


def test_a_trajectory_is_read_with_a_size_limit_and_never_from_a_fifo(tmp_path, monkeypatch):
    remote = make_remote(tmp_path)
    path = write_run(tmp_path / "run.json", pull_run(remote))
    monkeypatch.setattr(trajectory_module, "MAX_BYTES", 100)
    with pytest.raises(ValueError, match="larger than 100 bytes"):
        Trajectory.load(path)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        Trajectory.load(fifo)


def test_format_1_files_still_read(tmp_path):
    old = {"version": 1, "run_id": "r", "task": "t", "model": "m", "repo": "/r", "started_at": "2024-01-01", "messages": [{"role": "user", "content": "hi"}]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    data = Trajectory.load(tmp_path / "old.json")
    assert data.version == 1 and data.pull_request is None and data.messages[0].content == "hi"


# -- the checks and the checkout, as functions -------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("https://github.com/Codertocat/Hello-World.git", "git@github.com:codertocat/hello-world.git", True),
        ("https://github.com/Codertocat/Hello-World", "ssh://git@ssh.github.com:443/Codertocat/Hello-World.git/", True),
        ("https://github.com/Codertocat/Hello-World.git", "https://github.com/Codertocat/Hello-World-fork.git", False),
        ("https://github.com/Codertocat/Hello-World.git", "https://ghe.example.com/Codertocat/Hello-World.git", False),
        ("/srv/git/origin.git", "file:///srv/git/origin.git", True),
    ],
)
def test_remote_urls_of_one_repository_match(a, b, same):
    assert (repository_key(a) == repository_key(b)) is same


def test_resume_checks_out_the_branch_with_its_upstream_and_keeps_other_changes(tmp_path):
    remote = make_remote(tmp_path)
    repo = clone(remote, tmp_path / "clone")
    git(repo, "remote", "rename", "origin", "upstream")  # found by its URL, whatever its name
    (repo / "calc.py").write_text((repo / "calc.py").read_text() + "# my note\n")  # not touched by the PR
    resumed = resume(write_run(tmp_path / "artifact" / "x" / "run.json", pull_run(remote)).parent.parent, repo)
    assert resumed.branch == "feature"
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/feature"
    assert git(repo, "rev-parse", "HEAD").strip() == remote.head_sha
    assert git(repo, "rev-parse", "--abbrev-ref", "feature@{upstream}").strip() == "upstream/feature"
    assert (repo / "calc.py").read_text().endswith("# my note\n") and (repo / "README.md").exists()
    recap = dict(resumed.recap)
    assert recap["request"] == "make test_add pass" and recap["stop reason"] == "submitted" and recap["changed"] == "calc.py"
    assert "feature" in resumed.note and "pull request #1" in resumed.note


def test_resume_of_a_fork_uses_the_pull_ref_and_a_branch_of_its_own(tmp_path):
    remote = make_remote(tmp_path)
    git(remote.path, "update-ref", "refs/pull/7/head", remote.head_sha)
    git(remote.path, "update-ref", "-d", "refs/heads/feature")
    repo = clone(remote, tmp_path / "clone")
    resumed = resume(write_run(tmp_path / "run.json", pull_run(remote, number=7, head_repository="mallory/Hello-World", head_ref="main")), repo)
    assert resumed.branch == "pr-7" and git(repo, "rev-parse", "HEAD").strip() == remote.head_sha
    assert subprocess.run(["git", "config", "--get", "branch.pr-7.remote"], cwd=repo).returncode == 1  # a fork's branch tracks nothing


def test_a_local_branch_behind_is_fast_forwarded_and_one_ahead_is_kept(tmp_path):
    remote = make_remote(tmp_path)
    repo = clone(remote, tmp_path / "clone")
    git(repo, "branch", "feature", remote.main_sha)  # behind: main is feature's parent
    resume(write_run(tmp_path / "run.json", pull_run(remote)), repo)
    assert git(repo, "rev-parse", "feature").strip() == remote.head_sha
    (repo / "mine.txt").write_text("x\n")
    git(repo, "add", "mine.txt")
    git(repo, "commit", "-q", "-m", "mine")
    ahead = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "main")
    resumed = resume(write_run(tmp_path / "run.json", pull_run(remote)), repo)
    assert git(repo, "rev-parse", "HEAD").strip() == ahead
    assert any("ahead of origin" in text for label, text in resumed.recap if label == "note")


def test_the_refusal_names_the_remotes_without_their_credentials(tmp_path):
    remote = make_remote(tmp_path)
    repo = clone(remote, tmp_path / "clone")
    git(repo, "remote", "add", "mirror", "https://dev:ghp_secret123@git.example.com/dev/calc.git")
    git(repo, "remote", "remove", "origin")
    with pytest.raises(ResumeError) as raised:
        resume(write_run(tmp_path / "run.json", pull_run(remote)), repo)
    assert "(mirror: https://git.example.com/dev/calc.git)" in str(raised.value) and "ghp_secret123" not in str(raised.value)


def test_the_recap_shows_hostile_text_as_text(tmp_path):
    remote = make_remote(tmp_path)
    repo = clone(remote, tmp_path / "clone")
    hostile = "fix it \x1b]52;c;cm0gLXJmIH4=\x07 [red]styled[/red] \u202eevil"
    run = write_run(tmp_path / "run.json", pull_run(remote, request=hostile))
    script = tmp_path / "script.json"
    script.write_text("[]")
    proc = subprocess.run(
        [sys.executable, "-m", "loopwright", "resume", str(run), "--repo", str(repo), "--model", f"scripted:{script}", "--sandbox", "local"],
        input="/exit\n", capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\u202e" not in proc.stdout and "\x07" not in proc.stdout
    assert "fix it \\x1b]52;c;cm0gLXJmIH4=\\x07 [red]styled[/red] \\u202eevil" in proc.stdout


def test_a_clone_without_the_repository_is_refused(tmp_path):
    remote = make_remote(tmp_path)
    repo = clone(remote, tmp_path / "clone")
    git(repo, "remote", "remove", "origin")
    with pytest.raises(ResumeError, match="it has no remotes"):
        resume(write_run(tmp_path / "run.json", pull_run(remote)), repo)


# -- end to end: the PR bot runs, its trajectory is resumed in a terminal, /commit lands on the PR branch ---------


class ResumeSession:
    def __init__(self, repo: Path, run: Path, script: list[dict], tmp: Path) -> None:
        path = tmp / "resume-script.json"
        path.write_text(json.dumps(script))
        env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm", LOOPWRIGHT_DEBUG="1", XDG_CONFIG_HOME=str(tmp / "xdg"))
        argv = ["-m", "loopwright", "resume", str(run), "--repo", str(repo), "--model", f"scripted:{path}", "--sandbox", "local", "--mode", "auto-edit"]
        self.child = pexpect.spawn(sys.executable, argv, env=env, encoding="utf-8", timeout=60, dimensions=(50, 250))
        self.child.logfile_read = (tmp / "resume.log").open("a")

    def expect(self, text: str) -> None:
        self.child.expect(styled(text))

    def say(self, text: str) -> None:
        self.child.expect_exact(PROMPT_READY)
        self.child.sendline(text)


MUL_DOC = ("edit_file", {"path": "calc.py", "old_string": "def mul(a, b):\n", "new_string": "def mul(a, b):\n    \"\"\"The product of a and b.\"\"\"\n"})


@pytest.mark.slow
def test_a_pr_run_is_resumed_in_a_terminal_and_commit_lands_on_the_pr_branch(tmp_path, github):
    remote = make_remote(tmp_path)
    serve_pull(github, remote)
    proc = handle_event(tmp_path, github, pr_comment("@loopwright make test_add pass"), "issue_comment", FIX_ADD)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pushed = remote.refs()["refs/heads/feature"]
    (reply,) = github.replies
    (file,) = (tmp_path / "runs").glob("*.json")
    assert f"`loopwright resume` on its trajectory `{file.name}`" in reply["body"]
    assert json.loads(file.read_text())["pull_request"]["pushed"] == pushed

    repo = clone(remote, tmp_path / "clone")
    remote_refs = remote.refs()
    session = ResumeSession(repo, tmp_path / "runs", [turn("", MUL_DOC), turn("Documented mul().")], tmp_path)
    session.expect("make test_add pass")  # the recap of the PR run
    session.expect(f"{pushed[:12]}")
    session.expect("(feature)")  # the welcome line names the branch now checked out
    session.say("document mul as well")
    session.expect("saved step")
    session.expect("Documented mul().")
    session.say("/commit")
    session.expect("committed ")
    session.expect("on feature")
    session.say("/exit")
    session.child.expect(pexpect.EOF)
    session.child.close()
    assert session.child.exitstatus == 0

    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/feature"
    assert git(repo, "rev-parse", "HEAD^").strip() == pushed
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["calc.py"]
    calc = (repo / "calc.py").read_text()
    assert "return a + b" in calc and '"""The product of a and b."""' in calc
    assert git(repo, "status", "--porcelain") == ""
    assert remote.refs() == remote_refs  # pushing stays the person's choice
    (local,) = runs_dir(repo).glob("*.json")
    record = json.loads(local.read_text())
    assert record["resumed_from"] == file.stem and record["pull_request"]["number"] == 1
    contents = [m["content"] for m in record["messages"]]
    # The PR run's conversation comes first, under this session's own system prompt, then the note and the request.
    assert [m["role"] for m in record["messages"]].count("system") == 1
    assert str(repo) in contents[0] and "loopwright-pr-" not in contents[0] and "make test_add pass" in contents[1]
    follow_up = next(text for text in contents if "document mul as well" in text)
    assert "continues in a terminal session" in follow_up and "local branch feature" in follow_up
