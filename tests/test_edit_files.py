"""The engine on real files: formatting kept byte for byte, syntax checks, all-or-nothing writes, refusals."""

from __future__ import annotations

import os

import pytest
from loopwright.tools.editing import (
    EditRefused,
    FileEdit,
    apply_edits,
    insert_at,
    str_replace,
    whole_file,
)


def write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_crlf_tabs_bom_and_missing_final_newline_are_kept(tmp_path):
    raw = b"\xef\xbb\xbfint main() {\r\n\tint x = 1;\r\n\treturn x;\r\n}"
    target = write(tmp_path / "m.c", raw)
    [applied] = apply_edits(tmp_path, [str_replace("m.c", "int x = 1;\n\treturn x;", "int x = 2;\n\tx++;\n\treturn x;")])
    assert target.read_bytes() == b"\xef\xbb\xbfint main() {\r\n\tint x = 2;\r\n\tx++;\r\n\treturn x;\r\n}"
    assert "-\tint x = 1;" in applied.diff and "+\tx++;" in applied.diff
    assert applied.diff.startswith("--- a/m.c\n+++ b/m.c\n")


def test_mixed_line_endings_outside_the_edit_are_untouched(tmp_path):
    target = write(tmp_path / "notes.txt", b"one\r\ntwo\nthree\r\nfour\n")
    apply_edits(tmp_path, [str_replace("notes.txt", "three", "3")])
    assert target.read_bytes() == b"one\r\ntwo\n3\r\nfour\n"


def test_edit_that_breaks_syntax_is_reverted_with_the_line(tmp_path):
    source = b"def f(x):\n    return x + 1\n"
    target = write(tmp_path / "f.py", source)
    with pytest.raises(EditRefused, match=r"f.py: the edit would introduce syntax errors.*line 2"):
        apply_edits(tmp_path, [str_replace("f.py", "return x + 1", "return (x + 1")])
    assert target.read_bytes() == source


@pytest.mark.parametrize(
    ("name", "source", "old", "bad"),
    [
        ("a.js", "function f(a) {\n  return a;\n}\n", "return a;", "return a;\n  if (a {"),
        ("a.ts", "const f = (a: number): number => {\n  return a;\n};\n", "return a;", "return a +;"),
        ("a.go", "package m\n\nfunc F(a int) int {\n\treturn a\n}\n", "return a", "return a +"),
        ("a.rs", "fn f(a: i32) -> i32 {\n    a\n}\n", "    a\n", "    a +\n"),
        ("A.java", "class A {\n  int f(int a) { return a; }\n}\n", "return a;", "return a"),
        ("a.cpp", "int f(int a) {\n  return a;\n}\n", "return a;", "return a +;"),
    ],
)
def test_syntax_check_covers_common_languages(tmp_path, name, source, old, bad):
    target = write(tmp_path / name, source.encode())
    with pytest.raises(EditRefused, match="syntax error|missing"):
        apply_edits(tmp_path, [str_replace(name, old, bad)])
    assert target.read_text() == source


def test_errors_already_in_the_file_do_not_block_an_edit(tmp_path):
    target = write(tmp_path / "half.py", b"def broken(:\n    pass\n\nvalue = 1\n")
    apply_edits(tmp_path, [str_replace("half.py", "value = 1", "value = 2")])
    assert target.read_bytes() == b"def broken(:\n    pass\n\nvalue = 2\n"


def test_multi_file_edit_is_all_or_nothing(tmp_path):
    first = write(tmp_path / "a.py", b"A = 1\n")
    second = write(tmp_path / "b.py", b"B = 1\n")
    with pytest.raises(EditRefused, match="b.py"):
        apply_edits(tmp_path, [str_replace("a.py", "A = 1", "A = 2"), str_replace("b.py", "C = 1", "C = 2")])
    assert first.read_bytes() == b"A = 1\n" and second.read_bytes() == b"B = 1\n"
    applied = apply_edits(tmp_path, [str_replace("a.py", "A = 1", "A = 2"), str_replace("b.py", "B = 1", "B = 2")])
    assert [a.path for a in applied] == ["a.py", "b.py"]
    assert first.read_bytes() == b"A = 2\n" and second.read_bytes() == b"B = 2\n"


def test_whole_file_write_creates_and_keeps_crlf(tmp_path):
    [created] = apply_edits(tmp_path, [whole_file("pkg/new.py", "x = 1\n")])
    assert created.created and (tmp_path / "pkg" / "new.py").read_bytes() == b"x = 1\n"
    write(tmp_path / "w.txt", b"a\r\nb\r\n")
    apply_edits(tmp_path, [whole_file("w.txt", "a\nc\n")])
    assert (tmp_path / "w.txt").read_bytes() == b"a\r\nc\r\n"


def test_insert_at_line(tmp_path):
    target = write(tmp_path / "l.txt", b"one\nthree\n")
    apply_edits(tmp_path, [insert_at("l.txt", 2, "two")])
    assert target.read_bytes() == b"one\ntwo\nthree\n"


def test_file_mode_is_kept(tmp_path):
    target = write(tmp_path / "run.sh", b"echo a\n")
    target.chmod(0o755)
    apply_edits(tmp_path, [str_replace("run.sh", "echo a", "echo b")])
    assert target.stat().st_mode & 0o777 == 0o755


# --- refusals: nothing is written -------------------------------------------------------------------------


def test_binary_file_is_refused(tmp_path):
    target = write(tmp_path / "blob.bin", b"abc\x00def")
    with pytest.raises(EditRefused, match="binary"):
        apply_edits(tmp_path, [str_replace("blob.bin", "abc", "xyz")])
    assert target.read_bytes() == b"abc\x00def"


def test_non_utf8_file_is_refused(tmp_path):
    target = write(tmp_path / "latin.txt", "café = 1\n".encode("latin-1"))
    with pytest.raises(EditRefused, match="not UTF-8"):
        apply_edits(tmp_path, [str_replace("latin.txt", "1", "2")])
    assert target.read_bytes() == "café = 1\n".encode("latin-1")


def test_huge_file_is_refused(tmp_path):
    target = write(tmp_path / "big.txt", b"x = 1\n" * 1_000_000)
    with pytest.raises(EditRefused, match="too large"):
        apply_edits(tmp_path, [str_replace("big.txt", "x = 1", "x = 2")])
    assert target.stat().st_size == 6_000_000


def test_path_outside_the_workspace_is_refused(tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    outside = write(tmp_path / "secret.txt", b"keep\n")
    with pytest.raises(EditRefused, match="outside the workspace"):
        apply_edits(workspace, [str_replace("../secret.txt", "keep", "lost")])
    with pytest.raises(EditRefused, match="outside the workspace"):
        apply_edits(workspace, [whole_file(str(outside), "lost\n")])
    assert outside.read_bytes() == b"keep\n"


def test_symlink_escaping_the_workspace_is_refused(tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    outside = write(tmp_path / "target.txt", b"keep\n")
    os.symlink(outside, workspace / "link.txt")
    with pytest.raises(EditRefused, match="outside the workspace"):
        apply_edits(workspace, [str_replace("link.txt", "keep", "lost")])
    with pytest.raises(EditRefused, match="outside the workspace"):
        apply_edits(workspace, [whole_file("link.txt", "lost\n")])
    assert outside.read_bytes() == b"keep\n"


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(EditRefused, match="no such file"):
        apply_edits(tmp_path, [FileEdit("nope.py", ())])


RENAME_DIFF = """diff --git a/pkg/utility.py b/pkg/utils.py
similarity index 90%
rename from pkg/utility.py
rename to pkg/utils.py
--- a/pkg/utility.py
+++ b/pkg/utils.py
@@ -1,2 +1,2 @@
 def spline(x):
-    return x
+    return x * 2
diff --git a/pkg/__init__.py b/pkg/__init__.py
--- a/pkg/__init__.py
+++ b/pkg/__init__.py
@@ -1 +1 @@
-from pkg import utility
+from pkg import utils
"""


def test_a_diff_that_renames_a_file_moves_it_with_its_changes(tmp_path):
    """git writes a moved file as `rename from` / `rename to` with hunks against the old path (pvlib-1048's fix)."""
    from loopwright.tools.editing.formats import unified_diff

    write(tmp_path / "pkg" / "utility.py", b"def spline(x):\n    return x\n")
    write(tmp_path / "pkg" / "__init__.py", b"from pkg import utility\n")
    applied = apply_edits(tmp_path, unified_diff(RENAME_DIFF))
    assert not (tmp_path / "pkg" / "utility.py").exists()
    assert (tmp_path / "pkg" / "utils.py").read_bytes() == b"def spline(x):\n    return x * 2\n"
    assert (tmp_path / "pkg" / "__init__.py").read_bytes() == b"from pkg import utils\n"
    moved = next(a for a in applied if a.renamed_from)
    assert (moved.path, moved.renamed_from) == ("pkg/utils.py", "pkg/utility.py")
    assert moved.diff.startswith("diff --git a/pkg/utility.py b/pkg/utils.py\nrename from pkg/utility.py\nrename to pkg/utils.py\n")
    assert "+    return x * 2" in moved.diff


def test_a_rename_onto_an_existing_file_is_refused_and_nothing_changes(tmp_path):
    from loopwright.tools.editing.formats import unified_diff

    write(tmp_path / "pkg" / "utility.py", b"def spline(x):\n    return x\n")
    write(tmp_path / "pkg" / "utils.py", b"KEEP = 1\n")
    write(tmp_path / "pkg" / "__init__.py", b"from pkg import utility\n")
    with pytest.raises(EditRefused, match="pkg/utils.py: already exists; the diff renames pkg/utility.py to it"):
        apply_edits(tmp_path, unified_diff(RENAME_DIFF))
    assert (tmp_path / "pkg" / "utils.py").read_bytes() == b"KEEP = 1\n"
    assert (tmp_path / "pkg" / "utility.py").exists() and (tmp_path / "pkg" / "__init__.py").read_bytes() == b"from pkg import utility\n"


def test_a_pure_rename_moves_the_file_unchanged(tmp_path):
    from loopwright.tools.editing.formats import unified_diff

    write(tmp_path / "old.txt", b"same\r\n")
    diff = "diff --git a/old.txt b/new.txt\nsimilarity index 100%\nrename from old.txt\nrename to new.txt\n"
    [applied] = apply_edits(tmp_path, unified_diff(diff))
    assert (tmp_path / "new.txt").read_bytes() == b"same\r\n" and not (tmp_path / "old.txt").exists()
    assert applied.renamed_from == "old.txt"


def test_a_change_to_a_path_the_same_diff_renamed_away_is_refused(tmp_path):
    from loopwright.tools.editing.formats import unified_diff

    write(tmp_path / "pkg" / "utility.py", b"def spline(x):\n    return x\n")
    write(tmp_path / "pkg" / "__init__.py", b"from pkg import utility\n")
    later = RENAME_DIFF + "--- a/pkg/utility.py\n+++ b/pkg/utility.py\n@@ -1,2 +1,2 @@\n def spline(x):\n-    return x\n+    return -x\n"
    with pytest.raises(EditRefused, match="pkg/utility.py: the diff renames it away, then changes it there"):
        apply_edits(tmp_path, unified_diff(later))
    assert (tmp_path / "pkg" / "utility.py").read_bytes() == b"def spline(x):\n    return x\n" and not (tmp_path / "pkg" / "utils.py").exists()
