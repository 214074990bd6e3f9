"""Personalized PageRank over the definition/reference graph, toward what the query mentions.

The graph is bipartite in storage (file -> referenced identifier -> defining files), so one power
iteration is two weighted bincounts over the flat arrays; the file-to-file matrix, which can be
huge when a common name is defined in hundreds of files, is never built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from loopwright.repomap.data import Graph
from loopwright.repomap.roles import is_secondary

DAMPING = 0.85
TOLERANCE = 1e-5
"""L1 change between iterations; finer than this does not reorder the top of the map."""
MAX_ITERATIONS = 30
FILE_RANK_SHARE = 0.3
"""How much of a file's own rank is spread over its definitions, so unreferenced ones still order sensibly."""
SECONDARY_WEIGHT = 0.05
"""Tests, fixtures and generated files the query does not point at weigh this much of what code weighs."""
PATH_WORD_WEIGHT = 0.3
PATH_WORD_MAX_FILES = 6
"""A word of the query that is part of at most this many file names (`rle` in `rle_handler.py`) personalizes them."""

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATHLIKE = re.compile(r"[\w\-./\\]+")
_NAME_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
"""Parts of a name: `rle_handler` -> rle, handler; `RLEHandler` -> RLE, Handler."""


@dataclass(frozen=True)
class Ranking:
    items: np.ndarray
    """Definition indices (>= 0) and path-only files (-1 - file number), best first."""
    files: np.ndarray
    """File numbers in the order the map gives them a place: files the query names by path or module
    first, then by score; files without a place in the ranking (score 0) are left out."""
    file_score: np.ndarray
    named_files: frozenset[int]
    mentioned_idents: frozenset[int]


def rank(graph: Graph, idents: list[str], ident_shape: list[float], query: str) -> Ranking:
    """`ident_shape[i]` is identifier i's query-independent weight (see index._shape_weight)."""
    n_files, n_idents = len(graph.paths), len(idents)
    ndefs = np.bincount(graph.def_ident, minlength=n_idents).astype(np.float64)
    named, by_word, pointed = _mentioned_files(graph, query)
    ids = {name: i for i, name in enumerate(idents)}
    mentioned = sorted(i for i in (ids.get(w) for w in set(_WORD.findall(query)) if len(w) >= 3) if i is not None and ndefs[i] > 0)
    emphasis = np.ones(n_idents)
    for i in mentioned:
        emphasis[i] = _emphasis(idents[i])
    demote = np.where(_demoted(graph, n_idents, pointed, mentioned, emphasis), SECONDARY_WEIGHT, 1.0)
    personal = _personalization(graph, n_files, named | by_word, mentioned, ndefs, emphasis, demote, _path_word_files(graph.stems, query))
    weight = _ident_weights(np.asarray(ident_shape, dtype=np.float64), ndefs) * emphasis
    value = np.sqrt(graph.ref_count.astype(np.float64)) * weight[graph.ref_ident]
    x, inflow = _pagerank(graph, n_files, n_idents, value, ndefs, personal)

    file_mass = np.bincount(graph.def_ident, weights=x[graph.def_file], minlength=n_idents)
    share = np.divide(x[graph.def_file], file_mass[graph.def_ident], out=np.zeros(len(graph.def_file)), where=file_mass[graph.def_ident] > 0)
    defs_per_file = np.bincount(graph.def_file, minlength=n_files).astype(np.float64)
    own = FILE_RANK_SHARE * x[graph.def_file] / np.maximum(defs_per_file[graph.def_file], 1.0)
    def_score = (inflow[graph.def_ident] * share + own) * emphasis[graph.def_ident] * demote[graph.def_file]
    file_score = x * demote

    path_only = np.flatnonzero(~graph.has_tags)
    scores = np.concatenate([def_score, FILE_RANK_SHARE * file_score[path_only]])
    item_ids = np.concatenate([np.arange(len(def_score)), -1 - path_only])
    tie_file = np.concatenate([graph.def_file, path_only])
    tie_line = np.concatenate([graph.def_line, np.zeros(len(path_only), dtype=np.int32)])
    order = np.lexsort((tie_line, tie_file, -scores))
    first = np.zeros(n_files)
    first[sorted(named)] = 1.0
    files = np.lexsort((np.arange(n_files), -file_score, -first))
    return Ranking(item_ids[order], files[file_score[files] > 0], file_score, frozenset(named), frozenset(mentioned))


def _demoted(graph: Graph, n_idents: int, pointed_files: set[int], mentioned: list[int], emphasis: np.ndarray) -> np.ndarray:
    """Secondary files (tests, fixtures, generated) the query does not point at: not named, and not the
    only definers of a code-shaped name it mentions (`test_parse_config` points at its test; `parse_config`,
    defined in the code too, does not; nor does a plain word such as `project`)."""
    demoted = graph.secondary.copy()
    if not demoted.any():
        return demoted
    demoted[sorted(pointed_files)] = False
    if mentioned:
        in_code = np.bincount(graph.def_ident[~graph.secondary[graph.def_file]], minlength=n_idents)
        only_secondary = [i for i in mentioned if in_code[i] == 0 and emphasis[i] > 2.0]
        if only_secondary:
            demoted[graph.def_file[np.isin(graph.def_ident, only_secondary)]] = False
    return demoted


def _emphasis(name: str) -> float:
    """How much a mention counts: a code-shaped name is deliberate, a plain lowercase word (`filter`) may be prose."""
    return 10.0 if (name.lower() != name or "_" in name.strip("_") or len(name) >= 12) else 2.0


def _ident_weights(shape: np.ndarray, ndefs: np.ndarray) -> np.ndarray:
    """Names defined everywhere (`get`, `__init__`) say little; specific names say much."""
    weight = np.where(ndefs > 5, 0.1, 1.0) * shape
    weight[ndefs == 0] = 0.0  # references to names defined outside the tree lead nowhere
    return weight


def _personalization(
    graph: Graph, n_files: int, files: set[int], mentioned: list[int], ndefs: np.ndarray, emphasis: np.ndarray, demote: np.ndarray, path_words: dict[int, float]
) -> np.ndarray:
    personal = np.zeros(n_files)
    for number, weight in sorted(path_words.items()):
        personal[number] += weight
    personal[sorted(files)] = 1.0  # a file the query names weighs 1, whatever else matched it
    if mentioned:
        pick = np.isin(graph.def_ident, mentioned)
        chosen = graph.def_ident[pick]
        np.add.at(personal, graph.def_file[pick], emphasis[chosen] / 10.0 / ndefs[chosen])
    personal *= demote
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
    per_def: np.ndarray = np.zeros(n_idents)
    for _ in range(MAX_ITERATIONS):
        per_def = np.bincount(ref_ident, weights=x[ref_file] * coefficient, minlength=n_idents)
        spread = np.bincount(graph.def_file, weights=per_def[graph.def_ident], minlength=n_files)
        following = DAMPING * (spread + x[dangling].sum() * personal) + (1.0 - DAMPING) * personal
        converged = np.abs(following - x).sum() < TOLERANCE
        x = following
        if converged:
            break
    return x, per_def * ndefs


def _mentioned_files(graph: Graph, query: str) -> tuple[set[int], set[int], set[int]]:
    """Files the query names by path, path suffix or dotted module name; files it names by bare stem; and
    of the tests and fixtures among them, those it points at.

    A bare file name that only tests or fixtures have (`pyproject.toml`, `format`) is taken as the user's
    own file, not as pointing at the fixture: such a match counts as a stem match, and does not lift the
    test above the code, unless the name itself is a test's (`test_config.py`).
    """
    paths, by_stem = graph.paths, graph.stems
    named: set[int] = set()
    by_word: set[int] = set()
    pointed: set[int] = set()
    for token in set(_PATHLIKE.findall(query.replace("\\", "/"))):
        token = token.strip("./-")
        if "/" in token or "." in token:
            for number in _path_matches(token, paths, by_stem):
                bare = "/" not in token and paths[number].rsplit("/", 1)[-1] == token
                if bare and graph.secondary[number] and not is_secondary(token):
                    by_word.add(number)
                else:
                    named.add(number)
                    pointed.add(number)
    for word in set(_WORD.findall(query)):
        # A bare word only counts as a file mention when it names few files (`irradiance`, not `utils`).
        if len(word) >= 4 and 0 < len(by_stem.get(word, ())) <= 3:
            by_word.update(by_stem[word])
            if is_secondary(word + ".py"):
                pointed.update(by_stem[word])
    return named, by_word, pointed


def _path_word_files(by_stem: dict[str, list[int]], query: str) -> dict[int, float]:
    """Files whose name has a word of the query as one of its parts (`RLE` and `rle_handler.py`), weighted
    down by how many files share that part; words in many names (`data`, `test`) count for nothing."""
    words = {word.lower() for word in _NAME_PART.findall(query) if len(word) >= 3}
    if not words:
        return {}
    holders: dict[str, list[int]] = {}
    for stem, numbers in by_stem.items():
        parts = {part.lower() for part in _NAME_PART.findall(stem)}
        for part in sorted(parts & words):  # a fixed order: float sums must not depend on the hash seed
            holders.setdefault(part, []).extend(numbers)
    found: dict[int, float] = {}
    for numbers in holders.values():
        if len(numbers) <= PATH_WORD_MAX_FILES:
            for number in numbers:
                found[number] = found.get(number, 0.0) + PATH_WORD_WEIGHT / len(numbers)
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
