"""The environment plan on real project files: what is installed and why, the Python chosen, installer failures read."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from loopwright.config import SandboxSettings
from loopwright.sandboxes.deps import find_requirement_files, read_tox
from loopwright.sandboxes.envplan import FULL, NOTHING, PROJECT, TESTS, make_plan
from loopwright.sandboxes.envreport import SetupReport, parse_failures
from loopwright.sandboxes.envsetup import parse_collection
from loopwright.sandboxes.project import read_project
from loopwright.sandboxes.pyversions import Candidate, PythonChoiceError, choose, read_hints
from loopwright.sandboxes.workcopy import write_archive

IMAGES = [Candidate("3.9", "sandbox:py3.9"), Candidate("3.11", "sandbox:latest"), Candidate("3.13", "sandbox:py3.13")]

# A setup.py written the way marshmallow's was in 2019: extras built up in module-level names.
SETUP_PY_NAMES = """\
import re
from setuptools import setup, find_packages

EXTRAS_REQUIRE = {
    'reco': ['python-dateutil', 'simplejson'],
    'tests': ['pytest', 'pytz'],
    'lint': ['flake8==3.7.4'],
}
EXTRAS_REQUIRE['dev'] = EXTRAS_REQUIRE['reco'] + EXTRAS_REQUIRE['tests'] + ['tox']
REQUIRES = ['six']
REQUIRES += ['attrs>=19']

def find_version(fname):
    return re.search('x', open(fname).read())

setup(
    name='demo',
    version=find_version('demo/__init__.py'),
    install_requires=REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    python_requires='>=3.6',
    classifiers=['Programming Language :: Python :: 3.6', 'Programming Language :: Python :: 3.7'],
)
"""

# pydicom's 2020 form: every argument in a dict handed over with **opts, under a __main__ guard.
SETUP_PY_OPTS = """\
from setuptools import setup
exec(open('pkg/_version.py').read())
TESTS_REQUIRE = ['pytest']
CLASSIFIERS = ["Programming Language :: Python :: 3.5", "Programming Language :: Python :: 3.8"]
opts = dict(name="pkg", version=__version__, python_requires='>=3.5', classifiers=CLASSIFIERS,
            install_requires=[], tests_require=TESTS_REQUIRE)
if __name__ == '__main__':
    setup(**opts)
"""


def write(root, files: dict[str, str]):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_setup_py_is_read_as_text_through_names_and_additions(tmp_path):
    write(tmp_path, {"setup.py": SETUP_PY_NAMES + "\nraise SystemExit('never run')\n"})
    project = read_project(tmp_path)
    assert project.installable and project.name == "demo"
    assert project.dependencies == ("six", "attrs>=19")
    assert project.extras["dev"] == ("python-dateutil", "simplejson", "pytest", "pytz", "tox")
    assert (project.requires_python, project.requires_python_from) == (">=3.6", "setup.py python_requires")


def test_setup_py_opts_dict_and_tests_require(tmp_path):
    write(tmp_path, {"setup.py": SETUP_PY_OPTS, "pkg/__init__.py": ""})
    project = read_project(tmp_path)
    assert (project.name, project.tests_require, project.requires_python) == ("pkg", ("pytest",), ">=3.5")
    plan = make_plan(tmp_path, "3.9")
    assert plan.steps[0].level == FULL and plan.steps[0].editable == "."
    assert plan.steps[0].requirements == ("pytest",)
    assert plan.packages == ("pkg",)


def test_setup_cfg_and_computed_setup_py_arguments(tmp_path):
    write(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\nsetup(install_requires=open('requirements.txt').read().split())\n",
            "requirements.txt": "requests\n",
            "setup.cfg": "[metadata]\nname = cfgproj\n[options]\npython_requires = >=3.8\n[options.extras_require]\ntesting =\n    pytest-mock\n    hypothesis\n",
        },
    )
    project = read_project(tmp_path)
    assert project.requirement_files == ("requirements.txt",)
    assert project.extras == {"testing": ("pytest-mock", "hypothesis")}
    assert project.requires_python_from == "setup.cfg python_requires"
    plan = make_plan(tmp_path, "3.11")
    assert plan.steps[0].editable == ".[testing]" and plan.steps[0].requirement_files == ("requirements.txt",)


def test_docs_and_minimum_pins_stay_out_of_the_test_install(tmp_path):
    """The cause of ResolutionImpossible in real projects: docs and minimum-version pins in one installer call."""
    write(
        tmp_path,
        {
            "requirements.txt": "attrs\n",
            "requirements-docs.txt": "sphinx==4.0\nattrs==19.1\n",
            "requirements/test.txt": "-r ../requirements.txt\npytest==8.0\n-e .[speed]\n",
            "requirements/typing.txt": "mypy\n",
            "requirements/minimum-versions.txt": "attrs==17.4\n",
            "dev-requirements.txt": "black\n",
            "pyproject.toml": '[project]\nname = "p"\n[project.optional-dependencies]\nspeed = ["orjson"]\ndocs = ["sphinx"]\n',
        },
    )
    kinds = {f.path: f.kind for f in find_requirement_files(tmp_path)}
    assert kinds == {
        "requirements.txt": "base",
        "requirements-docs.txt": "docs",
        "dev-requirements.txt": "dev",
        "requirements/test.txt": "test",
        "requirements/typing.txt": "lint",
        "requirements/minimum-versions.txt": "pins",
    }
    plan = make_plan(tmp_path, "3.11")
    full = plan.steps[0]
    assert full.requirement_files == ("requirements.txt", "requirements/test.txt")
    assert full.editable == ".[speed]" and "pytest" in full.requirements
    assert plan.staged.files()["requirements/test.txt"] == b"-r ../requirements.txt\npytest==8.0\n"
    assert [step.level for step in plan.steps] == [FULL, TESTS, PROJECT, NOTHING]
    assert any("leaves out requirements-docs.txt: docs" in line for line in plan.decisions)
    assert plan.staged.without("attrs").files()["requirements.txt"] == b"\n"


def test_tox_test_environment_gives_deps_and_extras(tmp_path):
    write(
        tmp_path,
        {
            "tox.ini": "[tox]\nenvlist = py{39,311}-django{3,4}, lint\n[base]\ndeps = mock\n[testenv]\nextras = tests\ndeps =\n"
            "    {[base]deps}\n    py39: importlib-metadata\n    py27: funcsigs\n    -r{toxinidir}/ci/reqs.txt\n    {env:EXTRA:}\n",
            "ci/reqs.txt": "freezegun\n",
            "setup.py": "from setuptools import setup\nsetup(name='t', extras_require={'tests': ['pytest']})\n",
        },
    )
    tox = read_tox(tmp_path, "3.9")
    assert tox.deps == ("mock", "importlib-metadata") and tox.extras == ("tests",) and tox.requirement_files == ("ci/reqs.txt",)
    plan = make_plan(tmp_path, "3.9")
    assert plan.steps[0].editable == ".[tests]"
    assert plan.steps[0].requirement_files == ("ci/reqs.txt",)
    hints = read_hints(tmp_path, read_project(tmp_path))
    assert hints.declared["tox envlist"] == ((3, 9), (3, 11))


def test_pytest_is_added_when_undeclared_and_src_layout_goes_on_the_path(tmp_path):
    write(tmp_path, {"pyproject.toml": '[project]\nname = "lib"\ndependencies = ["six"]\n', "src/lib/__init__.py": ""})
    plan = make_plan(tmp_path, "3.11")
    assert "adds pytest: the project does not declare it" in plan.decisions
    tests_step = next(step for step in plan.steps if step.level == TESTS)
    assert tests_step.requirements == ("six", "pytest") and tests_step.path_entries == ("src",)
    assert plan.packages == ("lib",)


def test_cache_key_follows_what_defines_the_environment(tmp_path):
    write(tmp_path, {"pyproject.toml": '[project]\nname = "k"\n', "requirements-test.txt": "six\n"})
    key = make_plan(tmp_path, "3.11").cache_key("sha256:a", "3.11")
    assert make_plan(tmp_path, "3.11").cache_key("sha256:a", "3.11") == key
    assert make_plan(tmp_path, "3.11").cache_key("sha256:b", "3.11") != key
    assert make_plan(tmp_path, "3.11", ("make build",)).cache_key("sha256:a", "3.11") != key
    (tmp_path / "requirements-test.txt").write_text("six==1.16\n")
    assert make_plan(tmp_path, "3.11").cache_key("sha256:a", "3.11") != key
    (tmp_path / "src.py").write_text("x = 1\n")
    (tmp_path / "requirements-test.txt").write_text("six\n")
    assert make_plan(tmp_path, "3.11").cache_key("sha256:a", "3.11") == key


@pytest.mark.parametrize(
    "files, chosen, why",
    [
        ({"pyproject.toml": '[project]\nname="a"\nrequires-python = ">=3.12"\n'}, "3.13", "newest available Python within"),
        ({"pyproject.toml": '[project]\nname="a"\nrequires-python = ">=3.6,<3.10"\n'}, "3.9", "newest available Python within"),
        ({"pyproject.toml": '[project]\nname="a"\nrequires-python = ">=3.14"\n'}, "3.13", "matches no available Python"),
        ({"setup.py": SETUP_PY_NAMES}, "3.9", "3.9 is the nearest"),
        ({"pyproject.toml": '[project]\nname="a"\nclassifiers=["Programming Language :: Python :: 3.11"]\n'}, "3.11", "names"),
        ({"pyproject.toml": '[project]\nname="a"\n', ".python-version": "3.9.18\n"}, "3.9", ".python-version pins 3.9"),
        (
            {"pyproject.toml": '[project]\nname="a"\n', ".github/workflows/ci.yml": "jobs:\n  t:\n    strategy:\n      matrix:\n        python-version:\n          - '3.10'\n          - \"3.11\"\n          - pypy3.9\n"},
            "3.11",
            "CI matrix 3.10-3.11",
        ),
        ({"pyproject.toml": '[project]\nname="a"\n'}, "3.13", "names no Python version"),
    ],
)
def test_python_is_chosen_from_the_project(tmp_path, files, chosen, why):
    write(tmp_path, files)
    choice = choose(IMAGES, read_hints(tmp_path, read_project(tmp_path)))
    assert choice.candidate.version == chosen and why in choice.reason, choice.reason


def test_an_asked_for_python_wins_and_an_unknown_one_is_one_line(tmp_path):
    write(tmp_path, {"pyproject.toml": '[project]\nname="a"\nrequires-python = ">=3.12"\n'})
    hints = read_hints(tmp_path, read_project(tmp_path))
    assert choose(IMAGES, hints, "3.9").candidate.image == "sandbox:py3.9"
    with pytest.raises(PythonChoiceError) as missing:
        choose(IMAGES, hints, "3.10")
    assert str(missing.value).startswith("no sandbox image has Python 3.10 (have 3.9, 3.11, 3.13); build one")
    with pytest.raises(PythonChoiceError, match=r"^'banana' is not a Python version"):
        choose(IMAGES, hints, "banana")
    with pytest.raises(PythonChoiceError, match="loopwright sandbox build --release bullseye"):
        choose(IMAGES[1:], hints, "3.9")
    for message in (str(missing.value),):
        assert "\n" not in message
    with pytest.raises(ValueError, match="not a Python version"):
        SandboxSettings(python="three")


UV_MISSING = """Using Python 3.11.2 environment at: /opt/loopwright/venv
error: No solution found when resolving dependencies
  cause: Because loopwright-no-such-zz was not found in the package registry and you require loopwright-no-such-zz==1.0, we can conclude that your requirements are unsatisfiable.
"""
UV_CONFLICT = """error: No solution found when resolving dependencies
  cause: Because pytest==7.0.0 depends on pluggy>=0.12,<2.0 and you require pytest==7.0, we can conclude that you require pluggy>=0.12,<2.0.
         And because you require pluggy>=2, we can conclude that your requirements are unsatisfiable.
"""
UV_BUILD = """Resolved 1 package in 410ms
error: Failed to build `numpy==1.19.5`
  cause: The build backend returned an error
  cause: Call to `setuptools.build_meta:__legacy__.build_wheel` failed (exit status: 1)

         [stderr]
         Traceback (most recent call last):
           File "numpy/core/setup.py", line 663, in get_mathlib_info
         RuntimeError: Broken toolchain: cannot link a simple C program

hint: Build failures usually indicate a problem with the package or the build environment
"""
UV_PROJECT = """error: The build backend returned an error
  cause: Call to `setuptools.build_meta:__legacy__.get_requires_for_build_editable` failed (exit status: 1)

         [stderr]
         boom in setup
"""
UV_OFFLINE = """error: Request failed after 3 retries in 7.1s
  cause: Failed to fetch: http://127.0.0.1:9/simple/six/
  cause: tcp connect error
  cause: Connection refused (os error 111)
"""
PIP_CONFLICT = """ERROR: Cannot install -r requirements-docs.txt (line 1) and -r requirements-test.txt (line 2) because these package versions have conflicting dependencies.

The conflict is caused by:
    The user requested attrs==19.1
    The user requested attrs==23.1

ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/
"""


@pytest.mark.parametrize(
    "output, what, reason, names, network",
    [
        (UV_MISSING, "loopwright-no-such-zz", "not found in the package index", ("loopwright-no-such-zz",), False),
        (UV_CONFLICT, "pluggy", "conflict: Because pytest==7.0.0 depends on pluggy>=0.12,<2.0", ("pytest", "pluggy"), False),
        (UV_BUILD, "numpy", "build failed: RuntimeError: Broken toolchain: cannot link a simple C program", ("numpy",), False),
        (UV_PROJECT, "the project", "build failed: boom in setup", (), False),
        (UV_OFFLINE, "the package index", "Request failed after 3 retries", (), True),
        (PIP_CONFLICT, "attrs", "conflict: attrs==19.1; attrs==23.1", ("attrs",), False),
        ("ERROR: No matching distribution found for zz-missing==2\n", "zz-missing", "no version matches zz-missing==2", ("zz-missing",), False),
    ],
)
def test_installer_failures_name_the_package_and_the_reason(output, what, reason, names, network):
    failure = parse_failures(output, FULL)[0]
    assert failure.what == what and failure.reason.startswith(reason), failure
    assert failure.names == names and failure.network is network
    assert "\n" not in failure.line() and failure.line().endswith(f"[{FULL}]")


def test_report_round_trips_through_its_label_and_collection_counts_parse():
    report = SetupReport(python="3.9.2", python_reason="asked", image="loopwright-env:abc", base_image="b", level=TESTS,
                         failures=tuple(parse_failures(UV_MISSING, FULL)), packages=("six==1.16.0",))
    assert SetupReport.from_json(report.to_json()) == report
    assert SetupReport.from_json("{not json") is None
    assert "Could not install loopwright-no-such-zz: not found in the package index" in report.summary()
    assert parse_collection("a.py::t\n\n772 tests collected in 0.81s\n") == (772, 0)
    assert parse_collection("3 tests collected, 2 errors in 0.3s\n") == (3, 2)
    assert parse_collection("no tests collected, 1 error in 0.1s") == (0, 1)
    assert parse_collection("ImportError while loading conftest") == (None, None)


def test_setup_commands_and_python_come_from_the_repository_config_and_the_environment(tmp_path):
    from loopwright.settings import SettingsError, load

    (tmp_path / "loopwright.toml").write_text('test_command = "make test"\n[sandbox]\nsetup = ["make build"]\npython = "3.9"\n')
    config = load(tmp_path, environ={}).config
    assert (config.test_command, config.sandbox.setup, config.sandbox.python) == ("make test", ["make build"], "3.9")
    assert load(tmp_path, environ={"LOOPWRIGHT_SANDBOX_SETUP": "apt-get update"}).config.sandbox.setup == ["apt-get update"]
    with pytest.raises(SettingsError, match=r"^--python: sandbox.python: .*'3' is not a Python version"):
        load(tmp_path, {"sandbox.python": ("3", "--python")}, environ={})


def test_the_model_is_told_what_the_setup_phase_could_not_install(tmp_path):
    from types import SimpleNamespace

    from loopwright.session import system_prompt

    report = SetupReport(python="3.9.2", python_reason="asked", image="loopwright-env:abc", base_image="b", level=TESTS,
                         installed="-r requirements-test.txt, pytest", failures=tuple(parse_failures(UV_BUILD, FULL)), venv="/opt/loopwright/venv")
    box = SimpleNamespace(workdir="/workspace", setup_report=report)
    prompt = system_prompt(box, "python3 -m pytest", False, ("", ""))
    assert "Python 3.9.2 in a virtual environment (/opt/loopwright/venv), first on PATH." in prompt
    assert "Could not install numpy: build failed: RuntimeError: Broken toolchain: cannot link a simple C program [project+tests]" in prompt
    assert "The environment" not in system_prompt(SimpleNamespace(workdir="/workspace"), "pytest", False, ("", ""))


def test_the_setup_copy_leaves_out_ignored_files_git_config_and_venvs_and_keeps_real_times(tmp_path):
    write(tmp_path, {"pkg/__init__.py": "", ".gitignore": ".env\nbuild/\n", ".env": "TOKEN=x\n", "build/out.txt": "x\n", "venv/pyvenv.cfg": "home = /usr\n"})
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "config", "remote.origin.url", "https://user:TOKEN@example.org/r.git"], cwd=tmp_path, check=True)
    (tmp_path / "old.py").write_text("")
    os.utime(tmp_path / "old.py", (0, 0))
    buffer = io.BytesIO()
    write_archive(tmp_path, buffer, "workspace")
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        members = {m.name: m for m in tar.getmembers()}
        config = tar.extractfile(members["workspace/.git/config"]).read()
    assert "workspace/pkg/__init__.py" in members and "workspace/.git/HEAD" in members
    assert not {"workspace/.env", "workspace/build/out.txt", "workspace/venv/pyvenv.cfg"} & set(members)
    assert not any(name.startswith("workspace/.git/hooks/") for name in members)
    assert b"TOKEN" not in config and b"repositoryformatversion" in config
    assert min(m.mtime for m in members.values()) >= 315532800


# -- as of the commit's date ------------------------------------------------------------------------------


def test_dependencies_are_resolved_as_of_the_start_of_the_month_after_the_commit():
    from loopwright.sandboxes.envplan import resolution_date

    assert resolution_date("2021-03-23T22:24:03+00:00") == "2021-04-01T00:00:00Z"
    assert resolution_date("2023-12-31T23:00:00-05:00") == "2024-02-01T00:00:00Z"  # 2024-01-01 04:00 UTC
    assert resolution_date("") == "" and resolution_date("yesterday") == ""


def test_python_is_the_newest_current_at_the_commits_date():
    from loopwright.sandboxes.pyversions import Candidate, PythonHints, choose

    have = [Candidate("3.9", "py3.9"), Candidate("3.11", "py3.11"), Candidate("3.13", "py3.13")]
    hints = PythonHints(requires_python=">=3.6", requires_from="setup.py")
    assert choose(have, hints, None, "2021-03-23T22:24:03+00:00").candidate.version == "3.9"
    assert choose(have, hints, None, "2023-06-01T00:00:00+00:00").candidate.version == "3.11"
    assert choose(have, hints, None, "2025-11-01T00:00:00+00:00").candidate.version == "3.13"
    assert choose(have, hints, None, "").candidate.version == "3.13"
    assert choose(have, PythonHints(requires_python=">=3.10", requires_from="pyproject.toml"), None, "2021-03-01").candidate.version == "3.11"
    assert choose(have, PythonHints(pin=(3, 13)), None, "2021-03-01").candidate.version == "3.13"  # .python-version wins
    assert choose(have, hints, "3.13", "2021-03-01").candidate.version == "3.13"  # so does --python


def fake_box(special=None, python: str = "3.11.2", collect: tuple[int, str] = (0, "3 tests collected in 0.01s\n")):
    """A setup container answering as uv, the environment's Python and pytest's collection do, and every other
    command with success; `special(command)` answers first where it returns an `ExecResult`. Also returns the list
    of every command run, in order."""
    from loopwright.sandboxes.base import ExecResult
    from loopwright.sandboxes.envsetup import SetupContainer

    commands: list[str] = []

    def run(command: str, timeout_s: float, env) -> ExecResult:
        commands.append(command)
        answer = special(command) if special else None
        if answer is not None:
            return answer
        if "uv --version" in command:
            return ExecResult(0, "uv 0.9.1\n", 0.1)
        if "sys.version_info" in command:
            return ExecResult(0, python + "\n", 0.1)
        if "--collect-only" in command:
            return ExecResult(collect[0], collect[1], 0.1)
        return ExecResult(0, "", 0.1)

    return SetupContainer(run=run, put=lambda folder, tar: None), commands


def setup_in(box, plan):
    import time

    from loopwright.sandboxes.envsetup import run_setup

    return run_setup(box, plan, io.BytesIO(b""), deadline=time.monotonic() + 600, progress=lambda line: None)


def project_installs(commands: list[str]) -> list[str]:
    return [c for c in commands if " pip install " in c and " -e " in c]


def test_the_setup_tries_the_commits_date_first_and_the_newest_versions_when_that_fails(tmp_path):
    from loopwright.sandboxes.base import ExecResult

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\ndependencies = ["click"]\n[project.optional-dependencies]\ntest = ["pytest"]\n')
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "__init__.py").write_text("")
    plan = make_plan(tmp_path, "3.11", (), as_of="2021-04-01T00:00:00Z")
    unsatisfiable = "  × No solution found when resolving dependencies:\n  ╰─▶ Because there is no version of click==8.3 and you require click==8.3, we can conclude that your requirements are unsatisfiable.\n"

    def setup(dated_fails: bool):
        def special(command: str):
            if dated_fails and " pip install " in command and " -e " in command and "--exclude-newer" in command:
                return ExecResult(1, unsatisfiable, 0.1)
            return None

        box, commands = fake_box(special)
        return setup_in(box, plan), project_installs(commands)

    dated, installs = setup(dated_fails=False)
    assert dated.resolved_as_of == "2021-04-01T00:00:00Z" and dated.usable
    assert len(installs) == 1 and "--exclude-newer" in installs[0] and "2021-04-01T00:00:00Z" in installs[0]
    newest, installs = setup(dated_fails=True)
    assert newest.resolved_as_of == "" and newest.usable
    assert ["--exclude-newer" in command for command in installs] == [True, False]
    assert any("click==8.3" in note for note in newest.notes)


def test_tox_upgrade_flags_and_installer_options_are_not_passed_on(tmp_path):
    """sqlfluff's tox.ini says `-Urrequirements.txt` (pip's `-U -r requirements.txt`): uv refuses `--upgrade` twice."""
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = py39\n[testenv]\ndeps =\n    -Urrequirements.txt\n    -Urrequirements_dev.txt\n    requests\n    -U pytest\n    --pre\n    -i https://example.invalid/simple\n")
    for name in ("requirements.txt", "requirements_dev.txt"):
        (tmp_path / name).write_text("six\n")
    tox = read_tox(tmp_path, "3.9")
    assert tox.requirement_files == ("requirements.txt", "requirements_dev.txt")
    assert tox.deps == ("requests", "pytest")


def test_a_commit_older_than_its_python_tries_the_versions_that_had_wheels_for_it_before_the_newest(tmp_path):
    """pvlib at 2020-02 on Python 3.9: the numpy of its time has no 3.9 wheel and fails to build; the newest numpy
    (2.x) removed what the tests use. The versions of the first months of 3.9 install and still fit."""
    from loopwright.sandboxes.base import ExecResult
    from loopwright.sandboxes.pyversions import settled

    assert settled((3, 9)) == "2021-04-06T00:00:00Z" and settled((2, 1)) == ""
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup(name='demo', install_requires=['numpy'])\n")
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "__init__.py").write_text("")
    assert make_plan(tmp_path, "3.9", (), as_of="2022-01-01T00:00:00Z", as_of_python=settled((3, 9))).as_of_python == ""
    plan = make_plan(tmp_path, "3.9", (), as_of="2020-03-01T00:00:00Z", as_of_python=settled((3, 9)))

    def special(command: str):
        if " pip install " in command and " -e " in command and "2020-03-01" in command:
            return ExecResult(1, "  × Failed to build `numpy==1.18.1`\n  ╰─▶ NameError: name 'CCompiler' is not defined\n", 0.1)
        return None

    box, commands = fake_box(special, python="3.9.2")
    result = setup_in(box, plan)
    installs = project_installs(commands)
    assert result.usable and result.resolved_as_of == "2021-04-06T00:00:00Z" and not result.failures
    assert ["2020-03-01" in c for c in installs] == [True, False] and "--exclude-newer 2021-04-06T00:00:00Z" in installs[1]
    assert any(note.startswith("as of 2020-03-01T00:00:00Z: ") and "CCompiler" in note for note in result.notes), result.notes


def test_the_newest_versions_replace_the_commits_only_when_fewer_modules_fail_to_collect(tmp_path):
    """sqlfluff at 2023-05: one module fails to collect either way, the newest versions collect more tests, and
    their click has dropped the `mix_stderr` the CLI tests use. The commit's versions stay."""
    from loopwright.sandboxes.base import ExecResult

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\ndependencies = ["click"]\n')
    plan = make_plan(tmp_path, "3.11", (), as_of="2023-06-01T00:00:00Z")

    def setup(newest_errors: int, newest_tests: int = 5):
        commands: list[str] = []

        def special(command: str):
            if "--collect-only" in command:
                dated = "--exclude-newer" in project_installs(commands)[-1]
                errors = 1 if dated else newest_errors
                return ExecResult(2, f"{3 if dated else newest_tests} tests collected, {errors} error in 0.01s\n", 0.1)
            return None

        box, commands = fake_box(special)
        return setup_in(box, plan), project_installs(commands)

    kept, installs = setup(newest_errors=1)
    assert kept.resolved_as_of == "2023-06-01T00:00:00Z" and kept.usable and kept.collected == 3
    assert ["--exclude-newer" in command for command in installs] == [True, False]  # the dated environment was put back
    replaced, installs = setup(newest_errors=0)
    assert replaced.resolved_as_of == "" and replaced.collected == 5 and replaced.collection_errors == 0
    # pvlib-763: the newest versions break the conftest, one error and no test; the commit's stay.
    kept, installs = setup(newest_errors=0, newest_tests=0)
    assert kept.resolved_as_of == "2023-06-01T00:00:00Z" and kept.collected == 3


def test_optional_packages_the_tests_import_are_added_where_the_project_or_the_common_list_names_them(tmp_path):
    from loopwright.sandboxes.testimports import optional_imports

    files = {
        "setup.py": "from setuptools import setup\nsetup(name='solar', extras_require={'optional': ['ephem>=3.7', 'netCDF4'], 'doc': ['sphinx']})\n",
        "solar/__init__.py": "",
        "solar/tests/conftest.py": (
            "import pytest\n\ntry:\n    import ephem\nexcept ImportError:\n    ephem = None\n\n"
            "try:\n    from netCDF4 import Dataset\n    import helpers\n    import solar.fast\nexcept (ImportError, OSError):\n    pass\n"
        ),
        "solar/tests/test_sun.py": "import pytest\nimport requests\n\nnp = pytest.importorskip('numpy')\n\ntry:\n    import sphinx\nexcept ValueError:\n    pass\n",
        "docs/conf.py": "try:\n    import scipy\nexcept ImportError:\n    pass\n",
        "solar/tests/broken.py": "def (:\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = optional_imports(tmp_path, read_project(tmp_path), ("solar",), set())
    assert [(item.requirement, item.name, item.where) for item in found] == [
        ("ephem>=3.7", "ephem", "solar/tests/conftest.py"),
        ("netCDF4", "netCDF4", "solar/tests/conftest.py"),
        ("numpy", "numpy", "solar/tests/test_sun.py"),
    ]
    assert found[0].source == "extra 'optional' names it" and found[2].source == "numpy is the well-known package of that name"
    assert [item.name for item in optional_imports(tmp_path, read_project(tmp_path), ("solar",), {"ephem"})] == ["netCDF4", "numpy"]
    plan = make_plan(tmp_path, "3.11")
    assert plan.optional == ("ephem>=3.7", "netCDF4", "numpy")
    assert any(d.startswith("adds ephem>=3.7 if it installs: the tests import ephem where it may be missing (solar/tests/conftest.py)") for d in plan.decisions)


SQLFLUFF_COLLECTION = """
==================================== ERRORS ====================================
_____ ERROR collecting plugins/sqlfluff-templater-dbt/test/linter_test.py ______
ImportError while importing test module '/workspace/plugins/sqlfluff-templater-dbt/test/linter_test.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
/usr/lib/python3.9/importlib/__init__.py:127: in import_module
E   ModuleNotFoundError: No module named 'test.linter_test'
______ ERROR collecting test/core/templaters/jinja_test.py ______
ImportError while importing test module '/workspace/test/core/templaters/jinja_test.py'.
E   ModuleNotFoundError: No module named 'jinja2'
=========================== short test summary info ============================
4862 tests collected, 2 errors in 3.18s
"""


def test_collection_errors_from_module_names_that_clash_with_the_repositorys_folders_are_told_apart():
    from loopwright.sandboxes.envsetup import local_clashes, parse_collection

    assert parse_collection(SQLFLUFF_COLLECTION) == (4862, 2)
    assert local_clashes(SQLFLUFF_COLLECTION) == 1
    only_clash = SQLFLUFF_COLLECTION.split("______ ERROR collecting test/core")[0] + "4862 tests collected, 1 error in 3.18s\n"
    assert local_clashes(only_clash) == 1 and local_clashes("3 tests collected in 0.01s") == 0

    root = Path(tempfile.mkdtemp())
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\n')
    plan = make_plan(root, "3.11", (), as_of="2022-07-01T00:00:00Z")
    box, commands = fake_box(collect=(2, only_clash))
    result = setup_in(box, plan)
    installs = [c for c in commands if " pip install " in c and "uv --version" not in c]  # not the installer's own
    assert result.usable and result.resolved_as_of and len(installs) == 1, installs  # newer versions were not tried


def test_a_folder_of_the_repository_named_as_a_requirement_is_installed_editable(tmp_path):
    """sqlfluff's tox installs plugins/sqlfluff-plugin-example: a copy in site-packages kept the old code after the fix."""
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup(name='host')\n")
    (tmp_path / "tox.ini").write_text("[testenv]\ndeps =\n    plugins/example\n    requests\n    plugins/not-a-project\ncommands = pytest\n")
    (tmp_path / "plugins" / "example").mkdir(parents=True)
    (tmp_path / "plugins" / "example" / "setup.py").write_text("from setuptools import setup\nsetup(name='example')\n")
    (tmp_path / "plugins" / "not-a-project").mkdir()
    plan = make_plan(tmp_path, "3.11")
    assert "-e ./plugins/example" in plan.steps[0].requirements and "requests" in plan.steps[0].requirements
    assert "plugins/not-a-project" in plan.steps[0].requirements

    from loopwright.sandboxes.envsetup import _Installer

    command = _Installer("uv", "uv pip install", True).command(plan.steps[0], "")
    assert " -e ./plugins/example " in command and "'-e" not in command


BUILD_HELPER_FAILURE = """error: Failed to build `pvlib @ file:///workspace`
  cause: The build backend returned an error
  cause: Call to `setuptools.build_meta.build_editable` failed (exit status: 1)

[stderr]
Traceback (most recent call last):
  File "<string>", line 14, in <module>
TypeError: canonicalize_version() got an unexpected keyword argument 'strip_trailing_zero'

hint: This usually indicates a problem with the package or the build environment.
"""


def test_a_project_that_fails_to_build_as_of_its_date_tries_the_same_date_with_the_newest_build_helpers(tmp_path):
    """pvlib at 2022-11: the newest setuptools-scm needs the packaging of 2023, and the newest versions of everything
    bring numpy 2, which the tests of that time cannot run on. The same date with a newer packaging for the build works."""
    from loopwright.sandboxes.base import ExecResult

    assert [(f.what, f.reason.split(":")[0]) for f in parse_failures(BUILD_HELPER_FAILURE)] == [("the project", "build failed")]
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup(name='pvlib', setup_requires=['setuptools_scm'])\n")
    plan = make_plan(tmp_path, "3.9", (), as_of="2022-12-01T00:00:00Z")

    def special(command: str):
        if " pip install " in command and " -e " in command and "--exclude-newer-package packaging=" not in command:
            return ExecResult(1, BUILD_HELPER_FAILURE, 0.1)
        return None

    box, commands = fake_box(special, python="3.9.2")
    result = setup_in(box, plan)
    installs = project_installs(commands)
    assert result.usable and result.resolved_as_of == "2022-12-01T00:00:00Z" and not result.failures, result.failures
    assert len(installs) == 2 and all("--exclude-newer 2022-12-01T00:00:00Z" in c for c in installs)
    assert any("with the newest packaging for building the project" in note for note in result.notes), result.notes


def test_an_optional_package_without_wheels_at_the_commits_date_is_tried_as_of_the_pythons_first_months(tmp_path):
    """pvlib at 2020-11 on Python 3.9: its dependencies install as of 2020-12, but `tables` had no 3.9 wheel yet."""
    from loopwright.sandboxes.base import ExecResult

    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup(name='solar', extras_require={'optional': ['tables']})\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text("try:\n    import tables\nexcept ImportError:\n    tables = None\n")
    plan = make_plan(tmp_path, "3.9", (), as_of="2020-12-01T00:00:00Z", as_of_python="2021-04-06T00:00:00Z")
    assert plan.optional == ("tables",)

    def special(command: str):
        if " pip install " in command and command.endswith(" tables") and "2020-12-01" in command:
            return ExecResult(1, "error: Failed to build `numexpr==2.7.1`\n  cause: The build backend returned an error\n", 0.1)
        return None

    box, commands = fake_box(special, python="3.9.2")
    result = setup_in(box, plan)
    optional = [c for c in commands if " pip install " in c and c.endswith(" tables")]
    assert result.resolved_as_of == "2020-12-01T00:00:00Z" and result.installed.endswith("; optional for the tests: tables"), result.installed
    assert ["2020-12-01" in c for c in optional] == [True, False] and "2021-04-06" in optional[1]


def test_the_installers_cache_goes_once_its_packages_are_in_the_environment(tmp_path):
    """pvlib-1395: wheels kept in the cache beside the environment, a second environment for the newest versions'
    trial and the optional packages took the setup phase past its storage limit."""
    from loopwright.sandboxes.envsetup import INSTALL_ENV

    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup(name='solar', extras_require={'optional': ['tables']})\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text("try:\n    import tables\nexcept ImportError:\n    tables = None\n")
    box, commands = fake_box()
    setup_in(box, make_plan(tmp_path, "3.11"))
    installs = [i for i, c in enumerate(commands) if " pip install " in c and "--python" in c]
    drops = [i for i, c in enumerate(commands) if c == f"rm -rf {INSTALL_ENV['UV_CACHE_DIR']}"]
    assert len(installs) == 2 and all(any(d > i for d in drops) for i in installs), commands


PYDICOM_WORKFLOW = """\
name: unit-tests
on: [push]
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
    - run: python -m pip install flake8
    - run: flake8 .
  test:
    runs-on: ubuntu-latest
    steps:
    - uses: actions/checkout@v2
    - name: Initial test environment setup
      run: |
        python -m pip install -U pip # a newer pip
        python -m pip install -e . && python -m pip install pytest pytest-cov
        pip install -r requirements-ci.txt $EXTRA "${{ matrix.extra }}" ./local-plugin
    - run: pytest
    - name: Install the JPEG plugins
      if: ${{ matrix.jpeg == 'yes' }}
      run: python -m pip install pylibjpeg
    - name: Test external sources using pydicom-data
      run: |
        python -m pip install git+https://github.com/pydicom/pydicom-data
        pytest pydicom/tests/test_data_manager.py
"""


def test_packages_the_projects_ci_installs_for_its_tests_are_added(tmp_path):
    """pydicom 2: its tests find their data through the pydicom-data package its CI installs from GitHub; without it
    each test module tried to download files, and the agent phase has no network."""
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup(name='pydicom', tests_require=['pytest'])\n")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "pythonpackage.yml").write_text(PYDICOM_WORKFLOW)
    (tmp_path / ".github" / "workflows" / "broken.yml").write_text("jobs: [\n")
    plan = make_plan(tmp_path, "3.11")
    assert plan.optional == ("pytest-cov", "git+https://github.com/pydicom/pydicom-data")
    assert any(
        d.startswith("adds git+https://github.com/pydicom/pydicom-data if it installs: the project's CI installs it before running the tests (.github/workflows/pythonpackage.yml); where that repository cannot be fetched, the index's pydicom-data")
        for d in plan.decisions
    ), plan.decisions


def test_a_workflow_that_names_one_script_thousands_of_times_through_yaml_aliases_is_read_in_proportion_to_its_size(tmp_path):
    """A workflow is the repository's to write: a 60 KB file whose alias stands for a 2 KB script 4,000 times over
    must not make the host parse 8 MB of shell (minutes, and a list of a million names)."""
    import time

    from loopwright.sandboxes.ciinstalls import ci_installs

    script = "pytest && pip install pydicom-data " + " ".join(f"pkg{i % 3}" for i in range(400))
    steps = "".join("    - run: *script\n" for _ in range(4000))
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "tests.yml").write_text(f"script: &script {json.dumps(script)}\njobs:\n  test:\n    steps:\n{steps}")
    started = time.monotonic()
    found = ci_installs(tmp_path, set(), "demo")
    assert time.monotonic() - started < 3
    assert [ci.requirement for ci in found] == ["pydicom-data", "pkg0", "pkg1", "pkg2"]


def test_a_github_requirement_that_cannot_be_fetched_is_replaced_by_the_release_that_names_it_as_home(tmp_path):
    from loopwright.sandboxes.base import ExecResult

    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup(name='pydicom', tests_require=['pytest'])\n")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "pythonpackage.yml").write_text(PYDICOM_WORKFLOW)
    plan = make_plan(tmp_path, "3.11", (), as_of="2021-08-01T00:00:00Z")

    def setup(home: str):
        def special(command: str):
            if " pip install " in command and "git+https://" in command:
                return ExecResult(1, "error: Git operation failed\n  Caused by: Could not resolve host: github.com\n", 0.1)
            if "importlib.metadata" in command:
                return ExecResult(0, f"Homepage, {home} https://pydicom.github.io\n", 0.1)
            return None

        box, commands = fake_box(special)
        return setup_in(box, plan), commands

    result, commands = setup("https://github.com/pydicom/pydicom-data")
    stand_in = [c for c in commands if c.endswith(" pydicom-data") and " pip install " in c]
    assert len(stand_in) == 1 and "--exclude-newer" not in stand_in[0]  # the newest release, as CI gets the newest state
    assert result.installed.endswith("; optional for the tests: pytest-cov, pydicom-data"), result.installed
    assert any("names github.com/pydicom/pydicom-data as its home and stands in" in note for note in result.notes), result.notes
    result, commands = setup("https://github.com/someone-else/pydicom-data")
    assert any(" pip uninstall " in c and c.endswith(" pydicom-data") for c in commands)
    assert result.installed.endswith("; optional for the tests: pytest-cov"), result.installed
    assert any("does not name github.com/pydicom/pydicom-data as its home: left out" in note for note in result.notes), result.notes
    for look_alike in ("https://github.com/pydicom/pydicom-data-fork", "https://notgithub.com/pydicom/pydicom-data"):
        result, commands = setup(look_alike)  # another repository whose address starts or ends the same
        assert result.installed.endswith("; optional for the tests: pytest-cov"), (look_alike, result.installed)
    result, commands = setup("https://www.github.com/PyDicom/pydicom-data.git")
    assert result.installed.endswith("; optional for the tests: pytest-cov, pydicom-data"), result.installed
