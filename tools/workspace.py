"""Paths inside the workspace: resolution that refuses escapes, and a walk that honours .gitignore."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pathspec

from loopwright.tools.base import ToolFailure

ALWAYS_SKIPPED = {".git", ".loopwright", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".venv", "node_modules"}


def resolve(root: Path, path: str) -> Path:
    """The absolute path for a workspace-relative `path`; refuses anything that lands outside the workspace."""
    if not path or "\x00" in path:
        raise ToolFailure("empty or invalid path")
    root = root.resolve()
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root / candidate
    resolved = candidate.resolve()
    if resolved != root and root not in resolved.parents:
        raise ToolFailure(f"{path}: outside the workspace")
    return resolved


def relative(root: Path, path: Path) -> str:
    return path.resolve().relative_to(root.resolve()).as_posix()


def iter_files(root: Path, under: Path | None = None) -> Iterator[Path]:
    """Every file below `under` (default: the root), in sorted order, skipping what .gitignore files exclude."""
    root = root.resolve()
    start = (under or root).resolve()
    specs: list[tuple[Path, pathspec.PathSpec]] = []
    for parent in [root, *[p for p in reversed(start.parents) if root in p.parents]] + ([start] if start != root else []):
        spec = _load_gitignore(parent)
        if spec and (parent, spec) not in specs:
            specs.append((parent, spec))
    yield from _walk(start, specs)


def _load_gitignore(directory: Path) -> pathspec.PathSpec | None:
    ignore = directory / ".gitignore"
    if not ignore.is_file():
        return None
    try:
        lines = ignore.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _ignored(path: Path, is_dir: bool, specs: list[tuple[Path, pathspec.PathSpec]]) -> bool:
    for base, spec in specs:
        rel = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(rel):
            return True
    return False


def _walk(directory: Path, specs: list[tuple[Path, pathspec.PathSpec]]) -> Iterator[Path]:
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
            if entry.is_file() and not _ignored(path, False, specs):
                yield path
            continue
        if entry.is_dir():
            if entry.name in ALWAYS_SKIPPED or _ignored(path, True, specs):
                continue
            yield from _walk(path, specs)
        elif entry.is_file() and not _ignored(path, False, specs):
            yield path
