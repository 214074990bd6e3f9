"""The on-disk cache: one pickle per repository under .loopwright/repomap/, written atomically.

The file is written and read only by this package, inside the user's own work tree; anything that
fails to load (older format, other query files, a torn write) means starting from an empty store.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from loopwright.repomap.languages import queries_fingerprint

if TYPE_CHECKING:
    from loopwright.repomap.index import Store

FORMAT = 2
"""Bumped whenever the pickled classes change shape."""
CACHE_DIR = Path(".loopwright") / "repomap"
CACHE_FILE = "index.pkl"


def cache_path(root: Path) -> Path:
    return root / CACHE_DIR / CACHE_FILE


def fingerprint() -> str:
    return f"{FORMAT}:{queries_fingerprint()}"


def load(root: Path) -> Store:
    from loopwright.repomap.index import Store

    try:
        with open(cache_path(root), "rb") as handle:
            store = pickle.load(handle)
    except Exception:  # noqa: BLE001 - any unreadable cache is simply rebuilt
        return Store(fingerprint())
    if not isinstance(store, Store) or store.fingerprint != fingerprint():
        return Store(fingerprint())
    return store


def save(root: Path, store: Store) -> None:
    """Best effort: a read-only tree still gets a map, only without the cache."""
    directory = root / CACHE_DIR
    try:
        directory.mkdir(parents=True, exist_ok=True)
        ignore = directory / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n", encoding="utf-8")
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".index-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(store, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, directory / CACHE_FILE)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        return
