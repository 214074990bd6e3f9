"""Classes 2 and 7: host state is data kept outside the workspace, and a run never loses the user's files.

- A crafted cache (a pickle a pull request commits where the cache used to live, or a crafted archive in the
  cache's own place) never runs code when the host loads it.
- A `.loopwright` link the sandbox plants does not redirect the host's writes (trajectories, caches).
- An ignored `.env` the agent deletes can be brought back from the run's save point.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from loopwright import statedir
from loopwright.repomap import store
from loopwright.repomap.index import RepoIndex
from tests.repos import git, make_repo


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_cache_in_the_workspace_or_the_state_folder_runs_nothing(tmp_path):
    repo = make_repo(tmp_path / "repo", {"a.py": "def f():\n    return 1\n"})
    marker = tmp_path / "pwned"
    old_place = repo / ".loopwright" / "repomap" / "index.pkl"
    old_place.parent.mkdir(parents=True)
    old_place.write_bytes(pickle.dumps(_Payload(marker)))
    cache = store.cache_path(repo)
    with open(cache, "wb") as handle:
        np.savez(handle, meta=np.array([_Payload(marker)], dtype=object))
    index = RepoIndex.open(repo)
    assert not marker.exists()
    assert "a.py" in index.graph.paths
    assert not cache.is_relative_to(repo), "the cache must live outside the workspace"


def test_an_inconsistent_cache_is_rebuilt_not_trusted(tmp_path):
    repo = make_repo(tmp_path / "repo", {"a.py": "def f():\n    return g()\n", "b.py": "def g():\n    return 2\n"})
    RepoIndex.open(repo)
    with np.load(store.cache_path(repo), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["graph.ref_file"] = np.full_like(arrays["graph.ref_file"], 10**6)  # points past every file
    with open(store.cache_path(repo), "wb") as handle:
        np.savez(handle, **arrays)
    assert sorted(RepoIndex.open(repo).reparsed) == ["a.py", "b.py"]


def _run(repo: Path, script: list[dict], runtime: str) -> subprocess.CompletedProcess:
    path = repo.parent / "script.json"
    path.write_text(json.dumps(script))
    return subprocess.run(
        [sys.executable, "-m", "loopwright", "run", "task", "--repo", str(repo), "--model", f"scripted:{path}", "--max-steps", "5"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "LOOPWRIGHT_SANDBOX_RUNTIME": runtime},
    )


def shell(command: str) -> dict:
    return {"text": "", "calls": [["run_shell", {"command": command}]]}


SUBMIT = {"text": "done", "calls": [["submit", {"summary": "done"}]]}


@pytest.mark.docker
def test_a_planted_state_link_does_not_redirect_host_writes(tmp_path, sandbox_image, runtime):
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _run(repo, [shell(f"ln -s {elsewhere} .loopwright && echo linked"), {"text": "", "calls": [["repo_map", {"query": "x"}]]}, SUBMIT], runtime)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert (repo / ".loopwright").is_symlink()
    assert list(elsewhere.iterdir()) == []
    assert list((statedir.for_workspace(repo) / "runs").glob("*.json"))


@pytest.mark.docker
def test_an_ignored_env_file_the_agent_deletes_comes_back_from_the_save_point(tmp_path, sandbox_image, runtime):
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n", ".gitignore": ".env\nbuild/\nnode_modules/\n"})
    (repo / ".env").write_text("API_TOKEN=keep-me\n")
    (repo / "build").mkdir()
    (repo / "build" / "settings.local").write_text("mine\n")
    (repo / "node_modules" / "left-pad").mkdir(parents=True)
    (repo / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 1\n")
    (repo / "big.bin").write_bytes(b"\0" * (2 << 20))
    (repo / ".gitignore").write_text(".env\nbuild/\nnode_modules/\nbig.bin\n")
    proc = _run(repo, [shell("rm -rf .env build && echo gone"), SUBMIT], runtime)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert not (repo / ".env").exists()
    ref = git(repo, "for-each-ref", "--format=%(refname)", "refs/loopwright/runs/").split()[0]
    assert git(repo, "show", f"{ref}:.env") == "API_TOKEN=keep-me\n"
    assert git(repo, "show", f"{ref}:build/settings.local") == "mine\n"
    kept = git(repo, "ls-tree", "-r", "--name-only", ref).split()
    assert "node_modules/left-pad/index.js" not in kept and "big.bin" not in kept
    # The documented way back restores the files without staging them (a secret must not end up committed).
    git(repo, "restore", f"--source={ref}", "--worktree", "--", ".env")
    assert (repo / ".env").read_text() == "API_TOKEN=keep-me\n"
    assert ".env" not in git(repo, "ls-files")
