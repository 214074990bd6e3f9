"""Personalized PageRank over the definition/reference graph, toward what the query mentions.

The graph is bipartite in storage (file -> referenced identifier -> defining files), so one power
iteration is two weighted bincounts over the flat arrays; the file-to-file matrix, which can be
huge when a common name is defined in hundreds of files, is never built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from loopwright.repomap.index import Graph

DAMPING = 0.85
TOLERANCE = 1e-5
"""L1 change between iterations; finer than this does not reorder the top of the map."""
MAX_ITERATIONS = 30
FILE_RANK_SHARE = 0.3
"""How much of a file's own rank is spread over its definitions, so unreferenced ones still order sensibly."""

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATHLIKE = re.compile(r"[\w\-./\\]+")


@dataclass(frozen=True)
class Ranking:
    items: np.ndarray
    """Definition indices (>= 0) and path-only files (-1 - file number), best first."""
    file_rank: np.ndarray
    mentioned_files: frozenset[int]
    mentioned_idents: frozenset[int]


def rank(graph: Graph, idents: list[str], ident_shape: list[float], query: str) -> Ranking:
    """`ident_shape[i]` is identifier i's query-independent weight (see index._shape_weight)."""
    n_files, n_idents = len(graph.paths), len(idents)
    ndefs = np.bincount(graph.def_ident, minlength=n_idents).astype(np.float64)
    files = _mentioned_files(graph.paths, graph.stems, query)
    ids = {name: i for i, name in enumerate(idents)}
    mentioned = sorted(i for i in (ids.get(w) for w in set(_WORD.findall(query)) if len(w) >= 3) if i is not None and ndefs[i] > 0)
    emphasis = np.ones(n_idents)
    for i in mentioned:
        emphasis[i] = _emphasis(idents[i])
    personal = _personalization(graph, n_files, files, mentioned, ndefs, emphasis)
    weight = _ident_weights(np.asarray(ident_shape, dtype=np.float64), ndefs) * emphasis
    value = np.sqrt(graph.ref_count.astype(np.float64)) * weight[graph.ref_ident]
    x, inflow = _pagerank(graph, n_files, n_idents, value, ndefs, personal)

    file_mass = np.bincount(graph.def_ident, weights=x[graph.def_file], minlength=n_idents)
    share = np.divide(x[graph.def_file], file_mass[graph.def_ident], out=np.zeros(len(graph.def_file)), where=file_mass[graph.def_ident] > 0)
    defs_per_file = np.bincount(graph.def_file, minlength=n_files).astype(np.float64)
    own = FILE_RANK_SHARE * x[graph.def_file] / np.maximum(defs_per_file[graph.def_file], 1.0)
    def_score = (inflow[graph.def_ident] * share + own) * emphasis[graph.def_ident]

    path_only = np.flatnonzero(~graph.has_tags)
    scores = np.concatenate([def_score, FILE_RANK_SHARE * x[path_only]])
    item_ids = np.concatenate([np.arange(len(def_score)), -1 - path_only])
    tie_file = np.concatenate([graph.def_file, path_only])
    tie_line = np.concatenate([graph.def_line, np.zeros(len(path_only), dtype=np.int32)])
    order = np.lexsort((tie_line, tie_file, -scores))
    return Ranking(item_ids[order], x, frozenset(files), frozenset(mentioned))


def _emphasis(name: str) -> float:
    """How much a mention counts: a code-shaped name is deliberate, a plain lowercase word (`filter`) may be prose."""
    return 10.0 if (name.lower() != name or "_" in name.strip("_") or len(name) >= 12) else 2.0


def _ident_weights(shape: np.ndarray, ndefs: np.ndarray) -> np.ndarray:
    """Names defined everywhere (`get`, `__init__`) say little; specific names say much."""
    weight = np.where(ndefs > 5, 0.1, 1.0) * shape
    weight[ndefs == 0] = 0.0  # references to names defined outside the tree lead nowhere
    return weight


def _personalization(graph: Graph, n_files: int, files: set[int], mentioned: list[int], ndefs: np.ndarray, emphasis: np.ndarray) -> np.ndarray:
    personal = np.zeros(n_files)
    for number in files:
        personal[number] += 1.0
    if mentioned:
        pick = np.isin(graph.def_ident, mentioned)
        chosen = graph.def_ident[pick]
        np.add.at(personal, graph.def_file[pick], emphasis[chosen] / 10.0 / ndefs[chosen])
    total = personal.sum()
    if total <= 0:
        return np.full(n_files, 1.0 / max(n_files, 1))
    return personal / total


def _pagerank(graph: Graph, n_files: int, n_idents: int, value: np.ndarray, ndefs: np.ndarray, personal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """File ranks, and the total rank that flowed into each identifier (later shared by its definitions)."""
    live = value > 0  # references to names defined nowhere in the tree carry no rank: drop them up front
    ref_file, ref_ident, value = graph.ref_file[live], graph.ref_ident[live], value[live]
    out = np.bincount(ref_file, weights=value * ndefs[ref_ident], minlength=n_files)
    coefficient = value / out[ref_file]
    dangling = out <= 0
    x = personal.copy()
    per_def = np.zeros(n_idents)
    for _ in range(MAX_ITERATIONS):
        per_def = np.bincount(ref_ident, weights=x[ref_file] * coefficient, minlength=n_idents)
        spread = np.bincount(graph.def_file, weights=per_def[graph.def_ident], minlength=n_files)
        following = DAMPING * (spread + x[dangling].sum() * personal) + (1.0 - DAMPING) * personal
        converged = np.abs(following - x).sum() < TOLERANCE
        x = following
        if converged:
            break
    return x, per_def * ndefs


def _mentioned_files(paths: list[str], by_stem: dict[str, list[int]], query: str) -> set[int]:
    """Files named in the query by path, by path suffix, by dotted module name, or by their bare stem."""
    found: set[int] = set()
    words = set(_WORD.findall(query))
    for token in set(_PATHLIKE.findall(query.replace("\\", "/"))):
        token = token.strip("./-")
        if "/" in token or "." in token:
            found |= _path_matches(token, paths, by_stem)
    for word in words:
        # A bare word only counts as a file mention when it names few files (`irradiance`, not `utils`).
        if len(word) >= 4 and 0 < len(by_stem.get(word, ())) <= 3:
            found.update(by_stem[word])
    return found


def _path_matches(token: str, paths: list[str], by_stem: dict[str, list[int]]) -> set[int]:
    parts = [p for p in token.split("/") if p]
    candidates: list[str] = []
    if parts:
        candidates.append("/".join(parts))
    dotted = token.split(".")
    if "/" not in token and len(dotted) >= 2:
        # A module path: a.b.c may be a/b/c.<ext>, a/b/c/__init__.<ext>, or attribute c of a/b.<ext>.
        for cut in range(len(dotted), 1, -1):
            candidates.append("/".join(dotted[:cut]))
    found: set[int] = set()
    for candidate in candidates:
        last = candidate.rsplit("/", 1)[-1]
        stem = last.split(".", 1)[0] or last
        for number in by_stem.get(stem, ()):
            path = paths[number]
            bare = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
            for form in (path, bare, bare.removesuffix("/__init__")):
                if form == candidate or form.endswith("/" + candidate):
                    found.add(number)
        for number in by_stem.get("__init__", ()) if "/" in candidate or "." not in last else ():
            bare = paths[number].rsplit("/", 1)[0]
            if bare == candidate or bare.endswith("/" + candidate):
                found.add(number)
    return found
