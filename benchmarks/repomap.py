"""Repo map benchmark: loopwright against aider's RepoMap, on the same trees, in the same run.

    python benchmarks/repomap.py --mirrors DIR [--work DIR] [--aider-venv DIR] [--tasks dev|lite|none]
                                 [--source checkout|sdist] [--repos NAME,...] [--no-aider] [--no-fresh] [--out FILE]

1. Speed on the Django sdist (downloaded from PyPI, made a git repository so both tools see the same
   files): cold build, rebuild after touching one file, and a new query on a warm cache.
2. Localization recall on the SWE-bench tasks in ../shared/data/swebench: the problem statement is the
   query, the files touched by the reference patch are the answer. A task counts for "any" when a gold
   file is in the rendered map, for "all" when every gold file is, at 1k and at 4k tokens. The trees are
   full git checkouts at each task's base commit, from git mirrors of the repositories in DIR
   (`owner+name/repo` or `owner+name` or `name.git`; see ../shared/data/README.md), one work tree per
   repository moved from task to task, with loopwright's map compared byte for byte with a fresh build
   at each task (benchmarks/repomap_recall.py). `--source sdist` maps the latest sdist of each task's
   version series instead (`pip download 'NAME~=X.Y.0'`).

aider-chat pins many packages, so it lives in its own virtual environment (created on first run,
outside the repository) and is driven by benchmarks/repomap_aider_driver.py in a subprocess. Both
tools count tokens with the same four-characters-per-token estimate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import repomap_recall as recall

REPO = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).resolve().with_name("repomap_aider_driver.py")
DATA = REPO.parent / "shared" / "data" / "swebench"
DJANGO = "Django==5.1.4"
AIDER = "aider-chat==0.86.2"
DJANGO_QUERY = "QuerySet.filter() crashes when Q objects are combined with OR and an empty list in __in"
DJANGO_QUERY_2 = "The migration autodetector renames a field twice when a model is renamed at the same time"
TOUCHED = "django/db/models/query.py"
PYPI_NAMES = {
    "pvlib/pvlib-python": "pvlib",
    "pydicom/pydicom": "pydicom",
    "sqlfluff/sqlfluff": "sqlfluff",
    "marshmallow-code/marshmallow": "marshmallow",
    "pylint-dev/astroid": "astroid",
    "pyvista/pyvista": "pyvista",
    "django/django": "Django",
}
BUDGETS = recall.BUDGETS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", type=Path, default=None, help="folder of bare git mirrors of the task repositories (checkout mode)")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "loopwright-bench", help="downloads, trees and aider's venv")
    parser.add_argument("--aider-venv", type=Path, default=None, help="virtual env with aider-chat (default: WORK/aider-venv)")
    parser.add_argument("--tasks", choices=("dev", "lite", "none"), default="dev", help="which SWE-bench task file to score")
    parser.add_argument("--source", choices=("checkout", "sdist"), default="checkout", help="full git checkouts at each base commit, or sdists")
    parser.add_argument("--repos", default="", help="comma-separated repository names to score (default: all)")
    parser.add_argument("--no-aider", action="store_true", help="score loopwright alone")
    parser.add_argument("--no-fresh", action="store_true", help="skip the byte-for-byte comparison with a fresh build")
    parser.add_argument("--no-speed", action="store_true", help="skip the Django speed measurement")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each warm measurement for loopwright (median)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "repomap.md")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    if args.tasks != "none" and args.source == "checkout" and (args.mirrors is None or not args.mirrors.is_dir()):
        raise SystemExit(
            f"the mirrors folder {args.mirrors or '(none given)'} is absent: pass --mirrors DIR with bare git mirrors of the task "
            "repositories (see ../shared/data/README.md), or --source sdist to map release sdists instead"
        )
    aider_python = None if args.no_aider else ensure_aider((args.aider_venv or work / "aider-venv").resolve())

    django, speed = None, []
    if not args.no_speed:
        django = prepare_tree(work, DJANGO)
        with recall.state_dir(work / "state-speed"):
            speed = speed_rows(django, aider_python, args.repeats)
    outcomes, notes = [], []
    if args.tasks != "none":
        outcomes, notes = recall_rows(args, work, aider_python)
    write_report(args, django, speed, outcomes, notes)
    print(args.out.read_text())


# ---------------------------------------------------------------- environment and trees


def ensure_aider(venv: Path) -> Path:
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import aider.repomap"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    print(f"creating {venv} with {AIDER} (once)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", AIDER], check=True)
    return python


def download_sdist(work: Path, requirement: str) -> Path:
    """The sdist for `requirement`, via pip; build isolation is tried off first because it is much faster."""
    folder = work / "sdists" / re.sub(r"[^A-Za-z0-9.]+", "_", requirement)
    found = sorted(folder.glob("*.tar.gz")) + sorted(folder.glob("*.zip"))
    if not found:
        base = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q", "-d", str(folder), requirement]
        if subprocess.run([*base, "--no-build-isolation"], capture_output=True, check=False).returncode != 0:
            subprocess.run(base, check=True, capture_output=True)
        name = re.split(r"[~=<>!]", requirement)[0].lower().replace("-", "_")
        found = [p for p in folder.iterdir() if p.name.lower().replace("-", "_").startswith(name + "_")]
    if not found:
        raise SystemExit(f"pip found no sdist for {requirement}")
    return found[0]


def prepare_tree(work: Path, requirement: str) -> Path:
    """The sdist unpacked and committed to a fresh git repository (so both tools list the same files)."""
    sdist = download_sdist(work, requirement)
    tree = work / "trees" / sdist.name.removesuffix(".tar.gz")
    if not (tree / ".git").is_dir():
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        with tarfile.open(sdist) as archive:
            archive.extractall(tree, filter="data")
        inner = [p for p in tree.iterdir()]
        if len(inner) == 1 and inner[0].is_dir():
            for child in inner[0].iterdir():
                child.rename(tree / child.name)
            inner[0].rmdir()
        git = ["git", "-C", str(tree), "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "add", "-A", "-f"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "sdist"], check=True)
    return tree


def tracked(tree: Path) -> list[str]:
    listing = subprocess.run(["git", "-C", str(tree), "ls-files", "-z"], capture_output=True, check=True).stdout
    return [p for p in listing.decode().split("\0") if p]


def clear_caches(tree: Path) -> None:
    from loopwright.repomap.store import cache_path

    cache_path(tree).unlink(missing_ok=True)  # in the state folder, outside the tree
    shutil.rmtree(tree / recall.AIDER_CACHE, ignore_errors=True)


# ---------------------------------------------------------------- running the two tools


def run_aider(python: Path, tree: Path, jobs: list[dict], fresh: bool) -> dict[str, dict]:
    request = {"root": str(tree), "files": tracked(tree), "fresh": fresh, "jobs": jobs}
    done = subprocess.run([str(python), str(DRIVER)], input=json.dumps(request), capture_output=True, text=True, check=False)
    results = {}
    for line in done.stdout.splitlines():
        if line.startswith('{"label"'):
            row = json.loads(line)
            results[row["label"]] = row
    if done.returncode != 0 or len(results) != len(jobs):
        raise SystemExit(f"aider driver failed on {tree}:\n{done.stderr[-2000:]}")
    return results


def cpu_seconds() -> float:
    """This process and its finished children (the parse workers), user plus system."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed_map(tree: Path, query: str, tokens: int) -> tuple[float, float, str]:
    """loopwright's map of `tree`: wall seconds, CPU seconds, text."""
    from loopwright.repomap import render_map

    start, cpu = time.perf_counter(), cpu_seconds()
    text = render_map(tree, query, tokens)
    return time.perf_counter() - start, cpu_seconds() - cpu, text


def speed_rows(tree: Path, aider_python: Path | None, repeats: int) -> list[tuple[str, tuple[float, float], tuple[float, float] | None]]:
    """(step, (wall, cpu) for loopwright, (wall, cpu) for aider or None); loopwright's figures are medians."""
    colds = []
    for _ in range(3):
        clear_caches(tree)
        colds.append(timed_map(tree, DJANGO_QUERY, 1024))
    touched, edited, new_query = [], [], []
    target = tree / TOUCHED
    original = target.read_bytes()
    for n in range(repeats):
        os.utime(target)
        touched.append(timed_map(tree, DJANGO_QUERY, 1024))
        target.write_bytes(original + f"\n\ndef benchmark_edit_{n}():\n    return {n}\n".encode())
        edited.append(timed_map(tree, DJANGO_QUERY, 1024))
        target.write_bytes(original)
        timed_map(tree, DJANGO_QUERY, 1024)
        new_query.append(timed_map(tree, f"{DJANGO_QUERY_2} ({n})", 1024))
    aider = {}
    if aider_python is not None:
        aider = run_aider(
            aider_python,
            tree,
            [
                {"label": "cold", "query": DJANGO_QUERY, "tokens": 1024, "touch": None},
                {"label": "touched", "query": DJANGO_QUERY, "tokens": 1024, "touch": TOUCHED},
                {"label": "new_query", "query": DJANGO_QUERY_2, "tokens": 1024, "touch": None},
            ],
            fresh=True,
        )
    clear_caches(tree)

    def median(runs: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)

    def theirs(label: str) -> tuple[float, float] | None:
        return (aider[label]["seconds"], aider[label]["cpu"]) if aider else None

    return [
        ("cold build + map", median(colds), theirs("cold")),
        ("rebuild after touching one file + map", median(touched), theirs("touched")),
        ("rebuild after editing one file + map", median(edited), theirs("touched")),
        ("new query on warm cache", median(new_query), theirs("new_query")),
    ]


# ---------------------------------------------------------------- localization recall


def recall_rows(args, work: Path, aider_python: Path | None) -> tuple[list[recall.Outcome], list[str]]:
    data = DATA / ("SWE-bench_Lite_dev.jsonl" if args.tasks == "lite" else "SWE-bench_dev.jsonl")
    if not data.is_file():
        return [], [f"skipped: {data} is absent"]
    tasks = recall.load_tasks(data)
    if args.repos:
        wanted = set(args.repos.split(","))
        tasks = [task for task in tasks if task["repo"] in wanted or task["repo"].split("/")[1] in wanted]
    aider = None if aider_python is None else recall.Aider(aider_python, DRIVER)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    try:
        if args.source == "checkout":
            return recall.checkout_recall(tasks, args.mirrors.resolve(), work, aider, not args.no_fresh, log)
        trees, notes = recall.sdist_trees(tasks, lambda requirement: prepare_tree(work, requirement), PYPI_NAMES)
        return recall.sdist_recall(trees, work, aider, log), notes
    finally:
        if aider is not None:
            aider.close()


# ---------------------------------------------------------------- report


def write_report(args, django: Path | None, speed, outcomes: list[recall.Outcome], notes: list[str]) -> None:
    import numpy
    import tree_sitter

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Repo map benchmark",
        "",
        f"Command: `{command_line(args)}`  ",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  ",
        (
            f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, load average at the end {load:.1f} "
            "(shared machine: absolute times vary, the two tools ran back to back on the same tree)  "
        ),
        f"Versions: {AIDER}, tree-sitter {tree_sitter.__version__ if hasattr(tree_sitter, '__version__') else '?'}, numpy {numpy.__version__}",
    ]
    if django is not None:
        lines += speed_section(args, django, speed)
    if outcomes:
        lines += recall_section(args, outcomes, notes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def command_line(args) -> str:
    parts = ["python benchmarks/repomap.py"]
    if args.tasks != "none" and args.source == "checkout":
        parts.append(f"--mirrors {args.mirrors}")
    parts += [f"--tasks {args.tasks}", f"--source {args.source}", f"--repeats {args.repeats}"]
    parts += [flag for flag, on in (("--no-aider", args.no_aider), ("--no-fresh", args.no_fresh), ("--no-speed", args.no_speed)) if on]
    if args.repos:
        parts.append(f"--repos {args.repos}")
    return " ".join(parts)


def speed_section(args, django: Path, speed) -> list[str]:
    lines = [
        "",
        f"## Speed on {django.name} ({len(tracked(django))} files)",
        "",
        (
            "Budget 1024 tokens. loopwright: medians of 3 cold builds and of "
            f"{args.repeats} runs of each warm step; each call rescans the tree with git, loads the cache from disk and renders the map. "
            "aider: one run each, `refresh=\"always\"` (its `auto` mode would serve a stale map after a change); "
            "aider re-parses on an mtime change, so its touched and edited rows are the same measurement."
        ),
        "",
        "Wall time is what a user waits; CPU time (user + system, parse workers included) is steadier on a shared machine.",
        "",
        "| step | loopwright wall (s) | aider wall (s) | speed-up | loopwright CPU (s) | aider CPU (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, (ours, ours_cpu), theirs in speed:
        if theirs is None:
            lines.append(f"| {name} | {ours:.3f} | - | - | {ours_cpu:.2f} | - |")
        else:
            lines.append(f"| {name} | {ours:.3f} | {theirs[0]:.3f} | {theirs[0] / ours:.1f}x | {ours_cpu:.2f} | {theirs[1]:.2f} |")
    return lines


def recall_section(args, outcomes: list[recall.Outcome], notes: list[str]) -> list[str]:
    tools = ["loopwright"] if args.no_aider else ["loopwright", "aider"]
    source = (
        "full git checkouts at each task's base commit, one work tree per repository moved from task to task (oldest first)"
        if args.source == "checkout"
        else "the latest sdist of each task's version series"
    )
    lines = [
        "",
        f"## Localization recall ({'SWE-bench Lite dev' if args.tasks == 'lite' else 'SWE-bench dev'}, {len(outcomes)} tasks)",
        "",
        f"Trees: {source}. Query: the problem statement. **any**: a file changed by the reference patch is listed in the map; "
        "**all**: every file it changes is (a file the patch creates never can be).",
        "",
        *recall.table(outcomes, tools),
    ]
    compared = [(o, budget) for o in outcomes for budget, same in o.same_as_fresh.items()]
    if compared:
        differing = [f"{o.instance_id}@{budget}" for o, budget in compared if not o.same_as_fresh[budget]]
        lines += [
            "",
            f"**Incremental equals fresh**: {len(compared) - len(differing)} of {len(compared)} maps made with the cache carried over "
            "from the previous task's checkout were byte for byte the map of a build from nothing"
            + (f"; differing: {', '.join(differing)}" if differing else "."),
        ]
    updates = sorted(o.update_s for o in outcomes)
    warms = sorted(o.warm_s for o in outcomes)
    if updates:
        lines += [
            "",
            f"loopwright call times over the tasks (median / max): first map after the checkout, index updated "
            f"{statistics.median(updates):.2f} / {updates[-1]:.2f} s; second map, warm {statistics.median(warms):.2f} / {warms[-1]:.2f} s.",
        ]
    present = sum(bool(o.present) for o in outcomes)
    lines += ["", "### Misses", "", f"{present} of {len(outcomes)} tasks have a gold file at the base commit.", "", *recall.misses(outcomes)]
    lines += ["Trees:", ""] + [f"- {note}" for note in notes]
    return lines


if __name__ == "__main__":
    main()
