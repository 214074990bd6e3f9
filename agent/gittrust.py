"""Which git directory host-side git may use for a workspace, pinned so the sandbox cannot swap it.

Host git runs programs named in a repository's configuration (`core.fsmonitor`, hooks, filter drivers)
and follows `.git` files wherever they point. A sandbox that can write a `.git` entry, or a git directory,
could make loopwright's own `git status` run a command on the host. So:

- the repository is found once per process, in Python (nothing is executed), before any sandbox runs, and
  every later host git call is pinned to it (`GIT_DIR`, `GIT_WORK_TREE`): a `.git` the sandbox plants
  below the workspace is never discovered;
- the `.git` entries of the workspace (the top one, submodules' `.git` files) and any git directory inside
  the workspace are mounted read-only in the container (`protected_paths`);
- host git never enters nested repositories (submodules' `.git` files are workspace content);
- folders a sandbox could write are recorded; a git directory found later inside one of them that was not
  protected at the time is refused (`UntrustedGit`), since the sandbox could have made it.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from loopwright import statedir

_NO_SUBMODULES = {"submodule.recurse": "false", "diff.ignoreSubmodules": "all", "status.submoduleSummary": "false"}
"""Host git looks at no nested repository: their `.git` files are workspace content the sandbox can rewrite."""
REGISTRY = "sandboxed.json"


class UntrustedGit(Exception):
    """A git directory the sandbox could have written; the message is one line for the user."""


@dataclass(frozen=True)
class Location:
    top: Path
    """The work tree's top folder."""
    dot_git: Path
    """The `.git` entry at the top: a folder, or a file naming the git directory (worktrees, submodules)."""
    git_dir: Path
    common_dir: Path
    """Where objects, refs and config live; differs from `git_dir` in a linked worktree."""

    def env(self) -> dict[str, str]:
        return pinned_env(self.git_dir, self.top)


def pinned_env(git_dir: Path, work_tree: Path) -> dict[str, str]:
    """Environment for host git that uses exactly this git directory and work tree, and no nested repository."""
    pairs = {"GIT_DIR": str(git_dir), "GIT_WORK_TREE": str(work_tree), "GIT_CONFIG_COUNT": str(len(_NO_SUBMODULES))}
    for number, (key, value) in enumerate(_NO_SUBMODULES.items()):
        pairs[f"GIT_CONFIG_KEY_{number}"] = key
        pairs[f"GIT_CONFIG_VALUE_{number}"] = value
    return pairs


_pinned: dict[Path, Location | None] = {}
_lock = threading.Lock()


def locate(root: Path) -> Location | None:
    """The repository holding `root`, found once per process and then pinned; None outside git.

    Raises UntrustedGit when the git directory lies in a folder a sandbox could write and was not protected.
    """
    root = root.resolve()
    with _lock:
        if root not in _pinned:
            found = _discover(root)
            if found is not None:
                _check_trusted(found)
            _pinned[root] = found
        return _pinned[root]


def protected_paths(root: Path) -> list[Path]:
    """The git metadata inside `root` that a sandbox mounting `root` must see read-only."""
    root = root.resolve()
    location = locate(root)
    if location is None:
        return []
    candidates = [location.dot_git, location.git_dir, location.common_dir]
    candidates += [location.top / path / ".git" for path in _submodules(location)]
    inside = []
    for path in candidates:
        absolute = Path(os.path.abspath(path))
        if absolute != root and root in absolute.parents and os.path.lexists(absolute) and absolute not in inside:
            inside.append(absolute)
    return sorted(inside, key=lambda p: len(p.parts))


def record_sandboxed(root: Path, protected: list[Path]) -> None:
    """Remember that a sandbox may write `root`, except the `protected` paths (mounted read-only)."""
    location = locate(root)
    trusted = [str(p) for p in protected]
    if location is not None:
        trusted += [str(location.dot_git), str(location.git_dir)]
    with _registry_lock():
        # Folders that are gone (a benchmark's task folders, a deleted clone) need no record any more.
        registry = {folder: paths for folder, paths in _load().items() if os.path.isdir(folder)}
        entry = registry.setdefault(str(root.resolve()), [])
        registry[str(root.resolve())] = sorted(set(entry) | set(trusted))
        _save(registry)


def trust(path: Path) -> Path:
    """Accept the git directory of `path` as the person's own (after they checked it). Returns its `.git`."""
    found = _discover(path.resolve())
    if found is None:
        raise UntrustedGit(f"{path}: not in a git repository")
    with _registry_lock():
        registry = _load()
        for folder in _containing(registry, found):
            registry[folder] = sorted(set(registry[folder]) | {str(found.dot_git), str(found.git_dir)})
        _save(registry)
    with _lock:
        _pinned.clear()
    return found.dot_git


def _check_trusted(location: Location) -> None:
    registry = _load()
    for folder in _containing(registry, location):
        allowed = set(registry[folder])
        planted_entry = str(location.dot_git) not in allowed
        planted_dir = str(location.git_dir) not in allowed and _under(location.git_dir, Path(folder))
        if planted_entry or planted_dir:
            raise UntrustedGit(
                f"{location.dot_git} appeared inside {folder}, which a sandbox could write; loopwright will not run git "
                f"with it. If it is yours, check its config and hooks, then run: loopwright sandbox trust {location.top}"
            )


def _containing(registry: dict[str, list[str]], location: Location) -> list[str]:
    return [folder for folder in registry if _under(location.dot_git, Path(folder)) or _under(location.git_dir, Path(folder))]


def _under(path: Path, folder: Path) -> bool:
    return folder in Path(os.path.abspath(path)).parents


def _discover(root: Path) -> Location | None:
    for folder in [root, *root.parents]:
        dot_git = folder / ".git"
        git_dir = _git_dir_of(dot_git)
        if git_dir is None:
            continue
        common = git_dir
        commondir = git_dir / "commondir"
        if commondir.is_file():
            common = (git_dir / commondir.read_text(encoding="utf-8", errors="replace").strip()).resolve()
        return Location(top=folder, dot_git=dot_git, git_dir=git_dir, common_dir=common)
    return None


def _git_dir_of(dot_git: Path) -> Path | None:
    """What git itself would take `.git` to be: a folder with HEAD, or a `gitdir:` file."""
    try:
        if dot_git.is_dir():
            return dot_git.resolve() if (dot_git / "HEAD").is_file() else None
        if dot_git.is_file():
            text = dot_git.read_text(encoding="utf-8", errors="replace")[:4096].strip()
            if text.startswith("gitdir:"):
                target = (dot_git.parent / text[len("gitdir:") :].strip()).resolve()
                return target if (target / "HEAD").is_file() else None
    except OSError:
        return None
    return None


def gitlinks(listing: str) -> list[str]:
    """The submodule paths (gitlinks) in `git ls-files --stage -z` output."""
    paths = []
    for record in listing.split("\0"):
        meta, _, path = record.partition("\t")
        if meta.startswith("160000 "):
            paths.append(path)
    return paths


def add_all_pathspec(listing: str) -> list[str]:
    """Arguments for `git add --all` that stage the whole work tree except the index's gitlinks.

    `git add` looks inside a gitlink's folder (a status of the nested repository, through its `.git` file,
    which is workspace content): that would run the nested repository's configuration. Submodule pointers
    are therefore never staged by host git. `listing` is `git ls-files --stage -z` of the index `add` uses.
    """
    return ["--", ".", *(f":(exclude,literal){path}" for path in gitlinks(listing))]


def _submodules(location: Location) -> list[str]:
    try:
        listing = subprocess.run(
            ["git", "ls-files", "--stage", "-z"], env={**os.environ, **location.env()}, capture_output=True, timeout=60, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return gitlinks(os.fsdecode(listing))


@contextmanager
def _registry_lock() -> Iterator[None]:
    """Sessions running side by side update the registry one at a time."""
    with open(statedir.base() / f".{REGISTRY}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load() -> dict[str, list[str]]:
    try:
        data = json.loads((statedir.base() / REGISTRY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): [str(p) for p in v] for k, v in data.items() if isinstance(v, list)}


def _save(registry: dict[str, list[str]]) -> None:
    path = statedir.base() / REGISTRY
    temporary = path.with_name(f".{REGISTRY}.{os.getpid()}")
    temporary.write_text(json.dumps(registry, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(temporary, path)
