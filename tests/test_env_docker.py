"""The setup phase for real: real containers, real repositories, uv and pytest from the package index.

The projects' own dependencies are tiny wheels made here and found through `--find-links` in their
requirement files; what needs the index (uv, pytest, setuptools) is marked `pypi`.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import docker.errors
import pytest

from loopwright.sandboxes.docker import DockerSandbox
from loopwright.sandboxes.envplan import FULL, NOTHING, TESTS
from loopwright.tools.base import ToolContext
from loopwright.tools.run_tests import run_test_command
from tests.repos import buggy_calc_repo, make_repo
from tests.wheels import make_wheel

PYTEST = "python3 -m pytest -q -p no:cacheprovider"
SETUPTOOLS_PROJECT = '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'



def env_test(function):
    """Starts containers, installs from the package index, takes tens of seconds."""
    return pytest.mark.docker(pytest.mark.pypi(pytest.mark.slow(function)))


@pytest.fixture
def sandboxes(sandbox_image, docker_client):
    """Opens DockerSandboxes that build their environment anew; closes them and removes those environments after."""
    opened: list[DockerSandbox] = []

    def open_box(root: Path, **options) -> DockerSandbox:
        options.setdefault("fresh_environment", True)
        box = DockerSandbox(root, image=sandbox_image, **options)
        opened.append(box)
        return box

    yield open_box
    for box in opened:
        box.close()
        report = box.setup_report
        if report is not None and report.venv and report.kept:
            try:
                docker_client.images.remove(report.image, force=True)
            except docker.errors.ImageNotFound:
                pass


@pytest.fixture(scope="session")
def py39_image(docker_client) -> str:
    """The bullseye sandbox image (Python 3.9), built once (offline, needs root) when the engine lacks it."""
    from loopwright.sandboxes.image import build_image, image_exists

    if not image_exists("loopwright-sandbox:py3.9"):
        build_image(release="bullseye")
    return "loopwright-sandbox:py3.9"


def tree_digest(root: Path) -> str:
    """Every file and link of the repository, .git included, with its content."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_symlink():
            digest.update(str(path.readlink()).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.docker
def test_a_project_without_dependency_files_keeps_the_image_as_it_is(tmp_path, sandbox_image):
    repo = buggy_calc_repo(tmp_path / "repo")
    with DockerSandbox(repo, image=sandbox_image) as box:
        report = box.setup_report
        ran = box.exec(PYTEST, timeout_s=120)
    assert report.level == NOTHING and report.venv == "" and report.image.startswith(sandbox_image.split(":")[0] + ":")
    assert "no dependency files" in report.decisions[-1]
    assert "1 failed, 1 passed" in ran.output, ran.output


@env_test
def test_src_layout_named_like_a_package_of_the_image_tests_its_own_code(tmp_path, sandboxes):
    """The image has Debian's `attr` (and pytest) system-wide; the environment must not let it shadow the repository."""
    repo = make_repo(
        tmp_path / "repo",
        {
            "pyproject.toml": SETUPTOOLS_PROJECT + '[project]\nname = "attr-lookalike"\nversion = "0.1"\n'
            '[project.optional-dependencies]\ntest = ["pytest"]\ndocs = ["sphinx==0.1"]\n',
            "src/attr/__init__.py": 'WHERE = "repository"\n',
            "tests/test_own.py": "import attr\n\n\ndef test_imports_the_repository():\n    assert attr.WHERE == 'repository', attr.__file__\n",
            ".gitignore": ".env\n",
            ".env": "TOKEN=secret\n",
        },
    )
    before = tree_digest(repo)
    box = sandboxes(repo)
    report = box.setup_report
    ran = box.exec(PYTEST, timeout_s=120)
    where = box.exec("python3 -c 'import attr, pytest; print(attr.__file__, pytest.__file__)'; ls /sys/class/net", timeout_s=60)
    secret = box.exec("grep -rl TOKEN=secret /opt/loopwright 2>/dev/null; echo done", timeout_s=60)
    assert (report.level, report.installed, report.cached) == (FULL, "the project editable (.[test]), pytest", False), report.lines()
    assert "1 passed" in ran.output, ran.output
    attr_file, pytest_file, *interfaces = where.output.split()
    assert attr_file == "/workspace/src/attr/__init__.py"
    assert pytest_file.startswith("/opt/loopwright/venv/") and interfaces == ["lo"]
    assert secret.output.strip() == "done"
    assert tree_digest(repo) == before
    again = sandboxes(repo, fresh_environment=False)
    assert again.setup_report.cached and again.setup_report.image == report.image
    assert "1 passed" in again.exec(PYTEST, timeout_s=120).output


@env_test
def test_a_setup_py_only_project_gets_its_install_requires(tmp_path, sandbox_image, docker_client):
    """No pyproject.toml, no requirement file: what the tests need is only in setup.py's names."""
    repo = make_repo(
        tmp_path / "repo",
        {
            "setup.py": "from setuptools import setup, find_packages\nREQUIRES = ['six']\nEXTRAS = {'tests': ['pytest']}\n"
            "setup(name='legacy', version='1.0', packages=find_packages(exclude=['tests']), install_requires=REQUIRES, extras_require=EXTRAS)\n",
            "legacy/__init__.py": "import six\n\nWHERE = __file__\n",
            "tests/test_legacy.py": "import legacy\n\n\ndef test_it():\n    assert legacy.WHERE.startswith('/workspace/')\n",
        },
    )
    checked = subprocess.run(
        [sys.executable, "-m", "loopwright", "env", "check", "--repo", str(repo), "--image", sandbox_image],
        capture_output=True, text=True, timeout=600,
    )
    try:
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "installed (project+tests): the project editable (.[tests]), pytest" in checked.stdout
        assert "imports legacy from /workspace/legacy/__init__.py" in checked.stdout
        assert "1 passed" in checked.stdout and "usable: yes" in checked.stdout
    finally:
        image = next((line.split()[1] for line in checked.stdout.splitlines() if line.startswith("environment: ")), None)
        if image:
            docker_client.images.remove(image, force=True)


@env_test
def test_docs_pins_no_longer_conflict_with_test_pins(tmp_path, sandboxes):
    repo = make_repo(
        tmp_path / "repo",
        {
            "requirements-docs.txt": "--find-links wheels\nlwtest-dep==1.0\n",
            "requirements-test.txt": "--find-links wheels\nlwtest-dep==2.0\n",
            "tests/test_dep.py": "import lwtest_dep\n\n\ndef test_version():\n    assert lwtest_dep.VERSION == '2.0'\n",
        },
    )
    for version in ("1.0", "2.0"):
        make_wheel(repo / "wheels", "lwtest-dep", version, {"lwtest_dep/__init__.py": f"VERSION = {version!r}\n"})
    box = sandboxes(repo)
    report = box.setup_report
    assert report.failures == () and report.level == TESTS, report.lines()
    assert "leaves out requirements-docs.txt: docs requirements (named 'docs')" in report.decisions
    assert "1 passed" in box.exec(PYTEST, timeout_s=120).output


@env_test
def test_a_failing_install_falls_back_and_the_session_still_runs(tmp_path, sandboxes, docker_client):
    """The project's build fails, one requirement does not exist, a setup command fails and another hangs: all reported, none fatal."""
    repo = make_repo(
        tmp_path / "repo",
        {
            "setup.py": "raise SystemExit('this project does not build')\n",
            "requirements-test.txt": "--find-links wheels\nlwtest-dep==2.0\nlwtest-missing-zz==9.9\n",
            "mypkg/__init__.py": "from lwtest_dep import VERSION\n",
            "tests/test_pkg.py": "import mypkg\n\n\ndef test_it():\n    assert mypkg.VERSION == '2.0' and mypkg.__file__.startswith('/workspace/')\n",
        },
    )
    make_wheel(repo / "wheels", "lwtest-dep", "2.0", {"lwtest_dep/__init__.py": "VERSION = '2.0'\n"})
    box = sandboxes(repo, setup_commands=["echo broken >&2; exit 3", "sleep 600"], setup_timeout_s=75)
    report = box.setup_report
    ran = box.exec(PYTEST, timeout_s=120)
    lines = [failure.line() for failure in report.failures]
    assert report.level == TESTS and "(left out: lwtest-missing-zz)" in report.installed, report.lines()
    assert any(line.startswith("the project: build failed: this project does not build [project+tests") for line in lines), lines
    assert any(line.startswith("lwtest-missing-zz: not found in the package index [tests]") for line in lines), lines
    failed, hung = report.setup_commands
    assert (failed.exit_code, failed.output_tail) == (3, "broken") and hung.timed_out
    assert not report.kept and "Could not install lwtest-missing-zz" in report.summary()
    assert "1 passed" in ran.output, ran.output
    image = box.deps_image
    box.close()
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(image)


@env_test
def test_python_is_chosen_from_requires_python(tmp_path, sandboxes, py39_image):
    repo = make_repo(
        tmp_path / "repo",
        {
            "pyproject.toml": SETUPTOOLS_PROJECT + '[project]\nname = "old"\nversion = "1"\nrequires-python = ">=3.7,<3.10"\n',
            "old.py": "import sys\nVERSION = sys.version_info[:2]\n",
            "test_old.py": "import old\n\n\ndef test_version():\n    assert old.VERSION == (3, 9)\n",
        },
    )
    box = sandboxes(repo)
    assert box.setup_report.python.startswith("3.9.") and "requires-python >=3.7,<3.10" in box.setup_report.python_reason
    assert "1 passed" in box.exec(PYTEST, timeout_s=120).output


@pytest.mark.docker
def test_a_python_version_without_an_image_is_one_line(tmp_path, sandbox_image):
    repo = make_repo(tmp_path / "repo", {"pyproject.toml": '[project]\nname = "p"\n'})
    for version, expected in (("3.99", "no sandbox image has Python 3.99 ("), ("banana", "'banana' is not a Python version")):
        shown = subprocess.run(
            [sys.executable, "-m", "loopwright", "env", "show", "--repo", str(repo), "--python", version],
            capture_output=True, text=True, timeout=120,
        )
        assert shown.returncode == 2 and shown.stdout == ""
        assert len(shown.stderr.splitlines()) == 1 and expected in shown.stderr, shown.stderr


@env_test
def test_a_project_pinning_an_old_pytest_still_gets_per_test_results(tmp_path, sandboxes, py39_image):
    """Projects at old commits pin pytest 3, 4 or 5; their results must still come from pytest's own account, under
    the ids pytest writes today (pytest 3 put a `()` node between a class and its tests)."""
    repo = make_repo(
        tmp_path / "repo",
        {
            "pyproject.toml": SETUPTOOLS_PROJECT + '[project]\nname = "old"\nversion = "1"\nrequires-python = ">=3.6,<3.10"\n',
            "requirements-test.txt": "pytest==3.5.1\n",
            "old.py": "def double(x):\n    return x * 2\n",
            "tests/test_old.py": (
                "from old import double\n\n\ndef test_good():\n    assert double(2) == 4\n\n\n"
                "def test_bad():\n    assert double(2) == 5\n\n\nclass TestDouble:\n    def test_zero(self):\n        assert double(0) == 0\n"
            ),
        },
    )
    box = sandboxes(repo)
    assert "3.5.1" in box.exec("python3 -m pytest --version 2>&1", timeout_s=60).output
    report = run_test_command(ToolContext(root=repo, sandbox=box, test_command=PYTEST), None)
    assert report.structured, report.note
    assert report.outcomes == {
        "tests/test_old.py::test_good": "passed", "tests/test_old.py::test_bad": "failed", "tests/test_old.py::TestDouble::test_zero": "passed",
    }
    assert "assert 4 == 5" in report.render()


@env_test
def test_an_optional_package_the_tests_use_is_installed_and_one_that_cannot_be_is_a_note(tmp_path, sandboxes):
    """Tests that skip without an optional package never count as passing; the package is added where it installs."""
    repo = make_repo(
        tmp_path / "repo",
        {
            "pyproject.toml": SETUPTOOLS_PROJECT + (
                '[project]\nname = "withopt"\nversion = "1"\n'
                '[project.optional-dependencies]\noptional = ["six", "lwtest-missing-zz==9.9"]\n'
            ),
            "withopt.py": "VALUE = 1\n",
            "tests/conftest.py": "try:\n    import six\nexcept ImportError:\n    six = None\n\ntry:\n    import lwtest_missing_zz\nexcept ImportError:\n    pass\n",
            "tests/test_opt.py": (
                "import pytest\n\nfrom conftest import six\n\n\n"
                "@pytest.mark.skipif(six is None, reason='needs six')\ndef test_uses_six():\n    assert six.PY3\n"
            ),
        },
    )
    box = sandboxes(repo)
    report = box.setup_report
    assert report.ok and "optional for the tests: six" in report.installed, report.lines()
    assert any(note.startswith("optional lwtest-missing-zz==9.9 not installed (its tests will skip)") for note in report.notes), report.notes
    assert "1 passed" in box.exec(PYTEST + " -rs", timeout_s=120).output


@env_test
def test_a_plugin_folder_tox_installs_is_tested_as_it_is_in_the_workspace(tmp_path, sandboxes):
    repo = make_repo(
        tmp_path / "repo",
        {
            "pyproject.toml": SETUPTOOLS_PROJECT + '[project]\nname = "host"\nversion = "1"\n[tool.setuptools]\npy-modules = ["host"]\n',
            "host.py": "VALUE = 1\n",
            "tox.ini": "[testenv]\ndeps =\n    plugins/extra\ncommands = pytest\n",
            "plugins/extra/pyproject.toml": SETUPTOOLS_PROJECT + '[project]\nname = "lw-extra"\nversion = "1"\n[tool.setuptools]\npy-modules = ["lw_extra"]\n',
            "plugins/extra/lw_extra.py": "ANSWER = 1\n",
            "tests/test_plugin.py": "import lw_extra\n\n\ndef test_answer():\n    assert lw_extra.ANSWER == 2, lw_extra.__file__\n",
        },
    )
    box = sandboxes(repo)
    assert box.setup_report.ok, box.setup_report.lines()
    assert "1 failed" in box.exec(PYTEST, timeout_s=120).output
    (repo / "plugins" / "extra" / "lw_extra.py").write_text("ANSWER = 2\n")  # the fix, made in the workspace
    assert "1 passed" in box.exec(PYTEST, timeout_s=120).output
