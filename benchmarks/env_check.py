"""Do well-known Python projects' suites run out of the box? `loopwright env check` on each at its newest commit.

    python benchmarks/env_check.py MIRRORS [--projects owner/name ...] [--timeout S] [--out FILE]

MIRRORS is a folder of git mirrors (`owner+name/repo`, as the mirrors of this benchmark's projects are laid out).
Each project is cloned at its newest commit into a temporary folder, and `loopwright env check` builds its
environment (cold: `--fresh`), collects and runs its suite in the sandbox, and says whether the tests ran
against the repository's own code. A second `env check` times the cached environment. The table, with the
command that produced it, goes to benchmarks/results/env_check.md.
"""

from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, UTC
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROJECTS = (
    "pallets/flask", "pallets/click", "pallets/markupsafe", "pallets/itsdangerous", "psf/requests", "python-attrs/attrs",
    "pytest-dev/pluggy", "pytest-dev/iniconfig", "pypa/packaging", "more-itertools/more-itertools", "pytoolz/toolz",
    "hukkin/tomli", "marshmallow-code/marshmallow", "pydicom/pydicom",
)
_SUITE = re.compile(r"^suite: (.*) -> (.*)$", re.M)
_COLLECTED = re.compile(r"^collected: (\d+) tests", re.M)
_PYTHON = re.compile(r"^Python (\S+):", re.M)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mirrors", type=Path, help="folder of git mirrors laid out as owner+name/repo")
    parser.add_argument("--projects", nargs="+", default=list(PROJECTS))
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per env check")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "env_check.md")
    args = parser.parse_args()
    if not args.mirrors.is_dir():
        print(f"env_check: {args.mirrors}: no such folder; give the folder of git mirrors (owner+name/repo)", file=sys.stderr)
        return 2
    rows = []
    for project in args.projects:
        mirror = args.mirrors / project.replace("/", "+") / "repo"
        if not mirror.is_dir():
            rows.append((project, "-", "-", "-", "-", "-", "-", f"no mirror at {mirror}"))
            continue
        rows.append(check(project, mirror, args.timeout))
        print(" | ".join(rows[-1]), flush=True)
    write(args.out, rows, args)
    return 0


def check(project: str, mirror: Path, timeout: float) -> tuple[str, ...]:
    with tempfile.TemporaryDirectory(prefix="loopwright-envcheck-") as folder:
        work = Path(folder) / project.partition("/")[2]
        subprocess.run(["git", "clone", "--quiet", str(mirror), str(work)], check=True, capture_output=True)
        head = subprocess.run(["git", "-C", str(work), "log", "-1", "--format=%h %cs"], capture_output=True, text=True).stdout.strip()
        cold, output, code = _env_check(work, timeout, fresh=True)
        warm, _, _ = _env_check(work, timeout, fresh=False)
    suite = _SUITE.search(output)
    collected = _COLLECTED.search(output)
    python = _PYTHON.search(output)
    usable = "usable: yes" in output
    verdict = "yes" if usable else next((line.removeprefix("usable: ") for line in output.splitlines() if line.startswith("usable:")), f"exit {code}")
    return (
        project,
        head,
        python.group(1) if python else "-",
        f"{cold:.0f} s",
        f"{warm:.1f} s",
        collected.group(1) if collected else "-",
        suite.group(2) if suite else "-",
        verdict,
    )


def _env_check(work: Path, timeout: float, fresh: bool) -> tuple[float, str, int]:
    started = time.monotonic()
    command = [sys.executable, "-m", "loopwright", "env", "check", "--repo", str(work), *(["--fresh"] if fresh else [])]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        return time.monotonic() - started, done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as expired:
        out = (expired.stdout or b"").decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
        return time.monotonic() - started, out + f"\nusable: no, timed out after {timeout:.0f}s", 124


def write(path: Path, rows: list[tuple[str, ...]], args: argparse.Namespace) -> None:
    usable = sum(1 for row in rows if row[-1] == "yes")
    shown = " ".join(["python benchmarks/env_check.py MIRRORS", *(["--projects", *args.projects] if list(args.projects) != list(PROJECTS) else [])])
    lines = [
        "# `loopwright env check` on well-known projects at their newest commit",
        "",
        f"Command: `{shown}`  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, 2 CPUs, shared with other work (times are wall clock)",
        "",
        f"**{usable} of {len(rows)} projects: the suite ran against the repository's own code.** *setup cold* builds the",
        "environment anew (`--fresh`) and runs the suite; *cached* is a second check on the cached environment (suite included).",
        "",
        "| project | commit | Python | setup cold + suite | cached + suite | collected | suite result | usable |",
        "|---|---|---|---:|---:|---:|---|---|",
        *(f"| {' | '.join(cell.replace('|', '/') for cell in row)} |" for row in rows),
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
