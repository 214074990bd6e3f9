"""Ways to pair an old text's lines with a new text's: the edit scripts an edit can be read by.

difflib pairs lines greedily (its longest common block first), so it can take a moved block for the
unchanged part; a shortest edit script cannot. Runs of added or removed lines next to equal lines can slide
without changing the diff's size; sliding them all one way or the other gives the extremes.
"""

from __future__ import annotations

import difflib
from functools import lru_cache

Opcode = tuple[str, int, int, int, int]
LCS_CELLS = 400_000
"""Largest old x new line count a shortest diff is worked out for; beyond it difflib's stands in."""

Step = tuple[str, int, int]
"""One line of an edit script: ("=", old index, new index), ("-", old index, -1) or ("+", -1, new index)."""


def alignment(old: list[str], new: list[str], align: str, held: frozenset[int] = frozenset()) -> list[Opcode]:
    """difflib-style opcodes for old->new, aligned as `align` says (see `Reading`); with "held", of the shortest
    scripts one that keeps as many of the old lines `held` paired as it can."""
    if align == "first" or len(old) * len(new) > LCS_CELLS and align != "last":
        first: list[Opcode] = list(difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes())
        return first if align in ("first", "lcs", "held") else _grouped(_slid(_script(first), old, new, align == "down"))
    if align == "held":
        return _grouped(list(_shortest(tuple(old), tuple(new), held)))
    if align == "last":
        n, m = len(old), len(new)
        backwards = difflib.SequenceMatcher(None, old[::-1], new[::-1], autojunk=False).get_opcodes()
        return [(tag, n - i2, n - i1, m - j2, m - j1) for tag, i1, i2, j1, j2 in reversed(backwards)]
    script = list(_shortest(tuple(old), tuple(new)))
    if align == "lcs":
        return _grouped(script)
    return _grouped(_slid(script, old, new, align == "down"))


@lru_cache(maxsize=4)
def _shortest(old: tuple[str, ...], new: tuple[str, ...], held: frozenset[int] = frozenset()) -> tuple[Step, ...]:
    """A shortest edit script (longest common subsequence), taking a line in common as early as it can; among
    the shortest, one that pairs the most old lines in `held` (an old line the file lacks is best paired with
    the new line at its own place, not with a like line elsewhere)."""
    n, m = len(old), len(new)
    weight = [n + 2 if i in held else n + 1 for i in range(n)]  # any extra pairing outweighs every held bonus
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = best[i], best[i + 1]
        for j in range(m - 1, -1, -1):
            score = max(below[j], row[j + 1])
            if old[i] == new[j]:
                score = max(score, below[j + 1] + weight[i])
            row[j] = score
    steps: list[Step] = []
    i = j = 0
    while i < n and j < m:
        if old[i] == new[j] and best[i][j] == best[i + 1][j + 1] + weight[i]:
            steps.append(("=", i, j))
            i, j = i + 1, j + 1
        elif best[i + 1][j] >= best[i][j + 1]:
            steps.append(("-", i, -1))
            i += 1
        else:
            steps.append(("+", -1, j))
            j += 1
    return tuple(steps + [("-", k, -1) for k in range(i, n)] + [("+", -1, k) for k in range(j, m)])


def _script(opcodes: list[Opcode]) -> list[Step]:
    steps: list[Step] = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            steps += [("=", i1 + k, j1 + k) for k in range(i2 - i1)]
            continue
        steps += [("-", i, -1) for i in range(i1, i2)] + [("+", -1, j) for j in range(j1, j2)]
    return steps


def _slid(steps: list[Step], old: list[str], new: list[str], down: bool) -> list[Step]:
    """The script with each run of only added (or only removed) lines slid as far down (or up) as the lines
    around it allow: an added block `x y x` after an unchanged `x` reads the same as `y x x` before it."""
    s = list(steps)
    k = 0
    while k < len(s):
        if s[k][0] == "=":
            k += 1
            continue
        end = k
        while end < len(s) and s[end][0] != "=":
            end += 1
        kinds = {step[0] for step in s[k:end]}
        if len(kinds) == 1:
            adding = "+" in kinds
            seq = new if adding else old

            def pos(step: Step, adding: bool = adding) -> int:
                return step[2] if adding else step[1]

            while down and end < len(s) and s[end][0] == "=" and seq[pos(s[k])] == seq[pos(s[end])]:
                lo, eq = pos(s[k]), s[end]
                moved = [("+", -1, j) for j in range(lo + 1, eq[2] + 1)] if adding else [("-", i, -1) for i in range(lo + 1, eq[1] + 1)]
                s[k : end + 1] = [("=", eq[1], lo) if adding else ("=", lo, eq[2])] + moved
                k, end = k + 1, end + 1
            while not down and k > 0 and s[k - 1][0] == "=" and seq[pos(s[k - 1])] == seq[pos(s[end - 1])]:
                eq, hi = s[k - 1], pos(s[end - 1])
                moved = [("+", -1, j) for j in range(eq[2], hi)] if adding else [("-", i, -1) for i in range(eq[1], hi)]
                s[k - 1 : end] = moved + [("=", eq[1], hi) if adding else ("=", hi, eq[2])]
                k, end = k - 1, end - 1
        k = end
    return s


def _grouped(steps: list[Step]) -> list[Opcode]:
    """Opcodes from an edit script, counting old and new positions as it goes."""
    out: list[Opcode] = []
    i = j = 0
    k = 0
    while k < len(steps):
        same = steps[k][0] == "="
        end = k
        while end < len(steps) and (steps[end][0] == "=") == same:
            end += 1
        removed = sum(step[0] == "-" for step in steps[k:end])
        added = sum(step[0] == "+" for step in steps[k:end])
        if same:
            out.append(("equal", i, i + end - k, j, j + end - k))
            i, j = i + end - k, j + end - k
        else:
            tag = "replace" if removed and added else "delete" if removed else "insert"
            out.append((tag, i, i + removed, j, j + added))
            i, j = i + removed, j + added
        k = end
    return out
