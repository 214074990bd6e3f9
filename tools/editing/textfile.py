"""Reading a file for editing and writing it back with its own line endings, encoding marker and final newline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import loopwright.sandboxes.hostfs as hostfs
from loopwright.tools.editing.patch import EditRefused

MAX_BYTES = 4 * 1024 * 1024
BOM = b"\xef\xbb\xbf"
_NEWLINE = re.compile(r"\r\n|\n")


@dataclass(frozen=True)
class TextFile:
    """A file's text with newlines normalised to LF, plus what is needed to give back the exact bytes.

    `endings` holds the original ending of each LF in `text`, in order, so untouched lines keep theirs.
    """

    text: str
    endings: tuple[str, ...]
    bom: bool

    @property
    def newline(self) -> str:
        """The dominant line ending, used for lines an edit adds."""
        crlf = sum(1 for e in self.endings if e == "\r\n")
        return "\r\n" if crlf * 2 > len(self.endings) else "\n"


def check_bytes(raw: bytes, name: str) -> str:
    """Decode `raw` or refuse the kinds of file an edit must never touch."""
    if len(raw) > MAX_BYTES:
        raise EditRefused(f"{name}: file is too large to edit ({len(raw) // 1024} KiB; limit {MAX_BYTES // 1024} KiB)")
    if b"\x00" in raw[:8192]:
        raise EditRefused(f"{name}: binary file; it cannot be edited as text")
    body = raw.removeprefix(BOM)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise EditRefused(f"{name}: not UTF-8 text (invalid byte at offset {err.start}); it cannot be edited safely") from None


def parse(raw: bytes, name: str) -> TextFile:
    decoded = check_bytes(raw, name)
    endings = tuple(m.group() for m in _NEWLINE.finditer(decoded))
    return TextFile(text=decoded.replace("\r\n", "\n"), endings=endings, bom=raw.startswith(BOM))


def read(root: Path, path: Path, name: str) -> TextFile:
    if path.is_dir():
        raise EditRefused(f"{name} is a directory")
    if not path.is_file():
        raise EditRefused(f"{name}: no such file")
    try:
        raw = hostfs.read_bytes(root, path, MAX_BYTES)
    except hostfs.WorkspacePathError as error:
        if path.stat().st_size > MAX_BYTES:
            raise EditRefused(f"{name}: file is too large to edit ({path.stat().st_size // 1024} KiB; limit {MAX_BYTES // 1024} KiB)") from None
        raise EditRefused(f"{name}: {str(error).removeprefix(f'{path}: ')}") from None
    except OSError as error:
        raise EditRefused(f"{name}: cannot be read ({error.strerror or error})") from None
    return parse(raw, name)


def splice(before: TextFile, start: int, end: int, replacement: str) -> TextFile:
    """Replace `before.text[start:end]`; newlines outside the span keep their endings, new ones get the dominant one."""
    text = before.text
    keep_head = text.count("\n", 0, start)
    keep_tail = text.count("\n", end)
    removed = before.endings[keep_head : len(before.endings) - keep_tail]
    added = replacement.count("\n")
    middle = removed if len(removed) == added else (before.newline,) * added
    endings = before.endings[:keep_head] + tuple(middle) + before.endings[len(before.endings) - keep_tail :]
    return TextFile(text=text[:start] + replacement + text[end:], endings=endings, bom=before.bom)


def to_bytes(file: TextFile) -> bytes:
    parts = file.text.split("\n")
    out = [parts[0]]
    for ending, part in zip(file.endings, parts[1:], strict=True):
        out.append(ending)
        out.append(part)
    return (BOM if file.bom else b"") + "".join(out).encode("utf-8")


def new_file(content: str) -> TextFile:
    endings = tuple(m.group() for m in _NEWLINE.finditer(content))
    return TextFile(text=content.replace("\r\n", "\n"), endings=endings, bom=False)
