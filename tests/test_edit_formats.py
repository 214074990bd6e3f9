"""Each edit format parsed into the one patch representation, and the tools that take them."""

from __future__ import annotations

from pathlib import Path

import pytest
from loopwright.tools.apply_patch import (
    ApplyPatch,
    ApplyPatchArgs,
    ReplaceBlocks,
    ReplaceBlocksArgs,
    edit_tools,
)
from loopwright.tools.base import ToolContext, ToolFailure
from loopwright.tools.edit_file import (
    EditFile,
    EditFileArgs,
    InsertText,
    InsertTextArgs,
)
from loopwright.tools.editing import (
    EditRefused,
    Hunk,
    edit_text,
    search_replace_blocks,
    unified_diff,
)
from loopwright.tools.editing.textfile import new_file


def test_search_replace_blocks_group_by_file():
    text = (
        "Here are the edits.\n\nsrc/a.py\n```python\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```\n\n"
        "src/b.py\n<<<<<<< SEARCH\ny = 1\n=======\n>>>>>>> REPLACE\n\nsrc/a.py\n<<<<<<< SEARCH\nz = 1\n=======\nz = 3\n>>>>>>> REPLACE\n"
    )
    edits = search_replace_blocks(text)
    assert [e.path for e in edits] == ["src/a.py", "src/b.py"]
    assert edits[0].hunks == (Hunk("x = 1\n", "x = 2\n"), Hunk("z = 1\n", "z = 3\n"))
    assert edits[1].hunks == (Hunk("y = 1\n", ""),)


def test_unclosed_block_is_refused():
    with pytest.raises(EditRefused, match="not closed"):
        search_replace_blocks("a.py\n<<<<<<< SEARCH\nx\n=======\ny\n")


def test_diff_with_wrong_counts_and_line_numbers_is_read():
    diff = "--- a/m.py\n+++ b/m.py\n@@ -40,9 +40,2 @@ def f():\n a = 1\n-b = 2\n+b = 3\n c = 4\n"
    [edit] = unified_diff(diff)
    assert edit.path == "m.py"
    assert edit.hunks == (Hunk("a = 1\nb = 2\nc = 4\n", "a = 1\nb = 3\nc = 4\n", at_line=40),)


def test_diff_without_headers_or_numbers_uses_the_given_path():
    [edit] = unified_diff("@@ @@\n a\n-b\n+c\n", default_path="x.txt")
    assert edit.path == "x.txt" and edit.hunks[0].search == "a\nb\n" and edit.hunks[0].at_line is None
    with pytest.raises(EditRefused, match="no '--- a/path'"):
        unified_diff("@@ @@\n a\n-b\n+c\n")


def test_diff_hunks_without_numbers_are_placed_by_their_context_alone():
    # No invented line 1: the second hunk changes the first one's last context line, which reads as a sequence.
    diff = "@@ @@\n a = 1\n-b = 2\n+b = 20\n c = 3\n@@ @@\n-c = 3\n+c = 30\n d = 4\n"
    [edit] = unified_diff(diff, default_path="m.py")
    assert [hunk.at_line for hunk in edit.hunks] == [None, None]
    after, _ = edit_text("m.py", new_file("a = 1\nb = 2\nc = 3\nd = 4\n"), edit)
    assert after.text == "a = 1\nb = 20\nc = 30\nd = 4\n"


def test_diff_keeps_markdown_fences_inside_hunks():
    diff = "--- a/R.md\n+++ b/R.md\n@@ -1,3 +1,3 @@\n ```console\n-old\n+new\n ```\n"
    [edit] = unified_diff(f"```diff\n{diff}```\n")
    assert edit.hunks[0].search == "```console\nold\n```\n"


def test_git_diff_of_several_files_keeps_each_file_header_out_of_the_hunks():
    diff = (
        "diff --git a/src/a.py b/src/a.py\nindex 1111111..2222222 100644\n--- a/src/a.py\n+++ b/src/a.py\n"
        "@@ -1,3 +1,3 @@\n x = 1\n-y = 2\n+y = 3\n z = 4\n"
        "diff --git a/src/b.py b/src/b.py\nindex 3333333..4444444 100644\n--- a/src/b.py\n+++ b/src/b.py\n"
        "@@ -5,2 +5,2 @@ def g():\n-    return 1\n+    return 2\n     pass\n"
    )
    first, second = unified_diff(diff)
    assert (first.path, second.path) == ("src/a.py", "src/b.py")
    assert first.hunks == (Hunk("x = 1\ny = 2\nz = 4\n", "x = 1\ny = 3\nz = 4\n", at_line=1, counted=True),)
    assert second.hunks[0].search == "    return 1\n    pass\n"


def test_diff_creating_a_file_is_a_whole_file_write():
    [edit] = unified_diff("--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+a = 1\n+b = 2\n")
    assert edit.content == "a = 1\nb = 2\n"


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a - b\n\n\ndef neg(a):\n    return -a\n")
    return ToolContext(root=tmp_path, sandbox=None, test_command="true")  # type: ignore[arg-type]


def test_edit_file_tool_returns_the_diff(ctx):
    out = EditFile().run(EditFileArgs(path="calc.py", old_string="return a - b", new_string="return a + b"), ctx)
    assert out.changed_files == ("calc.py",)
    assert "-    return a - b\n+    return a + b\n" in out.data["diff"]
    assert (ctx.root / "calc.py").read_text().startswith("def add(a, b):\n    return a + b\n")


def test_edit_file_tool_speaks_of_old_string(ctx):
    with pytest.raises(ToolFailure, match="old_string not found"):
        EditFile().run(EditFileArgs(path="calc.py", old_string="return nothing", new_string="x"), ctx)
    with pytest.raises(ToolFailure, match=r"old_string occurs 2 times \(at lines 2, 6\)"):
        EditFile().run(EditFileArgs(path="calc.py", old_string="return ", new_string="x"), ctx)


def test_apply_patch_and_replace_blocks_tools(ctx):
    patch = "--- a/calc.py\n+++ b/calc.py\n@@ -5,2 +5,2 @@\n def neg(a):\n-    return -a\n+    return 0 - a\n"
    out = ApplyPatch().run(ApplyPatchArgs(patch=patch), ctx)
    assert out.changed_files == ("calc.py",) and "+    return 0 - a" in out.text
    blocks = "calc.py\n<<<<<<< SEARCH\ndef neg(a):\n=======\ndef negate(a):\n>>>>>>> REPLACE\n\nnew.py\n<<<<<<< SEARCH\n=======\nX = 1\n>>>>>>> REPLACE\n"
    out = ReplaceBlocks().run(ReplaceBlocksArgs(blocks=blocks), ctx)
    assert set(out.changed_files) == {"calc.py", "new.py"}
    assert (ctx.root / "new.py").read_text() == "X = 1\n"


def test_insert_text_tool(ctx):
    InsertText().run(InsertTextArgs(path="calc.py", line=1, text="import math"), ctx)
    assert (ctx.root / "calc.py").read_text().startswith("import math\ndef add")


def test_edit_tools_per_format():
    assert [t.name for t in edit_tools("udiff")] == ["apply_patch"]
    assert [t.name for t in edit_tools("search_replace")] == ["replace_blocks"]
    assert [t.name for t in edit_tools()] == ["edit_file", "insert_text"]


def test_a_hunk_of_a_tool_made_diff_goes_to_its_line_among_identical_places(tmp_path):
    """pvlib-1395's fix: git wrote `@@ -665,3 +665,57 @@` for three context lines that also occur at line 502.
    Header counts that agree with the body mark a diff a tool made, whose line numbers are exact; a model's diff
    with counts that do not agree is still refused rather than guessed."""
    from loopwright.tools.editing import apply_edits

    body = "def a():\n    return 1\n\n" * 2
    (tmp_path / "m.py").write_text(body)
    made = "--- a/m.py\n+++ b/m.py\n@@ -4,3 +4,4 @@\n def a():\n     return 1\n \n+X = 2\n"
    [edit] = unified_diff(made)
    assert edit.hunks[0].counted and edit.hunks[0].at_line == 4
    apply_edits(tmp_path, [edit])
    assert (tmp_path / "m.py").read_text() == body + "X = 2\n"
    (tmp_path / "m.py").write_text(body)
    guessed = made.replace("@@ -4,3 +4,4 @@", "@@ -4,5 +4,9 @@")
    with pytest.raises(EditRefused, match="matches 2 places"):
        apply_edits(tmp_path, unified_diff(guessed))
