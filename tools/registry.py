"""The default tool set of a session."""

from __future__ import annotations

from loopwright.tools.base import Tool
from loopwright.tools.edit_file import EditFile
from loopwright.tools.list_files import ListFiles
from loopwright.tools.read_file import ReadFile
from loopwright.tools.run_shell import RunShell
from loopwright.tools.run_tests import RunTests
from loopwright.tools.search import Search
from loopwright.tools.submit import Submit
from loopwright.tools.write_file import WriteFile


def default_tools() -> list[Tool]:
    return [ReadFile(), ListFiles(), Search(), EditFile(), WriteFile(), RunTests(), RunShell(), Submit()]
