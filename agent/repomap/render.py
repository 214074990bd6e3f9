"""The map as text: the best-ranked definitions, grouped by file, within a token budget.

Each definition shows its signature lines (bodies elided) with line numbers, plus the lines of the
definitions that enclose it, so a method is never shown without its class.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from loopwright.repomap.index import Graph

CHARS_PER_TOKEN = 4
"""Token estimate: about four characters per token, the usual figure for English and code on BPE tokenizers."""
MAX_LINE_CHARS = 160
LOOKAHEAD_AFTER_FULL = 400
"""After the first item that does not fit, how many more are tried: a shorter one further down may still fit."""
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


def render(root: Path, graph: Graph, items: np.ndarray, tokens: int) -> str:
    """Greedy fill: take items best first while they fit in `tokens` (estimated); never go over."""
    budget = tokens * CHARS_PER_TOKEN
    sources = _Sources(root)
    chosen: dict[int, dict[int, str]] = {}  # file -> line -> formatted line
    path_only: set[int] = set()
    order: list[int] = []
    used = 0
    misses = 0
    for item in items.tolist():
        if misses > LOOKAHEAD_AFTER_FULL or budget - used < 8:
            break
        if item < 0:
            number = -1 - item
            cost = len(graph.paths[number]) + 1
            if used + cost > budget:
                misses += 1
                continue
            path_only.add(number)
            order.append(number)
            used += cost
            continue
        number = int(graph.def_file[item])
        new_lines = _lines_for(graph, sources, item, chosen.get(number, {}))
        if not new_lines:
            continue
        cost = sum(len(text) for text in new_lines.values())
        if number not in chosen:
            cost += len(graph.paths[number]) + 2
        if used + cost > budget:
            misses += 1
            continue
        if number not in chosen:
            chosen[number] = {}
            order.append(number)
        chosen[number].update(new_lines)
        used += cost
    return _assemble(graph, order, chosen, path_only)


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
