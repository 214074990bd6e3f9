"""Tools on a real workspace (no sandbox needed for file tools)."""

from __future__ import annotations

import os

import pytest

from loopwright.tools import testreport
from loopwright.tools.base import ToolContext, ToolFailure, schema_of
from loopwright.tools.list_files import ListFiles
from loopwright.tools.read_file import ReadFile
from loopwright.tools.registry import default_tools
from loopwright.tools.search import Search
from loopwright.tools.write_file import WriteFile


@pytest.fixture
def ctx(tmp_path):
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("".join(f"line {n}\n" for n in range(1, 501)))
    (root / "pkg" / "b.py").write_text("def target():\n    return 1\n")
    (root / "build").mkdir()
    (root / "build" / "gen.py").write_text("def target():\n    pass\n")
    (root / "secret.log").write_text("target\n")
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / "pkg" / ".gitignore").write_text("local_only.py\n")
    (root / "pkg" / "local_only.py").write_text("target = 3\n")
    return ToolContext(root=root, sandbox=None, test_command="true")  # type: ignore[arg-type]


def run(tool, ctx, **args):
    return tool.run(tool.Args(**args), ctx)


def test_read_file_numbers_lines_and_pages(ctx):
    out = run(ReadFile(), ctx, path="pkg/a.py", start_line=10, end_line=12).text
    assert out.splitlines()[1:] == ["10\tline 10", "11\tline 11", "12\tline 12", "[lines 10-12 of 500; read on with start_line=13]"]
    whole = run(ReadFile(), ctx, path="pkg/a.py").text
    assert "400\tline 400" in whole and "401\t" not in whole and "start_line=401" in whole


def test_read_file_refusals(ctx, tmp_path):
    (tmp_path / "outside.txt").write_text("x")
    os.symlink(tmp_path / "outside.txt", ctx.root / "link.txt")
    (ctx.root / "blob.bin").write_bytes(b"\x00\x01\x02")
    for path, message in [("../outside.txt", "outside the workspace"), ("link.txt", "outside the workspace"),
                          ("blob.bin", "binary file"), ("missing.py", "no such file"), ("pkg", "is a directory")]:
        with pytest.raises(ToolFailure, match=message):
            run(ReadFile(), ctx, path=path)


def test_search_honours_gitignore_at_every_level(ctx):
    out = run(Search(), ctx, pattern=r"target").text
    assert out.splitlines() == ["pkg/b.py:1: def target():"]
    assert run(Search(), ctx, pattern="line 49[0-9]", glob="*.py").text.count("\n") == 9
    with pytest.raises(ToolFailure, match="bad regular expression"):
        run(Search(), ctx, pattern="(")


def test_list_files_skips_ignored(ctx):
    assert run(ListFiles(), ctx).text.splitlines() == [".gitignore", "pkg/.gitignore", "pkg/a.py", "pkg/b.py"]


def test_write_file_creates_directories_and_refuses_escape(ctx):
    out = run(WriteFile(), ctx, path="new/dir/c.py", content="x = 1\n")
    assert out.changed_files == ("new/dir/c.py",) and (ctx.root / "new/dir/c.py").read_text() == "x = 1\n"
    with pytest.raises(ToolFailure, match="outside"):
        run(WriteFile(), ctx, path="/etc/passwd", content="")


def test_every_tool_has_a_json_schema():
    for tool in default_tools():
        schema = schema_of(tool)
        assert schema["type"] == "object" and "title" not in schema, tool.name


PYTEST_OUTPUT = """\
F.                                                                       [100%]
=================================== FAILURES ===================================
___________________________________ test_add ___________________________________
tests/test_calc.py:5: in test_add
    assert add(2, 3) == 5
E   assert -1 == 5
E    +  where -1 = add(2, 3)
=========================== short test summary info ============================
FAILED tests/test_calc.py::test_add - assert -1 == 5
1 failed, 1 passed in 0.03s
"""


def test_pytest_report_is_compact_and_structured():
    report = testreport.parse(PYTEST_OUTPUT, 1)
    assert not report.passed
    assert report.counts == {"failed": 1, "passed": 1}
    assert [f.test_id for f in report.failures] == ["tests/test_calc.py::test_add"]
    rendered = report.render()
    assert rendered.startswith("Tests FAILED. exit code 1; 1 failed, 1 passed")
    assert "FAILED tests/test_calc.py::test_add - assert -1 == 5" in rendered
    assert "tests/test_calc.py:5: in test_add" in rendered and "E    +  where -1 = add(2, 3)" in rendered


def test_unknown_runner_keeps_exit_code_and_tail():
    report = testreport.parse("compiling\nerror: boom\n", 2)
    assert not report.passed and report.failures == ()
    assert "error: boom" in report.render()
    assert testreport.parse("ok\n", 0).render().startswith("Tests PASSED")
    assert testreport.parse("", 124, timed_out=True).render().startswith("Tests TIMED OUT")


def test_paths_as_the_sandbox_shows_them_reach_the_workspace(ctx):
    from types import SimpleNamespace

    from loopwright.tools.edit_file import EditFile

    ctx.sandbox = SimpleNamespace(workdir="/workspace")
    assert "1\tdef target():" in run(ReadFile(), ctx, path="/workspace/pkg/b.py").text
    assert run(ListFiles(), ctx, path="/workspace").text.splitlines()[0] == ".gitignore"
    out = run(EditFile(), ctx, path="/workspace/pkg/b.py", old_string="return 1", new_string="return 2")
    assert out.changed_files == ("pkg/b.py",) and "return 2" in (ctx.root / "pkg/b.py").read_text()
    with pytest.raises(ToolFailure, match="outside the workspace"):
        run(ReadFile(), ctx, path="/workspaces/pkg/b.py")


def test_frames_are_found_for_class_methods_and_parameters_with_dots():
    output = (
        "___________________________ TestCalc.test_add[1.5] ____________________________\n"
        "tests/test_calc.py:9: in test_add\n    assert add(x, 1) == 2.5\nE   assert 0.5 == 2.5\n"
        "=========================== short test summary info ============================\n"
        "FAILED tests/test_calc.py::TestCalc::test_add[1.5] - assert 0.5 == 2.5\n"
        "1 failed in 0.01s\n"
    )
    (failure,) = testreport.parse(output, 1).failures
    assert failure.test_id == "tests/test_calc.py::TestCalc::test_add[1.5]"
    assert "E   assert 0.5 == 2.5" in failure.frames and "tests/test_calc.py:9: in test_add" in failure.frames
