"""Paths inside the workspace: resolution that refuses escapes, and a walk that honours .gitignore."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from pathlib import Path

import pathspec

import loopwright.sandboxes.hostfs as hostfs
from loopwright.tools.base import ToolFailure

GITIGNORE_BYTES = 1 << 20
ALWAYS_SKIPPED = {".git", ".loopwright", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".venv", "node_modules"}


def resolve(root: Path, path: str) -> Path:
    """The absolute path for a workspace-relative `path`; refuses anything that lands outside the workspace."""
    if not path or "\x00" in path:
        raise ToolFailure("empty or invalid path")
    try:
        return hostfs.inside(root, Path(path))
    except hostfs.WorkspacePathError:
        raise ToolFailure(f"{path}: outside the workspace") from None


def read_bytes(root: Path, path: Path, limit: int, name: str) -> bytes:
    """A workspace file's bytes, read without following a link out (see hostfs); `name` is how errors call it."""
    try:
        return hostfs.read_bytes(root, path, limit)
    except hostfs.WorkspacePathError as error:
        reason = str(error).removeprefix(f"{path}: ")
        raise ToolFailure(f"{name}: {reason}") from None
    except FileNotFoundError:
        raise ToolFailure(f"{name}: no such file") from None
    except OSError as error:
        raise ToolFailure(f"{name}: cannot be read ({error.strerror or error})") from None


def relative(root: Path, path: Path) -> str:
    return path.resolve().relative_to(root.resolve()).as_posix()


def iter_files(root: Path, under: Path | None = None) -> Iterator[Path]:
    """Every file below `under` (default: the root), in sorted order, skipping what .gitignore files exclude."""
    root = root.resolve()
    start = (under or root).resolve()
    specs: list[tuple[Path, pathspec.PathSpec[Any]]] = []
    for parent in [root, *[p for p in reversed(start.parents) if root in p.parents]] + ([start] if start != root else []):
        spec = _load_gitignore(parent)
        if spec and (parent, spec) not in specs:
            specs.append((parent, spec))
    yield from _walk(root, start, specs)


def _points_inside(root: Path, link: Path) -> bool:
    try:
        hostfs.inside(root, link)
    except hostfs.WorkspacePathError:
        return False
    return True


def _load_gitignore(directory: Path) -> pathspec.PathSpec[Any] | None:
    text = hostfs.read_text(directory, directory / ".gitignore", GITIGNORE_BYTES)
    return pathspec.GitIgnoreSpec.from_lines(text.splitlines()) if text else None


def _ignored(path: Path, is_dir: bool, specs: list[tuple[Path, pathspec.PathSpec[Any]]]) -> bool:
    for base, spec in specs:
        rel = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(rel):
            return True
    return False


def _walk(root: Path, directory: Path, specs: list[tuple[Path, pathspec.PathSpec[Any]]]) -> Iterator[Path]:
    local = _load_gitignore(directory)
    if local and all(base != directory for base, _ in specs):
        specs = [*specs, (directory, local)]
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.is_symlink():
            # A link is listed only when it leads to a file inside the workspace; it is never descended.
            if entry.is_file() and _points_inside(root, path) and not _ignored(path, False, specs):
                yield path
            continue
        if entry.is_dir():
            if entry.name in ALWAYS_SKIPPED or _ignored(path, True, specs):
                continue
            yield from _walk(root, path, specs)
        elif entry.is_file() and not _ignored(path, False, specs):
            yield path
