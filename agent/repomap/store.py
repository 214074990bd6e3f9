"""The on-disk cache: one file per repository in its state folder (see statedir), written atomically.

The cache is data, never code: a numpy `.npz` archive read with `allow_pickle=False`, holding the graph's
integer arrays and one JSON document for everything else. It lives outside the workspace, so the sandbox
cannot write it, and nothing a file could contain is ever executed by loading it. Anything that fails to
load or does not fit together (older format, other query files, a torn write) means an empty store.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from loopwright import statedir
from loopwright.repomap.changes import FileState
from loopwright.repomap.data import Graph, Store
from loopwright.repomap.languages import queries_fingerprint

FORMAT = 4
"""Bumped whenever the stored shape changes, or what is derived when storing (such as roles.py's rules)."""
CACHE_FILE = "index.npz"
_META = "meta"


def cache_path(root: Path) -> Path:
    return statedir.folder(root, "repomap") / CACHE_FILE


def fingerprint() -> str:
    return f"{FORMAT}:{queries_fingerprint()}"


def load(root: Path) -> Store:
    try:
        with np.load(cache_path(root), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        store = _from_data(json.loads(arrays.pop(_META).tobytes().decode("utf-8")), arrays)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile, UnicodeDecodeError):
        return Store(fingerprint())
    return store if store.fingerprint == fingerprint() else Store(fingerprint())


def save(root: Path, store: Store) -> None:
    """Best effort: without a writable state folder the map still works, only without the cache."""
    try:
        directory = cache_path(root).parent
        meta, arrays = _to_data(store)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".index-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                payload: dict[str, Any] = {_META: np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8), **arrays}
                np.savez(handle, **payload)
            os.replace(temporary, directory / CACHE_FILE)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        return


def _to_data(store: Store) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    meta: dict[str, Any] = {
        "fingerprint": store.fingerprint,
        "files": {path: list(state) for path, state in store.files.items()},
        "kinds": store.kinds,
        "idents": store.idents,
        "ident_shape": store.ident_shape,
        "stamps": store.stamps,
        "graph": None,
    }
    arrays: dict[str, np.ndarray] = {}
    if store.graph is not None:
        plain = {}
        for field in dataclasses.fields(store.graph):
            value = getattr(store.graph, field.name)
            if isinstance(value, np.ndarray):
                arrays[f"graph.{field.name}"] = value
            else:
                plain[field.name] = value
        meta["graph"] = plain
    return meta, arrays


def _from_data(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Store:
    store = Store(
        fingerprint=str(meta["fingerprint"]),
        files={str(path): FileState(str(key), int(size), int(mtime)) for path, (key, size, mtime) in meta["files"].items()},
        kinds={str(key): str(kind) for key, kind in meta["kinds"].items()},
        idents=[str(name) for name in meta["idents"]],
        ident_shape=[float(weight) for weight in meta["ident_shape"]],
        stamps={str(folder): int(mtime) for folder, mtime in meta["stamps"].items()},
    )
    if len(store.idents) != len(store.ident_shape):
        raise ValueError("identifiers and their weights differ in number")
    if meta["graph"] is not None:
        store.graph = _graph(meta["graph"], arrays, len(store.idents))
    return store


def _graph(plain: dict[str, Any], arrays: dict[str, np.ndarray], ident_count: int) -> Graph:
    values: dict[str, Any] = {}
    for field in dataclasses.fields(Graph):
        if f"graph.{field.name}" in arrays:
            array = arrays[f"graph.{field.name}"]
            if array.dtype.kind not in "iubf":
                raise ValueError(f"{field.name}: not a numeric array")
            values[field.name] = array
        else:
            values[field.name] = plain[field.name]
    graph = Graph(**values)
    files = len(graph.paths)
    refs, defs = len(graph.ref_file), len(graph.def_file)
    consistent = (
        len(graph.keys) == files == len(graph.has_tags) == len(graph.secondary) == len(graph.ref_offsets) - 1 == len(graph.def_offsets) - 1
        and len(graph.ref_ident) == len(graph.ref_count) == refs
        and len(graph.def_ident) == len(graph.def_line) == len(graph.def_signature_end) == len(graph.def_parent) == defs
        and all(_within(array, bound) for array, bound in ((graph.ref_file, files), (graph.def_file, files), (graph.ref_ident, ident_count), (graph.def_ident, ident_count)))
        and all(0 <= number < files for numbers in graph.stems.values() for number in numbers)
    )
    if not consistent:
        raise ValueError("the stored graph does not fit together")
    return graph


def _within(array: np.ndarray, bound: int) -> bool:
    return not array.size or (int(array.min()) >= 0 and int(array.max()) < bound)
