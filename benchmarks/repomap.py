"""Repo map benchmark: loopwright against aider's RepoMap, on the same trees, in the same run.

    python benchmarks/repomap.py [--work DIR] [--aider-venv DIR] [--tasks lite|full|none] [--out FILE]

1. Speed on the Django sdist (downloaded from PyPI, made a git repository so both tools see the same
   files): cold build, rebuild after touching one file, and a new query on a warm cache.
2. Localization recall on the SWE-bench tasks in ../shared/data/swebench: the problem statement is the
   query, the files touched by the reference patch are the answer, the tree is the latest sdist of the
   task's version series (`pip download 'NAME~=X.Y.0'`). A task counts as found when a gold file is
   in the rendered map, at 1k and at 4k tokens.

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

REPO = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).resolve().with_name("repomap_aider_driver.py")
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
BUDGETS = (1024, 4096)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "loopwright-bench", help="downloads, trees and aider's venv")
    parser.add_argument("--aider-venv", type=Path, default=None, help="virtual env with aider-chat (default: WORK/aider-venv)")
    parser.add_argument("--tasks", choices=("lite", "full", "none"), default="lite", help="which SWE-bench task file to score")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each warm measurement for loopwright (median)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "repomap.md")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    venv = (args.aider_venv or work / "aider-venv").resolve()
    aider_python = ensure_aider(venv)

    django = prepare_tree(work, DJANGO)
    speed = speed_rows(django, aider_python, args.repeats)
    recall, task_notes = ([], [])
    if args.tasks != "none":
        recall, task_notes = recall_rows(work, aider_python, args.tasks)
    write_report(args, django, speed, recall, task_notes)
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
    shutil.rmtree(tree / ".loopwright", ignore_errors=True)
    shutil.rmtree(tree / ".aider.tags.cache.v4", ignore_errors=True)


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


def speed_rows(tree: Path, aider_python: Path, repeats: int) -> list[tuple[str, tuple[float, float], tuple[float, float]]]:
    """(step, (wall, cpu) for loopwright, (wall, cpu) for aider); loopwright's figures are medians."""
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

    def theirs(label: str) -> tuple[float, float]:
        return aider[label]["seconds"], aider[label]["cpu"]

    return [
        ("cold build + map", median(colds), theirs("cold")),
        ("rebuild after touching one file + map", median(touched), theirs("touched")),
        ("rebuild after editing one file + map", median(edited), theirs("touched")),
        ("new query on warm cache", median(new_query), theirs("new_query")),
    ]


# ---------------------------------------------------------------- localization recall


def gold_files(patch: str) -> list[str]:
    return sorted(set(re.findall(r"^diff --git a/(\S+) b/", patch, flags=re.MULTILINE)))


def map_files(text: str) -> set[str]:
    """File names a map lists: header lines `path:` and bare path lines, for either tool's format."""
    names = set()
    for line in text.splitlines():
        line = line.strip()
        if line and not line[0] in "│⋮" and not line[0].isdigit() and " " not in line:
            names.add(line.removesuffix(":"))
    return names


def recall_rows(work: Path, aider_python: Path, which: str) -> tuple[list[tuple[str, int, str, float, float]], list[str]]:
    data = REPO.parent / "shared" / "data" / "swebench" / ("SWE-bench_Lite_dev.jsonl" if which == "lite" else "SWE-bench_dev.jsonl")
    if not data.is_file():
        return [], [f"skipped: {data.relative_to(REPO.parent)} is absent"]
    tasks = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    groups: dict[tuple[str, str], list[dict]] = {}
    for task in tasks:
        groups.setdefault((task["repo"], task["version"]), []).append(task)
    hits = {(tool, budget): 0 for tool in ("loopwright", "aider") for budget in BUDGETS}
    notes, present = [], 0
    for (repo, version), group in sorted(groups.items()):
        requirement = f"{PYPI_NAMES[repo]}~={version}.0"
        try:
            tree = prepare_tree(work, requirement)
        except (SystemExit, subprocess.CalledProcessError) as exc:
            notes.append(f"{repo} {version}: no sdist ({exc}); its {len(group)} tasks count as misses")
            continue
        notes.append(f"{repo} {version}: {tree.name} ({len(group)} tasks)")
        clear_caches(tree)
        jobs = [
            {"label": f"{task['instance_id']}@{budget}", "query": task["problem_statement"], "tokens": budget, "touch": None}
            for task in group
            for budget in BUDGETS
        ]
        aider = run_aider(aider_python, tree, jobs, fresh=True)
        for task in group:
            gold = gold_files(task["patch"])
            present += any((tree / g).is_file() for g in gold)
            for budget in BUDGETS:
                ours = map_files(timed_map(tree, task["problem_statement"], budget)[2])
                theirs = map_files(aider[f"{task['instance_id']}@{budget}"]["map"])
                hits["loopwright", budget] += any(g in ours for g in gold)
                hits["aider", budget] += any(g in theirs for g in gold)
        clear_caches(tree)
    total = len(tasks)
    notes.append(f"{present} of {total} tasks have a gold file in the sdist tree (the others cannot be found by either tool)")
    rows = [(tool, budget, f"{hits[tool, budget]}/{total}", hits[tool, budget] / total, 0.0) for tool in ("loopwright", "aider") for budget in BUDGETS]
    return rows, notes


# ---------------------------------------------------------------- report


def write_report(args, django: Path, speed, recall, notes) -> None:
    import numpy
    import tree_sitter

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Repo map benchmark",
        "",
        f"Command: `python benchmarks/repomap.py --tasks {args.tasks} --repeats {args.repeats}`  ",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  ",
        (
            f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, load average at the end {load:.1f} "
            "(shared machine: absolute times vary, the two tools ran back to back on the same tree)  "
        ),
        f"Versions: {AIDER}, tree-sitter {tree_sitter.__version__ if hasattr(tree_sitter, '__version__') else '?'}, numpy {numpy.__version__}",
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
    for name, (ours, ours_cpu), (theirs, theirs_cpu) in speed:
        lines.append(f"| {name} | {ours:.3f} | {theirs:.3f} | {theirs / ours:.1f}x | {ours_cpu:.2f} | {theirs_cpu:.2f} |")
    if recall:
        lines += [
            "",
            f"## Localization recall ({'SWE-bench Lite dev' if args.tasks == 'lite' else 'SWE-bench dev'}, {recall[0][2].split('/')[1]} tasks)",
            "",
            "Query: the problem statement. Found: a file changed by the reference patch is listed in the map. "
            + ("The Lite subset is the default: `--tasks full` scores all dev tasks but downloads about 60 sdists." if args.tasks == "lite" else ""),
            "",
            "| tool | 1k tokens | 4k tokens |",
            "| --- | ---: | ---: |",
        ]
        for tool in ("loopwright", "aider"):
            cells = {budget: f"{found} ({share:.0%})" for name, budget, found, share, _ in recall if name == tool}
            lines.append(f"| {tool} | {cells[1024]} | {cells[4096]} |")
        lines += ["", "Trees (latest release of each task's version series):", ""] + [f"- {note}" for note in notes]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
