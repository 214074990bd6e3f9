"""Where loopwright keeps what it writes about a workspace: outside the workspace, out of the sandbox's reach.

Trajectories, the chat history, the repo-map cache and the shadow history of a folder without git are host
state. Kept inside the workspace they would be writable from the sandbox (and, in the PR bot, committed by a
pull request): a planted symlink would redirect the host's writes and a crafted file would be read back as
the host's own. Each workspace gets a folder of its own under the user's state directory instead:
`$LOOPWRIGHT_STATE_DIR`, else `$XDG_STATE_HOME/loopwright`, else `~/.local/state/loopwright`.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def base() -> Path:
    """The user's loopwright state folder (created, private to the user)."""
    configured = os.environ.get("LOOPWRIGHT_STATE_DIR")
    if configured:
        folder = Path(configured).expanduser()
    else:
        xdg = os.environ.get("XDG_STATE_HOME")
        folder = (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state") / "loopwright"
    return _private(folder.absolute())


def for_workspace(root: Path) -> Path:
    """The state folder of the workspace at `root`: its name, then a hash of its full path."""
    root = root.resolve()
    digest = hashlib.sha256(os.fsencode(root)).hexdigest()[:16]
    name = _UNSAFE.sub("_", root.name)[:40] or "root"
    return _private(base() / "workspaces" / f"{name}-{digest}")


def folder(root: Path, *parts: str) -> Path:
    """A named folder inside the workspace's state folder, such as `runs`."""
    return _private(for_workspace(root).joinpath(*parts))


def _private(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
