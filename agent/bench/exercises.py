"""Exercise-style tasks: a directory holding a stub, its tests and a reference solution, in the layout of the
Exercism tracks the aider polyglot benchmark is made of (`<language>/exercises/practice/<name>/`, with
`.meta/config.json` naming `files.solution`, `files.test` and `files.example`, the reference).

Exercism disables all tests but the first so that a student meets them one at a time; a benchmark runs all of
them, per language:

- Go: nothing is disabled (`go test -json ./...`);
- Rust: tests are marked `#[ignore]`; libtest runs them too with `-- --include-ignored`;
- C++: tests past the first sit behind the `EXERCISM_RUN_ALL_TESTS` define, which the exercise's CMakeLists.txt
  sets when configured with `-DEXERCISM_RUN_ALL_TESTS=ON`; the test binary then writes Catch's JUnit report
  (the bundled Catch is built once per session and reused by the second run);
- JavaScript: tests past the first are `xtest(...)`; as aider's benchmark does, the work tree's copy of each
  test file has them as `test(...)` (the mirror is never touched). The exercises' package.json files differ only
  in their names, so they share one environment (jest and babel installed once, kept for the next exercise);
  Jest's JSON report is read back;
- Java: tests past the first are `@Disabled`; the work tree's copy of each test file has no `@Disabled`. The
  exercises build with Gradle from Maven Central through their wrapper; they run the way the Java toolchain runs a
  project without a usable Gradle (toolchains/java.py: javac and the JUnit console launcher, the image's JUnit 5
  and AssertJ, and the dependencies the build names from Debian's Maven repository), with no setup phase. A
  reference in several files (its classes one a file) goes in file by file next to the solution file.

The test files are otherwise never edited. The reference goes in through loopwright's write tool, as a model would write
it: each example file over the solution file with the same extension (`.meta/example.rs` -> `src/lib.rs`), and
`.meta/Cargo-example.toml` over Cargo.toml where the reference needs other crates.

Public: `Exercise`, `ExerciseError`, `load_exercises`, `LANGUAGES`.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loopwright.sandboxes import hostfs
from loopwright.sandboxes.toolchains.java import javac_route
from loopwright.sandboxes.toolchains.node import REPORT_PATH

CONFIG = ".meta/config.json"
CONFIG_BYTES = 1 << 20
SOURCE_BYTES = 4 << 20
HIDDEN = (".meta", ".approaches", ".articles", ".exercism")
"""Left out of the work tree: the reference, and write-ups of how to solve it."""
CPP_BUILD = "/tmp/loopwright-build"
_XTEST = re.compile(r"\bxtest\(")
_GO_TEST = re.compile(r"^func Test\w*\(t \*testing\.T\)", re.M)
_DISABLED = re.compile(r"^[ \t]*@Disabled(?:\([^)\n]*\))?[ \t]*\n?", re.M)


@dataclass(frozen=True)
class Track:
    """How a language's exercises run."""

    command: Callable[[Exercise], str]
    """The command that runs all of an exercise's tests (see the module's docstring)."""
    setup_phase: bool = True
    """Whether the toolchain's setup phase runs (C++ exercises bundle their test framework and have nothing to fetch)."""
    enable: Callable[[str], str] | None = None
    """A test file's text -> the same with every test enabled, for the work tree's copy; None to leave it as it is."""
    shared_environment: bool = False
    """Whether the exercises share one environment image (kept between them) rather than each making its own."""


def _cpp(exercise: Exercise) -> str:
    name = exercise.name
    # The exercise's CMakeLists.txt names its targets after its folder, which is /workspace in the sandbox: it is
    # configured through a link named like the exercise.
    return (
        f"ln -sfn /workspace /tmp/{name} && cmake -S /tmp/{name} -B {CPP_BUILD} -DEXERCISM_RUN_ALL_TESTS=ON"
        f" && cmake --build {CPP_BUILD} --target {name}"
        f' && {CPP_BUILD}/{name} -r junit -o "${{LOOPWRIGHT_JUNIT:-/tmp/{name}-junit.xml}}"'
    )


LANGUAGES = {
    "go": Track(lambda exercise: "go test -json ./..."),
    "rust": Track(lambda exercise: "cargo test --no-fail-fast -- --include-ignored"),
    "cpp": Track(_cpp, setup_phase=False),
    "javascript": Track(
        lambda exercise: f"npm test -- --json --outputFile={REPORT_PATH}",
        enable=lambda text: _XTEST.sub("test(", text),
        shared_environment=True,
    ),
    "java": Track(lambda exercise: javac_route(exercise.path)[0], setup_phase=False, enable=lambda text: _DISABLED.sub("", text)),
}


class ExerciseError(Exception):
    """A directory that is not an exercise loopwright can run; the message is one line."""


@dataclass(frozen=True)
class Exercise:
    language: str
    name: str
    path: Path
    solution: tuple[str, ...]
    tests: tuple[str, ...]
    example: tuple[str, ...]

    @property
    def instance_id(self) -> str:
        return f"{self.language}/{self.name}"

    @property
    def test_command(self) -> str:
        return LANGUAGES[self.language].command(self)

    @property
    def setup_phase(self) -> bool:
        return LANGUAGES[self.language].setup_phase

    @property
    def shared_environment(self) -> bool:
        return LANGUAGES[self.language].shared_environment

    @property
    def instructions(self) -> str:
        parts = [hostfs.read_text(self.path, self.path / ".docs" / name, SOURCE_BYTES) for name in ("introduction.md", "instructions.md", "instructions.append.md")]
        return "\n\n".join(part.strip() for part in parts if part)

    def copy_to(self, work: Path) -> None:
        """The stub and its tests, without the reference, into the empty folder `work`."""
        shutil.copytree(self.path, work, symlinks=True, ignore=lambda folder, names: [n for n in names if Path(folder) == self.path and n in HIDDEN], dirs_exist_ok=True)
        enable = LANGUAGES[self.language].enable
        for name in self.tests:
            target = work / name
            if enable is not None and target.is_file() and not target.is_symlink():
                target.write_text(enable(self._read(name)), encoding="utf-8")

    def reference(self) -> dict[str, str]:
        """Solution path -> the reference's content for it."""
        written: dict[str, str] = {}
        for example in self.example:
            suffix = Path(example).suffix
            targets = [s for s in self.solution if Path(s).suffix == suffix]
            if self.language == "java" and targets:
                # one class a file: each of the reference's files goes beside the solution under its own name
                targets = [(Path(targets[0]).parent / Path(example).name).as_posix()]
            if self.language == "go" and _GO_TEST.search(self._read(example)):
                targets = list(self.tests)  # the exercise asks for a test suite (counter): its reference is one
            if not targets:
                raise ExerciseError(f"{self.instance_id}: no solution file for the reference's {example}")
            written[targets[0]] = self._read(example)
        if (self.path / ".meta" / "Cargo-example.toml").is_file():
            written["Cargo.toml"] = self._read(".meta/Cargo-example.toml")
        return written

    def _read(self, name: str) -> str:
        text = hostfs.read_text(self.path, self.path / name, SOURCE_BYTES)
        if text is None:
            raise ExerciseError(f"{self.instance_id}: {name} cannot be read")
        return text


def load_exercises(folder: Path, languages: list[str] | None = None) -> list[Exercise]:
    """Every exercise under `folder`: one exercise, a track's `exercises/practice`, or the benchmark's root."""
    folder = folder.resolve()
    if not folder.is_dir():
        raise ExerciseError(f"{folder}: no such directory")
    found = [path.parent.parent for path in sorted(folder.rglob("config.json")) if path.parent.name == ".meta" and (path.parent.parent / CONFIG).is_file()]
    found = [path for path in found if ".meta" not in path.relative_to(folder).parts]
    if not found:
        raise ExerciseError(f"{folder}: no exercises (folders with {CONFIG})")
    exercises = []
    for path in found:
        language = _language(path, folder)
        if language is None or (languages and language not in languages):
            continue
        exercises.append(_exercise(path, language))
    if not exercises:
        known = ", ".join(LANGUAGES)
        raise ExerciseError(f"{folder}: no exercise in a language loopwright runs ({known})")
    return exercises


def _language(path: Path, top: Path) -> str | None:
    """The track's folder name (`go/exercises/practice/x`), else the exercise's own files."""
    for part in path.relative_to(top.parent).parts:
        if part in LANGUAGES:
            return part
    if (path / "go.mod").is_file():
        return "go"
    if (path / "Cargo.toml").is_file():
        return "rust"
    if (path / "CMakeLists.txt").is_file():
        return "cpp"
    if (path / "package.json").is_file():
        return "javascript"
    if any((path / name).is_file() for name in ("build.gradle", "build.gradle.kts", "pom.xml")):
        return "java"
    return None


def _exercise(path: Path, language: str) -> Exercise:
    text = hostfs.read_text(path, path / CONFIG, CONFIG_BYTES)
    try:
        files = json.loads(text or "").get("files", {})
        solution, tests, example = (tuple(str(name) for name in files[key]) for key in ("solution", "test", "example"))
    except (ValueError, AttributeError, KeyError, TypeError):
        raise ExerciseError(f"{path}: {CONFIG} does not name files.solution, files.test and files.example") from None
    for name in (*solution, *tests, *example):
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ExerciseError(f"{path}: {CONFIG} names a file outside the exercise ({name})")
    return Exercise(language=language, name=path.name, path=path, solution=solution, tests=tests, example=example)
