"""The repository's tags and its definition/reference graph, kept up to date incrementally.

Tags are stored by content key, so a file is parsed again only when its bytes change; the graph
arrays are rebuilt from the stored tags (cheap, vectorised) only when some file changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from loopwright.repomap import store as store_io
from loopwright.repomap.changes import FileState, scan
from loopwright.repomap.languages import language_for, looks_binary
from loopwright.repomap.tags import FileTags, extract_batch

Progress = Callable[[int, int], None]

PATH_ONLY = "path"
BINARY = "binary"
PARALLEL_MIN_FILES = 48
BATCH_SIZE = 24


@dataclass
class Tags:
    """One file's tags with identifiers interned: parallel int arrays, cheap to pickle and to concatenate."""

    def_ident: np.ndarray
    def_rows: np.ndarray
    """(n, 3): first line, last signature line, parent definition index within the file (-1: none)."""
    ref_ident: np.ndarray
    ref_count: np.ndarray


@dataclass
class Graph:
    """Every file of the tree and the def/ref relation between them, as flat arrays."""

    paths: list[str]
    has_tags: np.ndarray
    ref_file: np.ndarray
    ref_ident: np.ndarray
    ref_count: np.ndarray
    def_file: np.ndarray
    def_ident: np.ndarray
    def_line: np.ndarray
    def_signature_end: np.ndarray
    def_parent: np.ndarray
    """Global index of the enclosing definition, or -1."""


@dataclass
class Store:
    """What persists between runs, under .loopwright/ in the repository."""

    fingerprint: str
    files: dict[str, FileState] = field(default_factory=dict)
    tags: dict[str, Tags | str] = field(default_factory=dict)
    """Content key -> tags, or PATH_ONLY / BINARY for files without a grammar."""
    idents: list[str] = field(default_factory=list)
    graph: Graph | None = None


class RepoIndex:
    """Open with `RepoIndex.open(root)`; it scans, parses what changed, and saves the cache."""

    def __init__(self, root: Path, store: Store, reparsed: list[str]) -> None:
        self.root = root
        self.store = store
        self.reparsed = reparsed
        """Paths parsed by this open (the others came from the cache)."""
        assert store.graph is not None
        self.graph: Graph = store.graph
        self.idents = store.idents

    @classmethod
    def open(cls, root: Path, progress: Progress | None = None, workers: int | None = None) -> RepoIndex:
        root = root.resolve()
        store = store_io.load(root)
        files = scan(root, store.files)
        pending = sorted(path for path, state in files.items() if state.key not in store.tags)
        reparsed = _fill(root, store, files, pending, progress, workers)
        changed = bool(pending) or files.keys() != store.files.keys() or store.graph is None or any(
            store.files[p].key != s.key for p, s in files.items()
        )
        store.files = files
        if changed:
            live = {state.key for state in files.values()}
            store.tags = {key: value for key, value in store.tags.items() if key in live}
            store.graph = _build_graph(files, store.tags)
            store_io.save(root, store)
        elif any(store.files[p] is not s for p, s in files.items()):
            store_io.save(root, store)  # only stat data moved (a touched file): keep the next scan cheap
        return cls(root, store, reparsed)


def _fill(root: Path, store: Store, files: dict[str, FileState], pending: list[str], progress: Progress | None, workers: int | None) -> list[str]:
    """Classifies and parses the files whose content key is new; returns the paths that were read again."""
    jobs: dict[str, list[str]] = {}
    for path in pending:
        key = files[path].key
        if key in jobs:
            jobs[key].append(path)
            continue
        if key in store.tags:
            continue
        language = language_for(path)
        if looks_binary(path):
            store.tags[key] = BINARY
        elif language is None or key.startswith("stat:"):
            store.tags[key] = _text_or_binary(root / path)
        else:
            jobs[key] = [path]
    keys = list(jobs)
    batch = [(str(root / jobs[key][0]), language_for(jobs[key][0]) or "") for key in keys]
    results = _parse_all(batch, progress, workers)
    index = {name: i for i, name in enumerate(store.idents)}
    for key, result in zip(keys, results, strict=True):
        store.tags[key] = _intern(result, store.idents, index) if result is not None else PATH_ONLY
    return pending


def _text_or_binary(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            head = handle.read(8192)
    except OSError:
        return BINARY
    return BINARY if b"\x00" in head else PATH_ONLY


def _parse_all(batch: list[tuple[str, str]], progress: Progress | None, workers: int | None) -> list[FileTags | None]:
    total = len(batch)
    if progress and total:
        progress(0, total)
    workers = workers or os.cpu_count() or 1
    if workers == 1 or total < PARALLEL_MIN_FILES:
        results = []
        for start in range(0, total, BATCH_SIZE):
            results.extend(extract_batch(batch[start : start + BATCH_SIZE]))
            if progress:
                progress(len(results), total)
        return results
    chunks = [batch[start : start + BATCH_SIZE] for start in range(0, total, BATCH_SIZE)]
    out: list[list[FileTags | None] | None] = [None] * len(chunks)
    done = 0
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
        futures = {pool.submit(extract_batch, chunk): i for i, chunk in enumerate(chunks)}
        for future in as_completed(futures):
            i = futures[future]
            out[i] = future.result()
            done += len(chunks[i])
            if progress:
                progress(done, total)
    return [tags for chunk_result in out for tags in (chunk_result or [])]


def _intern(tags: FileTags, idents: list[str], index: dict[str, int]) -> Tags:
    def ident_id(name: str) -> int:
        found = index.get(name)
        if found is None:
            found = index[name] = len(idents)
            idents.append(name)
        return found

    defs = tags.definitions
    return Tags(
        def_ident=np.array([ident_id(d.name) for d in defs], dtype=np.int32),
        def_rows=np.array([(d.line, d.signature_end, d.parent) for d in defs], dtype=np.int32).reshape(-1, 3),
        ref_ident=np.array([ident_id(name) for name in tags.references], dtype=np.int32),
        ref_count=np.array(list(tags.references.values()), dtype=np.float32),
    )


def _build_graph(files: dict[str, FileState], tags: dict[str, Tags | str]) -> Graph:
    paths = sorted(path for path, state in files.items() if tags.get(state.key, BINARY) != BINARY)
    has_tags = np.zeros(len(paths), dtype=bool)
    refs_f, refs_i, refs_c, defs_f, defs_i, defs_rows, parent_offsets = [], [], [], [], [], [], []
    offset = 0
    for number, path in enumerate(paths):
        entry = tags[files[path].key]
        if not isinstance(entry, Tags):
            continue
        has_tags[number] = True
        refs_f.append(np.full(len(entry.ref_ident), number, dtype=np.int32))
        refs_i.append(entry.ref_ident)
        refs_c.append(entry.ref_count)
        count = len(entry.def_ident)
        defs_f.append(np.full(count, number, dtype=np.int32))
        defs_i.append(entry.def_ident)
        defs_rows.append(entry.def_rows)
        parent_offsets.append(np.full(count, offset, dtype=np.int32))
        offset += count

    def cat(parts: list[np.ndarray], dtype) -> np.ndarray:
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)

    rows = np.concatenate(defs_rows) if defs_rows else np.zeros((0, 3), dtype=np.int32)
    local_parent = rows[:, 2]
    parent = np.where(local_parent >= 0, local_parent + cat(parent_offsets, np.int32), -1).astype(np.int32)
    return Graph(
        paths=paths,
        has_tags=has_tags,
        ref_file=cat(refs_f, np.int32),
        ref_ident=cat(refs_i, np.int32),
        ref_count=cat(refs_c, np.float32),
        def_file=cat(defs_f, np.int32),
        def_ident=cat(defs_i, np.int32),
        def_line=rows[:, 0].copy(),
        def_signature_end=rows[:, 1].copy(),
        def_parent=parent,
    )
