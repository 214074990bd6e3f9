"""The test command comes from evidence: the project's main language, not the first manifest found."""

from __future__ import annotations

import json

from loopwright.sandboxes.toolchains.node import script_command
from loopwright.testdetect import CARGO, GO, PYTEST, detect, main_language
from tests.repos import make_repo

PACKAGE_JSON = json.dumps({"name": "docs", "scripts": {"test": "jest", "docs": "vitepress build docs"}})


def test_a_python_project_with_a_package_json_for_its_docs_gets_pytest(tmp_path):
    repo = make_repo(tmp_path / "repo", {
        "package.json": PACKAGE_JSON,
        "package-lock.json": "{}",
        "docs/.vitepress/config.js": "export default {}\n",
        "docs/theme.js": "export const theme = {}\n",
        "pyproject.toml": "[project]\nname = 'calc'\n",
        "src/calc/__init__.py": "",
        "src/calc/core.py": "def add(a, b):\n    return a + b\n",
        "tests/test_core.py": "from calc.core import add\n",
    })
    assert main_language(repo) == "python"
    assert detect(repo) == PYTEST


def test_a_javascript_project_gets_npm_test(tmp_path):
    repo = make_repo(tmp_path / "repo", {
        "package.json": PACKAGE_JSON,
        "package-lock.json": "{}",
        "src/index.ts": "export const x = 1\n",
        "src/util.ts": "export const y = 2\n",
        "test/index.test.ts": "test('x', () => {})\n",
        "scripts/release.py": "print('release')\n",  # a helper script does not make it a Python project
        "node_modules/left-pad/index.js": "module.exports = 1\n",
    })
    assert main_language(repo) == "javascript"
    assert detect(repo) == script_command(json.loads(PACKAGE_JSON))[0]


def test_a_javascript_project_without_a_test_script_falls_back(tmp_path):
    repo = make_repo(tmp_path / "repo", {"package.json": json.dumps({"name": "x"}), "index.js": "1\n"})
    assert main_language(repo) == "javascript" and detect(repo) == PYTEST


def test_dependencies_and_build_output_are_not_evidence(tmp_path):
    files = {f"node_modules/dep{n}/index.js": "1\n" for n in range(30)}
    files |= {f"docs/_build/html/_static/lib{n}.js": "1\n" for n in range(30)}
    files |= {"app.py": "", "test_app.py": "", "package.json": PACKAGE_JSON}
    assert detect(make_repo(tmp_path / "repo", files)) == PYTEST


def test_go_and_rust_by_their_sources(tmp_path):
    go = make_repo(tmp_path / "go", {"go.mod": "module x\n", "main.go": "package main\n", "tools/gen.py": ""})
    rust = make_repo(tmp_path / "rust", {"Cargo.toml": "[package]\n", "src/lib.rs": "", "src/main.rs": ""})
    assert (detect(go), detect(rust)) == (GO, CARGO)


def test_an_empty_folder_gets_pytest(tmp_path):
    assert main_language(tmp_path) is None and detect(tmp_path) == PYTEST


def test_c_and_cpp_need_their_own_build_file_and_a_python_manifest_keeps_a_python_project(tmp_path):
    sources = {f"src/part{n}.c": "int f(void) { return 0; }\n" for n in range(8)} | {"src/part.h": "int f(void);\n"}
    cmake = make_repo(tmp_path / "cmake", {**sources, "CMakeLists.txt": "project(x C)\n", "tools/gen.py": ""})
    extension = make_repo(tmp_path / "ext", {**sources, "setup.py": "from setuptools import setup\n", "Makefile": "all:\n", "pkg/__init__.py": ""})
    loose = make_repo(tmp_path / "loose", {**sources, "run.py": ""})
    linted = make_repo(tmp_path / "lint", {"Makefile": "lint:\n\truff .\n", "app.py": ""})
    assert main_language(cmake) == "cpp" and detect(cmake).startswith("cmake -S . -B ")
    assert (main_language(extension), main_language(loose), main_language(linted)) == ("python", "python", "python")


def test_make_projects_get_their_test_or_check_target_and_java_is_recognised(tmp_path):
    check = make_repo(tmp_path / "make", {"Makefile": "all:\n\tcc -o x x.c\ncheck: all\n\t./x\n", "x.c": "int main(void) { return 0; }\n"})
    java = make_repo(tmp_path / "java", {"pom.xml": "<project/>\n", "src/main/java/A.java": "class A {}\n", "scripts/x.py": ""})
    assert detect(check) == "make check"
    assert main_language(java) == "java" and " -o test -fae" in detect(java) and "javac" in detect(java)


def test_scripts_without_a_package_json_are_no_javascript_project(tmp_path):
    files = {f"docs/search/all_{n}.js": "var searchData = [];\n" for n in range(40)}
    files |= {"CMakeLists.txt": "project(x CXX)\nenable_testing()\n", "x.cpp": "int f() { return 0; }\n", "x.h": "int f();\n", "setversion.py": ""}
    repo = make_repo(tmp_path / "repo", files)
    assert main_language(repo) == "cpp" and detect(repo).startswith("cmake -S . -B ")
