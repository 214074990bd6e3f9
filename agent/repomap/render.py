"""The map as text: top-ranked files with their best definitions, then more definitions, within a token budget.

Each definition shows its signature lines (bodies elided) with line numbers, plus the lines of the
definitions that enclose it, so a method is never shown without its class.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from loopwright.repomap.data import Graph
from loopwright.repomap.rank import Ranking

CHARS_PER_TOKEN = 4
"""Token estimate: about four characters per token, the usual figure for English and code on BPE tokenizers."""
MAX_LINE_CHARS = 160
LOOKAHEAD_AFTER_FULL = 400
"""After the first item that does not fit, how many more are tried: a shorter one further down may still fit."""
PLACES_SHARE = 0.5
"""Share of the budget that goes to places (a path and its best definitions) before any file gets details."""
PLACE_DEFINITIONS = 2
MIN_PLACE_CHARS = 24
"""No place is shorter than this: it bounds how many files the places pass has to look at."""
LINE_MARK = "│"


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class _Sources:
    """File lines, read on first use (only the files whose definitions are candidates)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lines: dict[int, list[str]] = {}

    def get(self, graph: Graph, number: int) -> list[str]:
        if number not in self.lines:
            try:
                text = (self.root / graph.paths[number]).read_bytes().decode("utf-8", errors="replace")
            except OSError:
                text = ""
            self.lines[number] = text.splitlines()
        return self.lines[number]


def _format(line: int, text: str) -> str:
    text = text.rstrip()
    if len(text) > MAX_LINE_CHARS:
        text = text[: MAX_LINE_CHARS - 1] + "…"
    return f"{line + 1:>5}{LINE_MARK}{text}\n"


def render(root: Path, graph: Graph, ranking: Ranking, tokens: int) -> str:
    """Places first, then details, never over `tokens` (estimated).

    A place is a file's path and its best definitions, given to files in ranking order until
    PLACES_SHARE of the budget is used: a big file whose rank is spread over hundreds of definitions
    still gets one, ahead of small files that would otherwise fill the map one definition each.
    Details are then taken best first by definition score, in the files already shown or in new ones.
    """
    budget = tokens * CHARS_PER_TOKEN
    fill = _Fill(_Sources(root), graph, budget)
    _places(fill, graph, ranking, PLACES_SHARE * budget)
    for item in ranking.items.tolist():
        if fill.misses > LOOKAHEAD_AFTER_FULL or budget - fill.used < 8:
            break
        if item < 0:
            fill.add_path(-1 - item)
        else:
            fill.add_definition(item)
    return fill.text()


def _places(fill: _Fill, graph: Graph, ranking: Ranking, share: float) -> None:
    candidates = ranking.files[: max(int(share // MIN_PLACE_CHARS), 1)]
    best = _best_definitions(graph, ranking.items, candidates)
    for number in candidates.tolist():
        if fill.used >= share or fill.misses > LOOKAHEAD_AFTER_FULL:
            return
        items = best.get(number)
        if not items:
            fill.add_path(number)
            continue
        for item in items:
            if fill.add_definition(item) is False:
                break


def _best_definitions(graph: Graph, items: np.ndarray, files: np.ndarray) -> dict[int, list[int]]:
    """The PLACE_DEFINITIONS best-ranked definitions of each of `files`."""
    definitions = items[items >= 0]
    picked = definitions[np.isin(graph.def_file[definitions], files)]
    best: dict[int, list[int]] = {}
    for item, number in zip(picked.tolist(), graph.def_file[picked].tolist(), strict=True):
        found = best.setdefault(number, [])
        if len(found) < PLACE_DEFINITIONS:
            found.append(item)
    return best


class _Fill:
    """The map being filled: chosen lines per file, in the order files first appeared, within the budget."""

    def __init__(self, sources: _Sources, graph: Graph, budget: int) -> None:
        self.sources, self.graph, self.budget = sources, graph, budget
        self.chosen: dict[int, dict[int, str]] = {}  # file -> line -> formatted line
        self.path_only: set[int] = set()
        self.order: list[int] = []
        self.used = 0
        self.misses = 0
        """Items that did not fit; after LOOKAHEAD_AFTER_FULL of them the map is taken as full."""

    def add_path(self, number: int) -> bool | None:
        if number in self.path_only or number in self.chosen:
            return None
        cost = len(self.graph.paths[number]) + 1
        if self.used + cost > self.budget:
            self.misses += 1
            return False
        self.path_only.add(number)
        self.order.append(number)
        self.used += cost
        return True

    def add_definition(self, item: int) -> bool | None:
        """True when added, False when it did not fit, None when it adds nothing (already shown, or no lines)."""
        number = int(self.graph.def_file[item])
        if number in self.path_only:
            return None
        new_lines = _lines_for(self.graph, self.sources, item, self.chosen.get(number, {}))
        if not new_lines:
            return None
        cost = sum(len(text) for text in new_lines.values())
        if number not in self.chosen:
            cost += len(self.graph.paths[number]) + 2
        if self.used + cost > self.budget:
            self.misses += 1
            return False
        if number not in self.chosen:
            self.chosen[number] = {}
            self.order.append(number)
        self.chosen[number].update(new_lines)
        self.used += cost
        return True

    def text(self) -> str:
        return _assemble(self.graph, self.order, self.chosen, self.path_only)


def _lines_for(graph: Graph, sources: _Sources, item: int, present: dict[int, str]) -> dict[int, str]:
    """Formatted lines this definition adds: its signature and any enclosing definitions' first lines."""
    lines = sources.get(graph, int(graph.def_file[item]))
    wanted: dict[int, str] = {}
    current = item
    first = True
    while current >= 0:
        start = int(graph.def_line[current])
        end = int(graph.def_signature_end[current]) if first else start
        for row in range(start, min(end, len(lines) - 1) + 1):
            if row not in present:
                wanted[row] = _format(row, lines[row])
        first = False
        current = int(graph.def_parent[current])
    return wanted


def _assemble(graph: Graph, order: list[int], chosen: dict[int, dict[int, str]], path_only: set[int]) -> str:
    parts: list[str] = []
    for number in order:
        if number in path_only:
            parts.append(graph.paths[number] + "\n")
            continue
        parts.append(graph.paths[number] + ":\n")
        lines = chosen[number]
        parts.extend(lines[row] for row in sorted(lines))
    return "".join(parts)
