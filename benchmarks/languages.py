"""Go, Rust, C/C++, JavaScript and Java in loopwright's sandbox: every exercise of the aider polyglot benchmark through
`loopwright bench --oracle` (the stub's tests must fail, the reference's pass), and `loopwright env check` on
well-known projects at their newest commit.

    python benchmarks/languages.py MIRRORS [--languages go,rust,cpp,javascript,java] [--projects owner/name ...] [--out DIR]

MIRRORS is a folder of git mirrors laid out as `owner+name/repo`; the polyglot benchmark is read from
`Aider-AI+polyglot-benchmark/repo` at run time (its exercises are written to a temporary folder, never into this
repository). The results go to DIR (default bench-languages/): each language's exercises.md/json and logs, and
projects.md; benchmarks/languages.md is written from them.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POLYGLOT = "Aider-AI+polyglot-benchmark"
LANGUAGES = ("go", "rust", "cpp", "javascript", "java")
PROJECTS = (
    "google/uuid", "pkg/errors", "spf13/pflag", "google/go-cmp", "gorilla/mux",
    "rust-lang/cfg-if", "dtolnay/itoa", "BurntSushi/memchr", "matklad/once_cell", "unicode-rs/unicode-width",
    "dtolnay/semver", "seanmonstar/httparse", "BurntSushi/byteorder", "BurntSushi/termcolor", "BurntSushi/walkdir",
    "fmtlib/fmt", "google/googletest", "jarro2783/cxxopts", "madler/zlib", "leethomason/tinyxml2",
    "unjs/defu", "mattphillips/deep-object-diff",
    "stleary/JSON-java", "fusesource/jansi", "ec4j/ec4j", "apache/commons-cli", "jhy/jsoup", "google/gson",
)
_SUITE = re.compile(r"^suite: (.*) -> (.*)$", re.M)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mirrors", type=Path)
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    parser.add_argument("--projects", nargs="*", default=list(PROJECTS))
    parser.add_argument("--out", type=Path, default=Path("bench-languages"))
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for one project's env check")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for language in [name for name in args.languages.split(",") if name]:
        run_exercises(args.mirrors / POLYGLOT / "repo", language, out / language)
    if args.projects:
        check_projects(args.mirrors, args.projects, out / "projects.json", args.timeout)
    return 0


def run_exercises(mirror: Path, language: str, out: Path) -> None:
    """The language's exercises at the mirror's newest commit, through `loopwright bench --oracle`."""
    with tempfile.TemporaryDirectory(prefix="loopwright-polyglot-") as folder:
        archive = subprocess.run(["git", "--git-dir", str(mirror), "archive", "HEAD", f"{language}/exercises/practice"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        started = time.monotonic()
        subprocess.run(["loopwright", "bench", f"{folder}/{language}", "--oracle", "--out", str(out)], check=False)
        (out / "wall.json").write_text(json.dumps({"wall_s": round(time.monotonic() - started, 1)}) + "\n")


def check_projects(mirrors: Path, projects: list[str], out: Path, timeout: float) -> None:
    rows = []
    for project in projects:
        mirror = mirrors / project.replace("/", "+") / "repo"
        with tempfile.TemporaryDirectory(prefix="loopwright-project-") as folder:
            work = Path(folder) / project.split("/")[1]
            cloned = subprocess.run(["git", "clone", "-q", str(mirror), str(work)], capture_output=True, text=True)
            if cloned.returncode != 0:
                # a mirror missing some blobs: recorded, not run
                rows.append({"project": project, "head": "", "usable": False, "cold_s": 0, "cached_s": 0, "suite": "", "command": "",
                             "problems": [f"not run: the mirror's checkout failed ({cloned.stderr.strip().splitlines()[0][:200] if cloned.stderr.strip() else 'no output'})"],
                             "setup_failures": []})
                print(json.dumps(rows[-1]), flush=True)
                continue
            head = subprocess.run(["git", "-C", str(work), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
            started = time.monotonic()
            try:
                done = subprocess.run(["loopwright", "env", "check", "--repo", str(work), "--fresh"], capture_output=True, text=True, timeout=timeout)
                output, code = done.stdout + done.stderr, done.returncode
            except subprocess.TimeoutExpired:
                output, code = "timed out", 124
            took = time.monotonic() - started
            cached = time.monotonic()
            subprocess.run(["loopwright", "env", "check", "--repo", str(work)], capture_output=True, text=True, timeout=timeout)
            suite = _SUITE.search(output)
            problems = [line[len("problem: "):] for line in output.splitlines() if line.startswith("problem: ")]
            failed = [line[len("failed: "):] for line in output.splitlines() if line.startswith("failed: ")]
            rows.append({
                "project": project, "head": head, "usable": code == 0, "cold_s": round(took, 1), "cached_s": round(time.monotonic() - cached, 1),
                "suite": suite.group(2) if suite else "", "command": suite.group(1) if suite else "", "problems": problems, "setup_failures": failed,
            })
            print(json.dumps(rows[-1]), flush=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
