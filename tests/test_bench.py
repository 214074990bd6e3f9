"""`loopwright bench`: SWE-bench-format tasks over real git repositories and mirrors built here, run by the
installed command (the local sandbox for speed, a real container where the environment matters)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loopwright.bench.environment import Environment
from loopwright.bench.fixes import Fix
from loopwright.bench.mirrors import MirrorMissing, find_mirror
from loopwright.bench.tasks import TaskFileError, load_tasks
from loopwright.bench.testrun import Outcomes
from loopwright.bench.verdict import judge
from loopwright.models.scripted import call
from tests.repos import git, make_repo
from tests.test_cli import write_script

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = (
    "import pytest\n\nfrom calc import add, mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n\n\n"
    "@pytest.mark.parametrize('text', ['two words', 'one'])\ndef test_words(text):\n    assert text\n\n\n"
    "@pytest.mark.parametrize('url', ['http://[::1]:80', 'http://host'])\ndef test_urls(url):\n    assert url\n"
)
ADDED_TEST = "\n\ndef test_add():\n    assert add(2, 3) == 5\n"
NEW_TEST_FILE = "from calc import add\n\n\ndef test_add_zero():\n    assert add(0, 5) == 5\n"
FAIL_TO_PASS = ["tests/test_calc.py::test_add", "tests/test_more.py::test_add_zero"]
PASS_TO_PASS = [
    "tests/test_calc.py::test_mul", "tests/test_calc.py::test_words[two", "tests/test_calc.py::test_words[one]",
    "tests/test_calc.py::test_urls[http://[::1]:80]",
]
"""`test_words[two` is cut at the space, as SWE-bench's lists cut such ids; pytest cannot be handed `test_urls[http://[::1]:80]`."""


def diff_of(repo: Path, files: dict[str, str]) -> str:
    """The diff that writes `files` over the repository's HEAD (the tree is left as it was)."""
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    patch = git(repo, "diff", "--cached", "HEAD")
    git(repo, "reset", "-q", "--hard", "HEAD")
    return patch


def calc_task(tmp_path: Path, *, fixed: str = CALC.replace("a - b", "a + b"), instance_id: str = "dev__calc-1", **fields) -> dict:
    """A task over a new repository `dev/calc` whose add() subtracts, mirrored bare in tmp_path/mirrors."""
    repo = tmp_path / "calc"
    if not repo.exists():
        make_repo(repo, {"calc.py": CALC, "tests/test_calc.py": TESTS, "pytest.ini": "[pytest]\npythonpath = .\n"})
        subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(tmp_path / "mirrors" / "dev+calc" / "repo")], check=True)
    task = {
        "repo": "dev/calc",
        "instance_id": instance_id,
        "base_commit": git(repo, "rev-parse", "HEAD").strip(),
        "patch": diff_of(repo, {"calc.py": fixed}),
        "test_patch": diff_of(repo, {"tests/test_calc.py": TESTS + ADDED_TEST, "tests/test_more.py": NEW_TEST_FILE}),
        "FAIL_TO_PASS": json.dumps(FAIL_TO_PASS),
        "PASS_TO_PASS": json.dumps(PASS_TO_PASS),
        "problem_statement": "add(2, 3) returns -1; it should add.",
    }
    task.update(fields)
    return task


def write_tasks(path: Path, tasks: list[dict]) -> Path:
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    return path


def bench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # The local sandbox runs `python3 -m pytest` from PATH: this interpreter's, which has pytest.
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run([sys.executable, "-m", "loopwright", "bench", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def results(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def one_line_error(proc: subprocess.CompletedProcess, message: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def mirror_state(tmp_path: Path) -> dict[str, int]:
    folder = tmp_path / "mirrors"
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.mark.docker
def test_oracle_resolves_a_task_in_a_container(tmp_path, sandbox_image):
    tasks = write_tasks(tmp_path / "tasks.jsonl", [calc_task(tmp_path)])
    mirror_before = mirror_state(tmp_path)
    proc = bench(str(tasks), "--repos", "mirrors", "--oracle", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = results(tmp_path / "out")
    assert result["status"] == "resolved", result["cause"]
    assert result["env_ok"] is True and not result["false_pass"]
    assert set(result["fail_to_pass_before"].values()) == {"failed"}
    assert set(result["fail_to_pass_after"].values()) == {"passed"}
    assert result["pass_to_pass_after"] == {t: "passed" for t in PASS_TO_PASS}
    assert result["mirror_layout"] == "owner+name/repo"
    assert "+    return a + b" in result["model_patch"] and "tests/" not in result["model_patch"]
    assert all(result["timing"][k] >= 0 for k in ("checkout_s", "setup_s", "tests_s", "fix_s")) and result["timing"]["total_s"] > 0
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| dev/calc | 1 | 1 | 1 | 0 | 0 |" in report and "loopwright bench" in report
    assert json.loads((tmp_path / "out" / "report.json").read_text())["total"]["resolved"] == 1
    assert mirror_state(tmp_path) == mirror_before, "the mirror was written"


@pytest.mark.parametrize(
    "fixed, cause",
    [
        (CALC.replace("a - b", "a * 1 - b"), "FAIL_TO_PASS still fails after the fix: tests/test_calc.py::test_add - "),
        (CALC.replace("a - b", "a + b").replace("a * b", "a + b"), "PASS_TO_PASS broke: tests/test_calc.py::test_mul - "),
    ],
    ids=["still failing", "breaks another test"],
)
def test_a_patch_that_does_not_fix_the_task_is_a_miss_with_its_cause(tmp_path, fixed, cause):
    tasks = write_tasks(tmp_path / "tasks.jsonl", [calc_task(tmp_path, fixed=fixed)])
    proc = bench(str(tasks), "--repos", "mirrors", "--oracle", "--sandbox", "local", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = results(tmp_path / "out")
    assert result["status"] == "unresolved"
    assert result["cause"].startswith(cause) and "\n" not in result["cause"], result["cause"]
    assert cause.split(": ")[1].split(" - ")[0] in (tmp_path / "out" / "report.md").read_text()


def test_a_task_whose_tests_pass_before_the_fix_is_a_miss(tmp_path):
    task = calc_task(tmp_path, FAIL_TO_PASS=json.dumps(["tests/test_calc.py::test_mul"]), PASS_TO_PASS="[]")
    proc = bench(str(write_tasks(tmp_path / "t.jsonl", [task])), "--repos", "mirrors", "--oracle", "--sandbox", "local", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert results(tmp_path / "out")[0]["cause"] == "FAIL_TO_PASS passed before the fix: tests/test_calc.py::test_mul"


def test_a_new_test_module_that_cannot_import_before_the_fix_does_not_stop_the_other_tests(tmp_path):
    """sqlfluff-3904: the test patch adds a module importing what the fix creates; before the fix it fails to
    collect, which stops pytest's whole session. The task's other FAIL_TO_PASS tests did not pass before the fix
    then, as SWE-bench counts them: the fix must make them pass, and it resolves the task."""
    task = calc_task(tmp_path)
    repo = tmp_path / "calc"
    task["patch"] = diff_of(repo, {"calc.py": CALC.replace("a - b", "a + b") + "\n\ndef sub(a, b):\n    return a - b\n"})
    task["test_patch"] = diff_of(repo, {
        "tests/test_calc.py": TESTS + ADDED_TEST,
        "tests/test_more.py": "from calc import sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n",
    })
    task["FAIL_TO_PASS"] = json.dumps(["tests/test_calc.py::test_add", "tests/test_more.py::test_sub"])
    proc = bench(str(write_tasks(tmp_path / "t.jsonl", [task])), "--repos", "mirrors", "--oracle", "--sandbox", "local", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (result,) = results(tmp_path / "out")
    assert result["status"] == "resolved", result["cause"]
    assert result["fail_to_pass_before"] == {"tests/test_calc.py::test_add": "not run", "tests/test_more.py::test_sub": "error"}
    assert set(result["fail_to_pass_after"].values()) == {"passed"}


def test_a_gold_patch_the_edit_tool_refuses_is_a_miss_with_the_reason(tmp_path):
    task = calc_task(tmp_path)
    task["patch"] = task["patch"].replace("calc.py", "calculator.py")
    proc = bench(str(write_tasks(tmp_path / "t.jsonl", [task])), "--repos", "mirrors", "--oracle", "--sandbox", "local", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (result,) = results(tmp_path / "out")
    assert result["cause"].startswith("patch did not apply: calculator.py: "), result["cause"]
    assert result["fail_to_pass_after"] == {}


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"instance_id": "a"}\n{not json\n', "t.jsonl:2: not valid JSON"),
        ('{"repo": "dev/calc"}\n', "t.jsonl:1: the record has no instance_id"),
        ("", "t.jsonl: no task records"),
    ],
)
def test_a_task_file_that_cannot_be_read_is_one_line_and_nothing_is_written(tmp_path, content, message):
    calc_task(tmp_path)
    (tmp_path / "t.jsonl").write_text(content)
    proc = bench("t.jsonl", "--repos", "mirrors", "--oracle", "--sandbox", "local", "--out", "out", cwd=tmp_path)
    one_line_error(proc, message)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--repos", "nowhere", "--oracle"], "nowhere: no such directory"),
        (["--repos", "mirrors"], "give exactly one of --oracle and --model SPEC"),
        (["--repos", "mirrors", "--oracle", "--instances", "dev__calc-1,nope"], "unknown instance: nope"),
        (["--repos", "empty", "--oracle"], "no mirror of dev/calc in"),
        (["--repos", "mirrors", "--model", "scripted:/no/script.json"], "cannot read model script"),
    ],
)
def test_bad_options_are_one_line(tmp_path, args, message):
    write_tasks(tmp_path / "t.jsonl", [calc_task(tmp_path)])
    (tmp_path / "empty").mkdir()
    proc = bench("t.jsonl", *args, "--sandbox", "local", "--out", "out", cwd=tmp_path)
    one_line_error(proc, message)


def test_a_bad_record_an_unknown_commit_and_a_missing_mirror_are_errors_of_their_task_only(tmp_path):
    good = calc_task(tmp_path)
    lacking = {k: v for k, v in calc_task(tmp_path, instance_id="dev__calc-2").items() if k != "patch"}
    unknown = calc_task(tmp_path, instance_id="dev__calc-3", base_commit="0123456789abcdef0123456789abcdef01234567")
    bad_ids = calc_task(tmp_path, instance_id="dev__calc-4", FAIL_TO_PASS="tests/x.py::test")
    elsewhere = calc_task(tmp_path, instance_id="other__x-1", repo="other/x")
    tasks = write_tasks(tmp_path / "t.jsonl", [good, lacking, unknown, bad_ids, elsewhere])
    proc = bench(str(tasks), "--repos", "mirrors", "--oracle", "--sandbox", "local", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    causes = {r["instance_id"]: (r["status"], r["cause"]) for r in results(tmp_path / "out")}
    assert causes["dev__calc-1"] == ("resolved", "")
    assert causes["dev__calc-2"] == ("error", "task: task record lacks patch")
    assert causes["dev__calc-3"][0] == "error" and causes["dev__calc-3"][1].startswith("base commit 0123456789abcdef0123456789abcdef01234567 is not in the mirror")
    assert causes["dev__calc-4"] == ("error", "task: FAIL_TO_PASS is not a JSON list of test ids")
    assert causes["other__x-1"][0] == "error" and causes["other__x-1"][1].startswith("no mirror of other/x in")
    assert "no mirror of other/x" in proc.stderr and "dev/calc: " in proc.stderr
    misses = (tmp_path / "out" / "report.md").read_text().split("## Misses")[1]
    assert all(name in misses for name in ("dev__calc-2", "dev__calc-3", "dev__calc-4", "other__x-1"))


def test_a_rerun_skips_finished_tasks_unless_asked(tmp_path):
    tasks = write_tasks(tmp_path / "t.jsonl", [calc_task(tmp_path)])
    args = (str(tasks), "--repos", "mirrors", "--oracle", "--sandbox", "local", "--out", "out")
    assert bench(*args, cwd=tmp_path).returncode == 0
    again = bench(*args, cwd=tmp_path)
    assert again.returncode == 0 and "skipping 1 task(s)" in again.stderr
    assert len(results(tmp_path / "out")) == 1
    assert "| dev/calc | 1 | 1 |" in (tmp_path / "out" / "report.md").read_text()
    assert bench(*args, "--rerun", cwd=tmp_path).returncode == 0
    assert len(results(tmp_path / "out")) == 2


def test_model_run_writes_swe_bench_predictions_without_the_hidden_tests(tmp_path):
    script = write_script(tmp_path / "script.json", [
        call("run_shell", command="ls tests; cat tests/test_calc.py"),
        call("edit_file", path="calc.py", old_string="return a - b", new_string="return a + b"),
        call("write_file", path="NOTES.md", content="add() adds now\n"),
        call("edit_file", path="tests/test_calc.py", old_string="def test_mul():", new_string="def test_mul_renamed():"),
        call("submit", summary="add() adds"),
    ])
    tasks = write_tasks(tmp_path / "t.jsonl", [calc_task(tmp_path)])
    proc = bench(str(tasks), "--repos", "mirrors", "--model", f"scripted:{script}", "--sandbox", "local", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (prediction,) = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert set(prediction) == {"instance_id", "model_name_or_path", "model_patch"}
    assert prediction["instance_id"] == "dev__calc-1" and prediction["model_name_or_path"] == "loopwright:scripted:script.json"
    patch = prediction["model_patch"]
    assert "diff --git a/calc.py b/calc.py" in patch and "+    return a + b" in patch and "+add() adds now" in patch
    assert "tests/" not in patch, "the files of the test patch are the harness's, not the prediction's"
    (result,) = results(tmp_path / "out")
    assert result["status"] == "resolved", result["cause"]  # the hidden tests came back as the test patch has them
    assert result["stop_reason"] == "submitted" and result["cost"]["input_tokens"] > 0 and result["cost"]["output_tokens"] > 0
    trajectory = json.loads((tmp_path / "out" / "trajectories" / "dev__calc-1.json").read_text())
    listing = trajectory["steps"][0]["tools"][0]["output"]
    assert "test_calc.py" in listing and "test_more.py" not in listing and "def test_add" not in listing, listing


def test_mirror_layouts(tmp_path):
    for folder in ("a/owner+one/repo", "a/owner__two.git", "a/three", "b/owner/four"):
        subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / folder)], check=True)
    assert find_mirror(tmp_path / "a", "owner/one").layout == "owner+name/repo"
    assert find_mirror(tmp_path / "a", "owner/two").layout == "owner__name.git"
    assert find_mirror(tmp_path / "a", "owner/three").layout == "name"
    assert find_mirror(tmp_path / "b", "owner/four").layout == "owner/name"
    with pytest.raises(MirrorMissing, match="no mirror of owner/five in .* \\(looked for owner\\+five/repo, owner\\+five"):
        find_mirror(tmp_path / "a", "owner/five")


def test_parquet_without_a_reader_is_one_line(tmp_path):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pyarrow is installed")
    (tmp_path / "t.parquet").write_bytes(b"PAR1")
    with pytest.raises(TaskFileError, match="reading parquet needs pyarrow|not a readable parquet file"):
        load_tasks(tmp_path / "t.parquet")


def test_tests_that_ran_outside_the_repository_are_a_false_pass():
    ids = ["t.py::test_a"]
    before = Outcomes(outcomes={ids[0]: "failed"})
    after = Outcomes(outcomes={ids[0]: "passed"}, outside_repository=True)
    verdict = judge(ids, [], Environment(ok=True), before, Fix(applied=True), after)
    assert (verdict.status, verdict.false_pass) == ("unresolved", True)
    assert verdict.cause == "false pass: the tests ran against code outside the work tree"
    clean = judge(ids, [], Environment(ok=True), before, Fix(applied=True), Outcomes(outcomes={ids[0]: "passed"}))
    assert (clean.status, clean.false_pass) == ("resolved", False)


def test_tests_that_never_ran_are_not_passed_and_setup_is_the_cause():
    ids = ["t.py::test_a"]
    nothing = Outcomes(outcomes={ids[0]: "not run"}, note="exit code 4: ModuleNotFoundError: No module named 'x'")
    env = Environment(ok=False, failures=("pip could not build numpy==1.16 (no wheel for Python 3.11)",))
    verdict = judge(ids, [], env, nothing, Fix(applied=True), nothing)
    assert verdict.cause == "setup: pip could not build numpy==1.16 (no wheel for Python 3.11)"
    verdict = judge(ids, [], Environment(ok=True), nothing, Fix(applied=True), nothing)
    assert verdict.cause == "FAIL_TO_PASS did not run before the fix: exit code 4: ModuleNotFoundError: No module named 'x'"


def test_a_mirror_without_some_objects_still_gives_a_work_tree(tmp_path):
    """Mirrors may leave large files out; `git fetch` then refuses the whole commit, the bench does not."""
    from loopwright.bench.mirrors import Mirror
    from loopwright.bench.workspace import checkout

    source = make_repo(tmp_path / "src", {"pkg/mod.py": "x = 1\n", "data/big.bin": "large\n" * 1000, "tool.sh": "echo hi\n"})
    (source / "tool.sh").chmod(0o755)
    (source / "link.py").symlink_to("pkg/mod.py")
    git(source, "add", "-A")
    subprocess.run(["git", "commit", "-qm", "exec bit and link"], cwd=source, check=True, env={**os.environ, "GIT_COMMITTER_DATE": "2021-03-23T22:24:03+00:00"})
    mirror = tmp_path / "mirror.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(mirror))
    git(mirror, "repack", "-a", "-d", "-q")
    big = git(source, "rev-parse", "HEAD:data/big.bin").strip()
    # Drop the one blob: unpack everything, then delete its loose object.
    for pack in (mirror / "objects" / "pack").glob("*.pack"):
        moved = pack.rename(tmp_path / pack.name)
        pack.with_suffix(".idx").unlink()
        with moved.open("rb") as stream:
            subprocess.run(["git", "unpack-objects", "-q"], cwd=mirror, stdin=stream, check=True)
    (mirror / "objects" / big[:2] / big[2:]).unlink()
    head = git(source, "rev-parse", "HEAD").strip()
    with checkout(Mirror("dev/src", mirror, "bare"), head) as work:
        assert work.absent == ("data/big.bin",)
        assert (work.root / "pkg" / "mod.py").read_text() == "x = 1\n"
        assert os.access(work.root / "tool.sh", os.X_OK) and (work.root / "link.py").is_symlink()
        assert work.git("status", "--porcelain").stdout == b""
        assert work.git("rev-parse", "HEAD").stdout.decode().strip() == work.base_commit
        # It keeps the commit's date, which the environment resolves dependencies as of.
        assert work.git("log", "-1", "--format=%cI").stdout == git(source, "log", "-1", "--format=%cI").encode()
    # The project's released package ships the file: taken from there, and only where its git id matches.
    import zipfile

    from loopwright.bench.blobs import BlobStore

    released = tmp_path / "released"
    released.mkdir()
    with zipfile.ZipFile(released / "src-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("data/big.bin", "large\n" * 1000)
        wheel.writestr("data/other.bin", "large\n" * 999)
    (released / "near-miss.bin").write_text("large\n" * 1001)
    with checkout(Mirror("dev/src", mirror, "bare"), head, blobs=BlobStore(released)) as work:
        assert work.absent == () and (work.root / "data" / "big.bin").read_text() == "large\n" * 1000
        assert work.git("status", "--porcelain").stdout == b""
    (released / "src-1.0-py3-none-any.whl").unlink()
    with checkout(Mirror("dev/src", mirror, "bare"), head, blobs=BlobStore(released)) as work:
        assert work.absent == ("data/big.bin",) and not (work.root / "data" / "big.bin").exists()


def test_ids_pytest_cannot_be_handed_select_their_test_function():
    """pytest before 8 splits a command-line id at every `::`, the parameter's too, and finds nothing to run."""
    from loopwright.bench.testrun import selectors

    ids = ["t.py::test_url[http://[::1]:80]", "t.py::test_url[plain]", "t.py::test_words[two", "t.py::K::test_x[a-b]"]
    assert selectors(ids) == ["t.py::test_url", "t.py::test_url[plain]", "t.py::test_words", "t.py::K::test_x[a-b]"]


def test_ids_with_the_absolute_paths_of_the_machine_that_made_them_are_read_from_the_sandboxs_copy(tmp_path):
    """pydicom's tests are parametrized by data file paths; SWE-bench's ids name the folder its repository was in
    (`[/n/fs/p-swe-bench/temp/tmpqcg17m39/pydicom__pydicom__2.1/pydicom/data/test_files/x.dcm-data0]`)."""
    from loopwright.bench.testrun import run_tests
    from loopwright.sandboxes.local import LocalSandbox
    from loopwright.tools.base import ToolContext

    repo = make_repo(
        tmp_path / "repo",
        {
            "tests/data/a.txt": "ok\n",
            "tests/data/b.txt": "bad\n",
            "tests/test_files.py": (
                "import os\nimport pytest\n\nHERE = os.path.dirname(os.path.abspath(__file__))\n\n\n"
                "@pytest.mark.parametrize('path', [os.path.join(HERE, 'data', n) for n in ('a.txt', 'b.txt')])\n"
                "def test_reads(path):\n    assert open(path).read() == 'ok\\n'\n"
            ),
        },
    )
    made_elsewhere = [f"tests/test_files.py::test_reads[/n/fs/bench/tmpq1/proj__proj__1.0/tests/data/{n}]" for n in ("a.txt", "b.txt")]
    with LocalSandbox(repo) as box:
        outcomes = run_tests(ToolContext(root=repo, sandbox=box, test_command="python -m pytest -q"), made_elsewhere)
    assert outcomes.outcomes == dict(zip(made_elsewhere, ("passed", "failed"))), (outcomes.outcomes, outcomes.note)


def test_ids_with_escaped_control_characters_match_a_pytest_that_puts_the_characters_themselves(tmp_path):
    """pydicom-866: SWE-bench lists `test_unpack[\\x10-output6]`; the pytest 3.5 its commit pins writes the byte
    itself into the id, so the escaped id selected nothing and read nothing."""
    from loopwright.bench.testrun import escaped, read_report, selectors
    from loopwright.tools.testreport import TestReport

    listed = "t.py::test_unpack[\\x10-output6]"
    assert selectors([listed, "t.py::test_unpack[-output0]"]) == ["t.py::test_unpack", "t.py::test_unpack[-output0]"]
    assert escaped("t.py::test_unpack[\x10\t-output6]") == "t.py::test_unpack[\\x10\\t-output6]"
    outcomes = {"t.py::test_unpack[\x10-output6]": "failed", "t.py::test_unpack[-output0]": "passed"}
    report = TestReport(exit_code=1, command="pytest", counts={"passed": 1, "failed": 1}, outcomes=outcomes, collected=2, structured=True)
    assert read_report(report, [listed]).outcomes == {listed: "failed"}
    cut = "t.py::test_unpack[\\x10"  # pydicom-793: cut at the parameter's first space, and escaped
    assert read_report(report, [cut]).outcomes == {cut: "failed"}


def test_an_id_naming_a_file_in_a_cache_outside_the_repository_stands_for_the_one_test_naming_that_file():
    """pydicom-1458: `test_properties[/n/fs/guest/jy1682/.pydicom/data/OBXXXX1A_2frame.dcm-data5]`, a file its tests
    fetched into the home folder; here the pydicom-data package holds it."""
    from loopwright.bench.testrun import read_report
    from loopwright.tools.testreport import TestReport

    listed = "t.py::test_properties[/n/fs/guest/jy1682/.pydicom/data/OBXXXX1A_2frame.dcm-data5]"
    outcomes = {
        "t.py::test_properties[/opt/venv/lib/python3.9/site-packages/data_store/data/OBXXXX1A_2frame.dcm-data5]": "passed",
        "t.py::test_properties[/opt/venv/lib/python3.9/site-packages/data_store/data/OBXXXX1A.dcm-data4]": "failed",
    }
    report = TestReport(exit_code=1, command="pytest", counts={"passed": 1, "failed": 1}, outcomes=outcomes, collected=2, structured=True)
    assert read_report(report, [listed]).outcomes == {listed: "passed"}
    twice = dict(outcomes, **{"t.py::test_properties[/elsewhere/OBXXXX1A_2frame.dcm-data5]": "failed"})
    report = TestReport(exit_code=1, command="pytest", counts={"passed": 1, "failed": 2}, outcomes=twice, collected=3, structured=True)
    assert read_report(report, [listed]).outcomes == {listed: "not run"}  # two candidates: neither is taken
