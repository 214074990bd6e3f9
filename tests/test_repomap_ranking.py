"""What the map gives room to: top-ranked files each get a place, named files come first, tests come after code."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from loopwright.repomap import render_map
from loopwright.repomap.roles import is_secondary


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    subprocess.run(["git", "-C", str(root), "init", "-q"], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    return root


def _files(text: str) -> list[str]:
    """Files in map order: `path:` headers and bare path lines."""
    return [line.removesuffix(":") for line in text.splitlines() if line and not line[0].isspace() and "│" not in line]


def _big_file_tree(root: Path) -> Path:
    """One module of 200 small methods that every plugin uses, and 60 one-function modules in a ring."""
    methods = "".join(f"    def operation_{k}(self, value):\n        return value\n\n" for k in range(200))
    files = {"core/engine.py": f"class Engine:\n{methods}"}
    for j in range(40):
        calls = "".join(f"    engine.operation_{(j * 5 + k) % 200}(1)\n" for k in range(5))
        files[f"plugins/plugin_{j}.py"] = f"from core.engine import Engine\n\n\ndef run_plugin_{j}(engine: Engine):\n{calls}"
    for j in range(60):
        files[f"small/helper_{j}.py"] = (
            f"from small import helper_{(j + 1) % 60}\n\n\n"
            f"def compute_helper_{j}(value):\n    return helper_{(j + 1) % 60}.compute_helper_{(j + 1) % 60}(value)\n"
        )
    return _tree(root, files)


def test_a_top_ranked_file_with_many_definitions_gets_a_place(tmp_path: Path) -> None:
    root = _big_file_tree(tmp_path / "tree")
    text = render_map(root, "", 512)
    files = _files(text)
    assert "core/engine.py" in files, text
    assert files.index("core/engine.py") < 3
    block = text.split("core/engine.py:\n", 1)[1]
    assert block.startswith("    1│class Engine:\n") and "def operation_" in block.split("\n", 2)[1]


def test_places_leave_room_for_details_of_the_best_files(tmp_path: Path) -> None:
    root = _big_file_tree(tmp_path / "tree")
    text = render_map(root, "Engine operation_7 returns the wrong value", 1024)
    block = text.split("core/engine.py:\n", 1)[1].split("\n\n", 1)[0]
    shown = [line for line in block.splitlines() if "def operation_" in line]
    assert "def operation_7(" in text and len(shown) >= 3


def test_files_the_query_names_by_path_or_module_come_first(tmp_path: Path) -> None:
    root = _big_file_tree(tmp_path / "tree")
    text = render_map(root, "Since the change to small/helper_41.py, small.helper_17 fails; Engine is fine", 400)
    assert set(_files(text)[:2]) == {"small/helper_17.py", "small/helper_41.py"}
    assert "core/engine.py" in _files(text)


def _tests_tree(root: Path) -> Path:
    files = {
        "pkg/__init__.py": "",
        "pkg/parser.py": "def parse_header(data):\n    return data[:4]\n\n\ndef parse_body(data):\n    return parse_header(data)\n",
        "pkg/reader.py": "from pkg.parser import parse_body\n\n\nclass Reader:\n    def read(self, data):\n        return parse_body(data)\n",
        "tests/test_parser.py": (
            "from pkg.parser import parse_header\n\n\ndef test_parse_header_empty_input():\n    assert parse_header(b'') == b''\n"
        ),
        "docs/index.rst": "Parser\n======\n",
    }
    for j in range(40):  # functional test cases: tiny modules that define the very names the code does
        files[f"tests/functional/p/case_{j}.py"] = f"def parse_header(data):\n    return {j}\n\n\nclass Reader:\n    pass\n"
    files["tests/functional/p/parse_header.py"] = "def parse_header(data):\n    return None\n"  # named after what it tests
    files["tests/functional/r/reader.py"] = "class Reader:\n    pass\n"
    for j in range(200):
        files[f"tests/fixtures/headers/sample_{j}.txt"] = "HEAD\n"
    files["tests/fixtures/empty_input.txt"] = "\n"
    files["pkg/messages_pb2.py"] = "class Reader:\n    pass\n\n\ndef parse_header(data):\n    return data\n"
    return _tree(root, files)


def test_tests_fixtures_and_generated_files_rank_below_the_code(tmp_path: Path) -> None:
    root = _tests_tree(tmp_path / "tree")
    files = _files(render_map(root, "parse_header breaks the Reader on empty_input", 1024))
    assert set(files[:2]) == {"pkg/parser.py", "pkg/reader.py"}
    first_secondary = min(files.index(f) for f in files if is_secondary(f))
    assert all(files.index(code) < first_secondary for code in ("pkg/parser.py", "pkg/reader.py"))


def test_tests_rank_first_when_the_query_points_at_them(tmp_path: Path) -> None:
    root = _tests_tree(tmp_path / "tree")
    by_path = _files(render_map(root, "tests/functional/p/case_7.py gives the wrong answer", 300))
    assert by_path[0] == "tests/functional/p/case_7.py"
    by_name = _files(render_map(root, "test_parse_header_empty_input fails since Reader.read changed", 300))
    assert by_name.index("tests/test_parser.py") < by_name.index("pkg/reader.py")
    assert not any(is_secondary(f) for f in by_name[: by_name.index("tests/test_parser.py")])


@pytest.mark.parametrize(
    ("path", "secondary"),
    [
        ("tests/functional/u/unused_variable.py", True),
        ("pydicom/data/test_files/rle.dcm", True),
        ("test/fixtures/rules/std_rule_cases/L031.yml", True),
        ("src/pkg/test_utils.py", True),
        ("pkg/parser_test.go", True),
        ("web/app.spec.ts", True),
        ("conftest.py", True),
        ("api/service_pb2.py", True),
        ("static/jquery.min.js", True),
        ("poetry.lock", True),
        ("pkg/_vendor/six.py", True),
        ("src/sqlfluff/rules/L031.py", False),
        ("pvlib/irradiance.py", False),
        ("astroid/brain/brain_builtin_inference.py", False),
        ("docs/testing.rst", False),
        ("pkg/contest.py", False),
        ("latest/attestation.py", False),
    ],
)
def test_roles_from_paths(path: str, secondary: bool) -> None:
    assert is_secondary(path) is secondary
