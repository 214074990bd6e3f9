"""The repository's tags and its definition/reference graph, kept up to date incrementally.

Tags are stored by content key and the kind of file a path names (its grammar, a binary extension, or
text), so a file is parsed again only when its bytes change; the graph arrays are rebuilt from the stored
tags (cheap, vectorised) only when some file changed. An update keeps exactly what a build from nothing
would make: tests/test_repomap_incremental.py checks that over random edit sequences.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loopwright.repomap import store as store_io
from loopwright.repomap.changes import FileState, scan
from loopwright.repomap.data import Graph, Store
from loopwright.repomap.languages import language_for, looks_binary
from loopwright.repomap.roles import secondary_mask
from loopwright.repomap.tags import FileTags, extract_batch

Progress = Callable[[int, int], None]

PATH_ONLY = "path"
BINARY = "binary"
PARALLEL_MIN_FILES = 48
BATCH_SIZE = 24
_NO_STATE = FileState("")


@dataclass
class Tags:
    """One file's tags with identifiers interned: parallel int arrays."""

    def_ident: np.ndarray
    def_rows: np.ndarray
    """(n, 3): first line, last signature line, parent definition index within the file (-1: none)."""
    ref_ident: np.ndarray
    ref_count: np.ndarray


class RepoIndex:
    """Open with `RepoIndex.open(root)`; it scans, parses what changed, and saves the cache."""

    def __init__(self, root: Path, store: Store, reparsed: list[str]) -> None:
        assert store.graph is not None
        self.root = root
        self.graph: Graph = store.graph
        self.idents = store.idents
        self.ident_shape = store.ident_shape
        self.reparsed = reparsed
        """Paths read again by this open because their content is new to the cache."""

    @classmethod
    def open(cls, root: Path, progress: Progress | None = None, workers: int | None = None) -> RepoIndex:
        root = root.resolve()
        store = store_io.load(root)
        before = store.files
        files, stamps = scan(root, before, store.stamps)
        changed = [path for path, state in files.items() if (before.get(path) or _NO_STATE).key != state.key]
        slots = {path: slot(path, state.key) for path, state in files.items()}
        old = store.graph
        if old is not None and not changed and len(files) == len(before):
            if stamps != store.stamps or any(before[path] != state for path, state in files.items()):
                store.files, store.stamps = files, stamps
                store_io.save(root, store)  # a touched file: saving its new stat spares hashing it next time
            return cls(root, store, [])
        known = {key: number for number, key in enumerate(old.keys)} if old is not None else {}
        pending = sorted(path for path in changed if slots[path] not in known and slots[path] not in store.kinds)
        parsed = _fill(root, store, slots, pending, progress, workers)
        store.files, store.stamps = files, stamps
        store.graph = _build_graph(slots, store.kinds, old, known, parsed)
        live = set(slots.values())
        store.kinds = {key: kind for key, kind in store.kinds.items() if key in live}
        store_io.save(root, store)
        return cls(root, store, pending)


def slot(path: str, key: str) -> str:
    """What a file's tags are stored under: its content key and what its name says about it. Two files with
    the same bytes share tags only when they are read the same way (an empty `__init__.py` has tags, an
    empty `README.md` has none)."""
    kind = language_for(path) or (BINARY if looks_binary(path) else "")
    return f"{kind}:{key}"


def _fill(root: Path, store: Store, slots: dict[str, str], pending: list[str], progress: Progress | None, workers: int | None) -> dict[str, Tags]:
    """Classifies the files whose slot is new and parses those with a grammar."""
    jobs: dict[str, str] = {}  # slot -> one path with that content
    unknown: dict[str, str] = {}  # files without a grammar: text or binary, to be told by their first bytes
    for path in pending:
        key = slots[path]
        if key in jobs or key in unknown or key in store.kinds:
            continue
        if looks_binary(path):
            store.kinds[key] = BINARY
        elif language_for(path) is None or key.partition(":")[2].startswith("stat:"):
            unknown[key] = path
        else:
            jobs[key] = path

    def classify() -> None:
        for key, path in unknown.items():
            store.kinds[key] = _text_or_binary(root / path)

    keys = list(jobs)
    total, classified = len(pending), len(pending) - len(jobs)  # copies of one content are parsed once

    def report(parsed_so_far: int) -> None:
        if progress is not None and total:
            progress(classified + parsed_so_far, total)

    report(0)
    results = _parse_all([(str(root / jobs[key]), language_for(jobs[key]) or "") for key in keys], report, workers, classify)
    index = {name: i for i, name in enumerate(store.idents)}
    parsed: dict[str, Tags] = {}
    for key, result in zip(keys, results, strict=True):
        if result is None:  # unreadable, binary despite its name, minified or huge
            store.kinds[key] = _text_or_binary(root / jobs[key])
        else:
            parsed[key] = _intern(result, store, index)
    return parsed


def _text_or_binary(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            head = handle.read(8192)
    except OSError:
        return BINARY
    return BINARY if b"\x00" in head else PATH_ONLY


def _parse_all(batch: list[tuple[str, str]], report: Callable[[int], None], workers: int | None, meanwhile: Callable[[], None]) -> list[FileTags | None]:
    """Tags for each (path, language), in order; `report` gets the number of files done so far.
    `meanwhile` runs in this process while the workers parse."""
    total = len(batch)
    workers = workers or os.cpu_count() or 1
    if workers == 1 or total < PARALLEL_MIN_FILES:
        meanwhile()
        results = []
        for start in range(0, total, BATCH_SIZE):
            results.extend(extract_batch(batch[start : start + BATCH_SIZE]))
            report(len(results))
        return results
    chunks = [batch[start : start + BATCH_SIZE] for start in range(0, total, BATCH_SIZE)]
    out: list[list[FileTags | None]] = [[] for _ in chunks]
    done = 0
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
        futures = {pool.submit(extract_batch, chunk): i for i, chunk in enumerate(chunks)}
        meanwhile()
        for future in as_completed(futures):
            i = futures[future]
            out[i] = future.result()
            done += len(chunks[i])
            report(done)
    return [tags for chunk_result in out for tags in chunk_result]


def _intern(tags: FileTags, store: Store, index: dict[str, int]) -> Tags:
    def ident_id(name: str) -> int:
        found = index.get(name)
        if found is None:
            found = index[name] = len(store.idents)
            store.idents.append(name)
            store.ident_shape.append(_shape_weight(name))
        return found

    defs = tags.definitions
    return Tags(
        def_ident=np.array([ident_id(d.name) for d in defs], dtype=np.int32),
        def_rows=np.array([(d.line, d.signature_end, d.parent) for d in defs], dtype=np.int32).reshape(-1, 3),
        ref_ident=np.array([ident_id(name) for name in tags.references], dtype=np.int32),
        ref_count=np.array(list(tags.references.values()), dtype=np.float32),
    )


def _shape_weight(name: str) -> float:
    """Private names say little about structure; long specific names (snake_case, camelCase) say much."""
    if name.startswith("_"):
        return 0.1
    if len(name) >= 8 and ("_" in name or (name.lower() != name and name.upper() != name)):
        return 10.0
    return 1.0


def _build_graph(slots: dict[str, str], kinds: dict[str, str], old: Graph | None, known: dict[str, int], parsed: dict[str, Tags]) -> Graph:
    """The graph of the current files: unchanged files' rows are gathered from the old graph in bulk."""
    paths = sorted(path for path, key in slots.items() if kinds.get(key) != BINARY)
    keys = [slots[path] for path in paths]
    source = np.full(len(paths), -1, dtype=np.int64)  # old file number whose rows a file reuses
    fresh: list[tuple[int, Tags]] = []
    for number, key in enumerate(keys):
        if key in parsed:
            fresh.append((number, parsed[key]))
        elif old is not None and key in known:
            source[number] = known[key]
    copied = np.flatnonzero(source >= 0)
    empty_i, empty_f = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    if old is not None and len(copied):
        ref_rows, ref_sizes = _rows(old.ref_offsets, source[copied])
        def_rows, def_sizes = _rows(old.def_offsets, source[copied])
        old_parent = old.def_parent[def_rows]
        old_local = np.where(old_parent >= 0, old_parent - old.def_offsets[old.def_file[def_rows]], -1)
        ref_parts: list[tuple[np.ndarray, ...]] = [(np.repeat(copied, ref_sizes), old.ref_ident[ref_rows], old.ref_count[ref_rows])]
        def_parts: list[tuple[np.ndarray, ...]] = [(np.repeat(copied, def_sizes), old.def_ident[def_rows], old.def_line[def_rows], old.def_signature_end[def_rows], old_local)]
    else:
        ref_parts, def_parts = [], []
    for number, tags in fresh:
        ref_parts.append((np.full(len(tags.ref_ident), number), tags.ref_ident, tags.ref_count))
        rows = tags.def_rows
        def_parts.append((np.full(len(tags.def_ident), number), tags.def_ident, rows[:, 0], rows[:, 1], rows[:, 2]))
    ref_columns = _grouped(ref_parts, (np.int32, np.int32, np.float32), (empty_i, empty_i, empty_f))
    def_columns = _grouped(def_parts, (np.int32,) * 5, (empty_i,) * 5)
    ref_file, def_file = ref_columns[0], def_columns[0]
    ref_offsets = np.concatenate([[0], np.cumsum(np.bincount(ref_file, minlength=len(paths)))]).astype(np.int64)
    def_offsets = np.concatenate([[0], np.cumsum(np.bincount(def_file, minlength=len(paths)))]).astype(np.int64)
    has_tags = np.zeros(len(paths), dtype=bool)
    if old is not None and len(copied):
        has_tags[copied] = old.has_tags[source[copied]]  # a docs or config file carried over still has no tags
    has_tags[[number for number, _ in fresh]] = True
    local_parent = def_columns[4]
    return Graph(
        paths=paths,
        keys=keys,
        has_tags=has_tags,
        secondary=secondary_mask(paths),
        ref_offsets=ref_offsets,
        ref_file=ref_file,
        ref_ident=ref_columns[1],
        ref_count=ref_columns[2],
        def_offsets=def_offsets,
        def_file=def_file,
        def_ident=def_columns[1],
        def_line=def_columns[2],
        def_signature_end=def_columns[3],
        def_parent=np.where(local_parent >= 0, local_parent + def_offsets[def_file], -1).astype(np.int32),
        stems=_stems(paths),
    )


def _rows(offsets: np.ndarray, files: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the given files' groups, concatenated in order, and each group's size."""
    starts, sizes = offsets[files], offsets[files + 1] - offsets[files]
    total = int(sizes.sum())
    group_start = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return np.arange(total, dtype=np.int64) - group_start + np.repeat(starts, sizes), sizes


def _grouped(parts: list[tuple[np.ndarray, ...]], dtypes: tuple, empty: tuple) -> list[np.ndarray]:
    """Columns concatenated and stably ordered by their first column (the file number)."""
    if not parts:
        return list(empty)
    columns = [np.concatenate([part[i] for part in parts]).astype(dtype, copy=False) for i, dtype in enumerate(dtypes)]
    order = np.argsort(columns[0], kind="stable")
    return [column[order] for column in columns]


def _stems(paths: list[str]) -> dict[str, list[int]]:
    stems: dict[str, list[int]] = {}
    for number, path in enumerate(paths):
        name = path.rpartition("/")[2]
        stems.setdefault(name.split(".", 1)[0] if not name.startswith(".") else name, []).append(number)
    return stems
