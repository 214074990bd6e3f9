"""Runs aider's own appliers on benchmark cases; executed by the interpreter of a separate environment.

Reads a JSON list of cases on stdin and writes a JSON list of results (new text, or null when aider refused)
to stdout. Imports nothing of loopwright, so it runs where aider-chat is installed without touching this one.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from aider.coders import editblock_coder, udiff_coder


def search_replace(path: Path, text: str, blocks: list[list[str]]) -> str | None:
    """Like aider's edit-block coder: each block applied in turn to the result of the previous one."""
    for old, new in blocks:
        text = editblock_coder.do_replace(str(path), text, old, new, editblock_coder.DEFAULT_FENCE)
        if not text:
            return None
    return text


def udiff(path: Path, text: str, diff: str) -> str | None:
    """Like aider's udiff coder: find the hunks in a fenced diff, apply each in turn, refuse on any failure."""
    for _, hunk in udiff_coder.find_diffs(f"```diff\n{diff}```\n"):
        hunk = udiff_coder.normalize_hunk(hunk)
        if not hunk:
            continue
        try:
            text = udiff_coder.do_replace(str(path), text, hunk)
        except udiff_coder.SearchTextNotUnique:
            return None
        if not text:
            return None
    return text


def main() -> None:
    cases = json.load(sys.stdin)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for case in cases:
            path = Path(folder) / os.path.basename(case["path"])
            path.write_text(case["before"], encoding="utf-8")
            try:
                if case["format"] == "udiff":
                    out = udiff(path, case["before"], case["diff"])
                else:
                    out = search_replace(path, case["before"], case["blocks"])
            except Exception:  # noqa: BLE001 - an applier crash is a refusal, as aider reports it to the model
                out = None
            results.append(out)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
