"""Finding a task's repository in a folder of local clones or mirrors, in any of the common layouts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LAYOUTS = ("{owner}+{name}/repo", "{owner}+{name}", "{owner}__{name}", "{owner}/{name}", "{name}")
"""Where a mirror of `owner/name` may lie in the folder, first match wins; each also with a `.git` suffix."""


class MirrorMissing(Exception):
    """No repository for a task in the folder; the message is one line saying where it looked."""


@dataclass(frozen=True)
class Mirror:
    repo: str
    path: Path
    """A bare git directory, or a work tree's top folder."""
    layout: str
    """Which of LAYOUTS (with or without `.git`) it was found by, e.g. `owner+name/repo`."""


def find_mirror(folder: Path, repo: str) -> Mirror:
    owner, _, name = repo.partition("/")
    tried = []
    for pattern in LAYOUTS:
        for suffix in ("", ".git"):
            relative = pattern.format(owner=owner, name=name) + suffix
            tried.append(relative)
            candidate = folder / relative
            if is_repository(candidate):
                layout = pattern.replace("{owner}", "owner").replace("{name}", "name") + suffix
                return Mirror(repo=repo, path=candidate, layout=layout)
    shown = ", ".join(tried[::2])
    raise MirrorMissing(f"no mirror of {repo} in {folder} (looked for {shown}, each also with .git)")


def is_repository(path: Path) -> bool:
    """A bare git directory (HEAD and objects/) or a folder holding `.git`."""
    if not path.is_dir():
        return False
    if (path / "HEAD").is_file() and (path / "objects").is_dir():
        return True
    return (path / ".git").exists()
