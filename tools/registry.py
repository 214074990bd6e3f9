"""The tool set of a session."""

from __future__ import annotations

from loopwright.tools.apply_patch import EditFormat, edit_tools
from loopwright.tools.base import Tool
from loopwright.tools.list_files import ListFiles
from loopwright.tools.read_file import ReadFile
from loopwright.tools.run_shell import RunShell
from loopwright.tools.run_tests import RunTests
from loopwright.tools.search import Search
from loopwright.tools.submit import Submit
from loopwright.tools.write_file import WriteFile


def default_tools(edit_format: EditFormat = "str_replace", extra: list[Tool] | None = None) -> list[Tool]:
    """Reading, searching, the edit tools of one format, running, and submitting (plus `extra`, e.g. repo_map)."""
    return [ReadFile(), ListFiles(), Search(), *(extra or []), *edit_tools(edit_format), WriteFile(), RunTests(), RunShell(), Submit()]
