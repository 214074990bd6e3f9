"""Which grammar reads which file, and the tag queries shipped beside this module.

Grammars come from the per-language wheels published by the tree-sitter project: they carry the
compiled parser inside the wheel, so nothing is fetched at run time.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import import_module, resources
from pathlib import PurePosixPath

from tree_sitter import Language, Parser, Query

# language name -> (module, function returning the grammar pointer, query file stem)
_GRAMMARS: dict[str, tuple[str, str, str]] = {
    "python": ("tree_sitter_python", "language", "python"),
    "javascript": ("tree_sitter_javascript", "language", "javascript"),
    "typescript": ("tree_sitter_typescript", "language_typescript", "typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx", "typescript"),
    "go": ("tree_sitter_go", "language", "go"),
    "rust": ("tree_sitter_rust", "language", "rust"),
    "java": ("tree_sitter_java", "language", "java"),
    "c": ("tree_sitter_c", "language", "c"),
    "cpp": ("tree_sitter_cpp", "language", "cpp"),
}

_EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".hh": "cpp", ".hpp": "cpp", ".hxx": "cpp", ".inl": "cpp",
}

# Never worth opening: the map would only show their path, and reading them costs time.
BINARY_EXTENSIONS = frozenset(
    ".png .jpg .jpeg .gif .bmp .ico .icns .webp .tif .tiff .psd .pdf .zip .gz .tgz .bz2 .xz .zst .7z .rar .tar "
    ".jar .war .class .pyc .pyo .so .dylib .dll .exe .o .a .obj .lib .bin .dat .db .sqlite .mo .woff .woff2 .ttf "
    ".otf .eot .mp3 .mp4 .wav .ogg .flac .avi .mov .mkv .webm .npy .npz .pkl .pickle .parquet .h5 .onnx .pt .whl".split()
)


def language_for(path: str) -> str | None:
    """The grammar name for a repository-relative path, or None when the file is shown by path only."""
    return _EXTENSIONS.get(PurePosixPath(path).suffix.lower())


def looks_binary(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in BINARY_EXTENSIONS


@cache
def parser_and_query(language: str) -> tuple[Parser, Query, int]:
    """A parser, the tag query and how many of its patterns (the first ones) are definitions; once per process.

    Query files hold one pattern per line, and a pattern's capture names say whether it tags a
    definition or a reference. Ordering definitions first lets one pass over the tree serve both.
    """
    module_name, function, stem = _GRAMMARS[language]
    grammar = Language(getattr(import_module(module_name), function)())
    lines = [line for line in query_text(stem).splitlines() if line.strip() and not line.lstrip().startswith(";")]
    definitions = [line for line in lines if "@name.definition." in line]
    references = [line for line in lines if "@name.reference." in line]
    return Parser(grammar), Query(grammar, "\n".join(definitions + references)), len(definitions)


def query_text(stem: str) -> str:
    return resources.files("loopwright.repomap").joinpath("queries", f"{stem}.scm").read_text(encoding="utf-8")


@cache
def queries_fingerprint() -> str:
    """Changes whenever a query file changes, so cached tags made by an older query are dropped."""
    digest = hashlib.sha1()
    for stem in sorted({entry[2] for entry in _GRAMMARS.values()}):
        digest.update(query_text(stem).encode())
    return digest.hexdigest()[:16]
