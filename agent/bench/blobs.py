"""Files a mirror lacks, found by their git object id in released packages of the project.

Mirrors may leave out large files (test data of a few MiB), and a task whose tests read them cannot pass.
The project's own released wheels and sdists often ship those files. `BlobStore` indexes every file in a
folder, and every member of the zip and tar archives there, by the id git gives that content
(`sha1("blob <size>\\0" + content)`), so a file is only ever used where it is byte for byte the one the
commit names. Nothing is extracted: members are read as bytes.

Public: `BlobStore`.
"""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from loopwright.repomap.changes import blob_id

MAX_MEMBER_BYTES = 256 << 20
"""Larger files and members are not indexed (a mirror lacks files of a few MiB, not whole disks)."""


class BlobStore:
    """Content by git object id from the files and archives under `folder`; indexed on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._index: dict[str, tuple[Path, str]] | None = None

    def get(self, object_id: str) -> bytes | None:
        if self._index is None:
            self._index = {blob: where for blob, where in self._scan()}
        where = self._index.get(object_id)
        if where is None:
            return None
        data = _read(*where)
        return data if data is not None and blob_id(data) == object_id else None

    def _scan(self) -> Iterator[tuple[str, tuple[Path, str]]]:
        for path in sorted(self.folder.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            for member in _members(path):
                data = _read(path, member)
                if data is not None:
                    yield blob_id(data), (path, member)


def _members(path: Path) -> list[str]:
    """"" for the file itself, and the names of the regular members when it is an archive."""
    names = [""] if path.stat().st_size <= MAX_MEMBER_BYTES else []
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names += [i.filename for i in archive.infolist() if not i.is_dir() and i.file_size <= MAX_MEMBER_BYTES]
        elif tarfile.is_tarfile(path):
            with tarfile.open(path) as archive:
                names += [m.name for m in archive.getmembers() if m.isreg() and m.size <= MAX_MEMBER_BYTES]
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError):
        pass
    return names


def _read(path: Path, member: str) -> bytes | None:
    try:
        if not member:
            return path.read_bytes()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return archive.read(member)
        with tarfile.open(path) as archive:
            stream = archive.extractfile(member)
            return stream.read() if stream is not None else None
    except (OSError, KeyError, zipfile.BadZipFile, tarfile.TarError, EOFError):
        return None
