"""Parsers from each edit format the model may use into `FileEdit`s."""

from __future__ import annotations

import re

import unidiff
from loopwright.tools.editing.patch import EditRefused, FileEdit, Hunk

_SEARCH = re.compile(r"^\s*<{5,9} ?SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
_HUNK_HEADER = re.compile(r"^@@+ *(?:-(\d+)(?:,(\d+))? +\+(\d+)(?:,(\d+))?)? *@@+(.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def str_replace(path: str, old: str, new: str) -> FileEdit:
    return FileEdit(path, (Hunk(old, new, whole_lines=False),))


def insert_at(path: str, line: int, text: str) -> FileEdit:
    return FileEdit(path, (Hunk("", text, at_line=line),))


def whole_file(path: str, content: str) -> FileEdit:
    return FileEdit(path, content=content)


def search_replace_blocks(text: str, default_path: str | None = None) -> list[FileEdit]:
    """Blocks of `<<<<<<< SEARCH` / `=======` / `>>>>>>> REPLACE`, each after a line naming its file."""
    lines = text.replace("\r\n", "\n").split("\n")
    edits: dict[str, list[Hunk]] = {}
    path, i = default_path, 0
    while i < len(lines):
        if not _SEARCH.match(lines[i]):
            name = _file_name(lines[i])
            if name:
                path = name
            i += 1
            continue
        old, i = _until(lines, i + 1, _DIVIDER, "=======")
        new, i = _until(lines, i + 1, _REPLACE, ">>>>>>> REPLACE")
        if path is None:
            raise EditRefused("a SEARCH/REPLACE block has no file name; put the file's path on the line before <<<<<<< SEARCH")
        edits.setdefault(path, []).append(Hunk(_block(old), _block(new)))
        i += 1
    if not edits:
        raise EditRefused("no <<<<<<< SEARCH / ======= / >>>>>>> REPLACE block found")
    return [FileEdit(p, tuple(h)) for p, h in edits.items()]


def _file_name(line: str) -> str | None:
    name = line.strip().strip("`*").strip().rstrip(":")
    if not name or _FENCE.match(line) or " " in name or name.startswith(("#", "//")):
        return None
    return name


def _until(lines: list[str], start: int, end: re.Pattern[str], label: str) -> tuple[list[str], int]:
    for i in range(start, len(lines)):
        if end.match(lines[i]):
            return lines[start:i], i
    raise EditRefused(f"a SEARCH/REPLACE block is not closed: expected a '{label}' line")


def _block(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def unified_diff(text: str, default_path: str | None = None) -> list[FileEdit]:
    """A unified diff; hunk line numbers and counts are only hints, and the ---/+++ header may be missing."""
    counted: list[bool] = []
    normalized = _normalize(text.replace("\r\n", "\n"), default_path, counted)
    agreeing = iter(counted)
    try:
        patch = unidiff.PatchSet(normalized)
    except unidiff.UnidiffParseError as err:
        raise EditRefused(f"the diff could not be read: {err}") from None
    edits = []
    for patched in patch:
        path = _strip_prefix(patched.path)
        if patched.is_removed_file:
            raise EditRefused(f"{path}: the diff deletes the file; delete files with a shell command instead")
        if patched.is_added_file:
            edits.append(FileEdit(path, content="".join(line.value for hunk in patched for line in hunk.target_lines())))
            for _ in patched:
                next(agreeing, None)  # keep the flags in step with the hunks
            continue
        hunks = tuple(
            Hunk(
                "".join(line.value for line in hunk.source_lines()),
                "".join(line.value for line in hunk.target_lines()),
                at_line=hunk.source_start or None,
                counted=next(agreeing, False) and bool(hunk.source_start),
            )
            for hunk in patched
        )
        renamed_from = _strip_prefix(patched.source_file) if patched.is_rename else None
        edits.append(FileEdit(path, hunks, renamed_from=renamed_from if renamed_from != path else None))
    if not edits:
        raise EditRefused("no hunk found in the diff; each hunk starts with an '@@' line")
    return edits


def _strip_prefix(path: str) -> str:
    return path[2:] if path[:2] in ("a/", "b/") else path


def _normalize(text: str, default_path: str | None, counted: list[bool]) -> str:
    """Rewrite the diff so unidiff accepts it: file headers present, hunk counts recomputed from the body.
    `counted` gets, hunk by hunk, whether the header's own counts agreed with the body."""
    lines = text.split("\n")
    out: list[str] = []
    hunk: list[str] | None = None
    header = ""
    seen_file = False

    def flush() -> None:
        nonlocal hunk
        if hunk is not None:
            fixed = _hunk_text(header, hunk)
            counted.append(_agrees(header, fixed[0]))
            out.extend(fixed)
            hunk = None

    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.startswith("--- ") and nxt.startswith("+++ "):
            flush()
            out.append(line)
            seen_file = True
            continue
        if line.startswith("+++ ") and out and out[-1].startswith("--- "):
            out.append(line)
            continue
        if hunk is not None and line.startswith("diff --git "):
            # The next file's header: a context line would start with a space.
            flush()
            out.append(line)
            continue
        if _HUNK_HEADER.match(line):
            flush()
            if not seen_file:
                if default_path is None:
                    raise EditRefused("the diff has no '--- a/path' / '+++ b/path' header naming the file")
                out.extend([f"--- a/{default_path}", f"+++ b/{default_path}"])
                seen_file = True
            header, hunk = line, []
            continue
        if hunk is None:
            if not line.startswith(("diff ", "index ", "new file", "deleted file", "similarity", "rename", "old mode", "new mode")):
                continue
            out.append(line)
            continue
        if line.startswith(("```", "~~~")):
            flush()
            continue
        hunk.append(line)
    flush()
    return "\n".join(out) + "\n"


def _agrees(given: str, recomputed: str) -> bool:
    """Whether a hunk header's line counts are the ones its body has (an omitted count means 1)."""
    mine, theirs = _HUNK_HEADER.match(given), _HUNK_HEADER.match(recomputed)
    if not mine or not theirs or mine.group(1) is None:
        return False
    return (mine.group(2) or "1") == theirs.group(2) and (mine.group(4) or "1") == theirs.group(4)


def _hunk_text(header: str, body: list[str]) -> list[str]:
    while body and body[-1] == "":
        body.pop()
    fixed = []
    for line in body:
        if line.startswith(("+", "-", " ", "\\")):
            fixed.append(line)
        else:
            fixed.append(" " + line)
    source = sum(1 for line in fixed if line[0] in " -")
    target = sum(1 for line in fixed if line[0] in " +")
    match = _HUNK_HEADER.match(header)
    # A bare `@@ @@` keeps 0 (read back as no line number), so its context alone says where it goes.
    old_start = int(match.group(1)) if match and match.group(1) else 0
    new_start = int(match.group(3)) if match and match.group(3) else old_start
    return [f"@@ -{old_start},{source} +{new_start},{target} @@", *fixed]
