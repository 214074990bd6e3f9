"""The edit engine: every edit format parsed into one patch representation, placed by staged matching,
checked with tree-sitter and written all-or-nothing with the file's own formatting."""

from loopwright.tools.editing.engine import apply_edits, edit_text, unified
from loopwright.tools.editing.formats import (
    insert_at,
    search_replace_blocks,
    str_replace,
    unified_diff,
    whole_file,
)
from loopwright.tools.editing.patch import AppliedEdit, EditRefused, FileEdit, Hunk

__all__ = [
    "AppliedEdit",
    "EditRefused",
    "FileEdit",
    "Hunk",
    "apply_edits",
    "edit_text",
    "insert_at",
    "search_replace_blocks",
    "str_replace",
    "unified",
    "unified_diff",
    "whole_file",
]
