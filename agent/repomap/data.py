"""The repository index's data: the definition/reference graph, and the store kept between runs.

Plain containers, apart from what builds (index), saves and loads (store) or ranks (rank) them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from loopwright.repomap.changes import FileState


@dataclass
class Graph:
    """Every file of the tree and the def/ref relation between them, as flat arrays grouped by file.

    File i's references are rows ref_offsets[i]:ref_offsets[i+1], its definitions def_offsets[i]:def_offsets[i+1];
    this also serves as the tag store: an unchanged file's tags are sliced out when the graph is rebuilt.
    """

    paths: list[str]
    keys: list[str]
    """Each file's slot (see `slot`): what its tags are stored under."""
    has_tags: np.ndarray
    secondary: np.ndarray
    """Tests, fixtures, generated and vendored files (see roles): ranked below the code unless asked for."""
    ref_offsets: np.ndarray
    ref_file: np.ndarray
    ref_ident: np.ndarray
    ref_count: np.ndarray
    def_offsets: np.ndarray
    def_file: np.ndarray
    def_ident: np.ndarray
    def_line: np.ndarray
    def_signature_end: np.ndarray
    def_parent: np.ndarray
    """Global index of the enclosing definition, or -1."""
    stems: dict[str, list[int]]
    """File name without extension -> file numbers, for finding files a query names."""


@dataclass
class Store:
    """What persists between runs, in the repository's state folder (see store)."""

    fingerprint: str
    files: dict[str, FileState] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    """Slot -> PATH_ONLY or BINARY, for files that have no tags."""
    idents: list[str] = field(default_factory=list)
    ident_shape: list[float] = field(default_factory=list)
    """Query-independent weight of each identifier, from its spelling alone."""
    graph: Graph | None = None
    stamps: dict[str, int] = field(default_factory=dict)
    """Directory mtimes at the last full git scan (see changes.scan)."""
